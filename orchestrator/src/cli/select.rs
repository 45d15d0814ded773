//! Which stages a run executes and how, shared by `run` and `status` (both depend on this
//! module, not on each other).

use std::collections::BTreeSet;
use std::time::Duration;

use super::remote::RemoteArgs;
use super::{Global, command_line};
use crate::execute::Executor;
use crate::runner::RunOptions;

/// Which stages run, shared by `run` and `status`.
#[derive(Debug, clap::Args)]
pub struct Select {
    /// Stages executing at once (default: the number of cores).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Re-execute this stage even if cached (repeatable).
    #[arg(long, value_name = "STAGE")]
    force: Vec<String>,
    /// Re-execute every stage.
    #[arg(long)]
    force_all: bool,
    /// Run this stage and everything upstream of it only.
    #[arg(long, value_name = "STAGE", conflicts_with = "only")]
    pub(super) until: Option<String>,
    /// Run this stage only; its inputs must be in the cache.
    #[arg(long, value_name = "STAGE")]
    pub(super) only: Option<String>,
    /// No network: fetch stages reuse their last download.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    pub(super) remote: RemoteArgs,
}

pub(super) fn options(g: &Global, s: &Select, wait: f64) -> RunOptions {
    RunOptions {
        // 0: the number of cores, looked up only if something executes.
        jobs: s.jobs.unwrap_or(0),
        force: s.force.iter().cloned().collect::<BTreeSet<_>>(),
        force_all: s.force_all,
        until: s.until.clone(),
        only: s.only.clone(),
        offline: s.offline,
        command: command_line(),
        lock_wait: Duration::from_secs_f64(wait.max(0.0)),
        executor: Executor::Local,
        set: g.set.clone(),
        name: None,
        sweep: None,
    }
}
