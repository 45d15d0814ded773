//! `esteira pull`.

use std::time::Duration;

use super::remote::{RemoteArgs, bytes, open_pair};
use super::{Global, command_line};
use crate::{OrchestratorError, exit};

/// Options of `esteira pull`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run in the remote: an id, a unique prefix, or `latest`.
    #[arg(default_value = "latest")]
    run: String,
    /// Seconds to wait for another process holding the store.
    #[arg(long, default_value_t = 0.0)]
    wait: f64,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let (local, remote) = open_pair(g, &a.remote, "pull")?;
    let _lock = local.lock(&command_line(), Duration::from_secs_f64(a.wait.max(0.0)))?;
    let r = esteira_remote::pull_run(&local, &remote, &a.run)?;
    outln!(
        "pulled run {} from {}: {} object(s) downloaded, {}; {} already here; {} cache record(s) written, {} already here",
        r.run_id,
        remote.url(),
        r.objects_moved,
        bytes(r.bytes_moved),
        r.objects_present,
        r.records_created,
        r.records_present
    )?;
    if !r.missing.is_empty() {
        outln!("not in the remote, not pulled: {}", r.missing.join(", "))?;
    }
    local.save_memo()?;
    Ok(exit::OK)
}
