//! `esteira dag`.

use esteira_core::Registry;

use super::{Global, load_dag};
use crate::dag::DagFormat;
use crate::{OrchestratorError, exit};

/// Options of `esteira dag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: DagFormat,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let dag = load_dag(g, registry)?;
    super::out!("{}", dag.render(a.format))?;
    Ok(exit::OK)
}
