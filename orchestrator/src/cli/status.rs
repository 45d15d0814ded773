//! `esteira status`.

use esteira_core::Registry;

use super::remote::open_layers;
use super::{Global, load_dag, print_json, table};
use crate::plan::{Action, PlanEntry, plan};
use crate::{OrchestratorError, exit};

/// Options of `esteira status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    select: super::select::Select,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let dag = load_dag(g, registry)?;
    let store = open_layers(g, &dag.pipeline, &a.select.remote)?;
    let entries = plan(&dag, store.as_ref(), &super::select::options(g, &a.select, 0.0))?;
    if a.json {
        print_json(&entries)?;
    } else {
        super::out!("{}", render(&entries))?;
    }
    Ok(exit::OK)
}

/// The plan as a table plus one line per reason.
pub fn render(entries: &[PlanEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let action = match e.action {
                Action::Cached => "cached",
                Action::Run => "will run",
                Action::Revalidate => "revalidate",
                Action::NotSelected => "not selected",
            };
            vec![e.stage.clone(), e.kind.clone(), action.to_owned(), e.reasons.join("; ")]
        })
        .collect();
    let mut out = table::render(&["STAGE", "KIND", "ACTION", "WHY"], &rows);
    let n = entries.iter().filter(|e| e.action == Action::Run).count();
    out.push_str(&format!("{n} stage(s) would run\n"));
    out
}
