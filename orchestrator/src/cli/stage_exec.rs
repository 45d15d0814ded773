//! `esteira stage-exec SPEC` (hidden): one stage execution inside a Slurm job, written by
//! `run --executor slurm` (`slurm_jobs.rs`). Exit 0 when the stage succeeded, 1 when it failed
//! (its error is in `result.json` and on stderr), another code when the job could not start it.

use std::path::PathBuf;

use esteira_core::Registry;

use crate::{OrchestratorError, exit};

/// Options of `esteira stage-exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job's `spec.json`.
    spec: PathBuf,
}

pub(super) fn exec(registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let ok = crate::slurm_jobs::run_job(&a.spec, registry)?;
    Ok(if ok { exit::OK } else { exit::FAILED })
}
