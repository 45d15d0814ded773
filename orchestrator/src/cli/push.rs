//! `esteira push`.

use super::Global;
use super::remote::{RemoteArgs, bytes, open_pair};
use crate::{OrchestratorError, exit};

/// Options of `esteira push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: an id, a unique prefix, or `latest`.
    #[arg(default_value = "latest")]
    run: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    if a.remote.remote_read_only {
        return Err(OrchestratorError::Usage("push writes to the remote: drop --remote-read-only".into()));
    }
    let (local, remote) = open_pair(g, &a.remote, "push")?;
    // Reads the local store only: no lock needed (objects are immutable, records atomic).
    let r = esteira_remote::push_run(&local, &remote, &a.run)?;
    outln!(
        "pushed run {} to {}: {} object(s) uploaded, {}; {} already there; {} cache record(s) created, {} already there",
        r.run_id,
        remote.url(),
        r.objects_moved,
        bytes(r.bytes_moved),
        r.objects_present,
        r.records_created,
        r.records_present
    )?;
    if !r.missing.is_empty() {
        outln!("not in the local store, not pushed: {}", r.missing.join(", "))?;
    }
    Ok(exit::OK)
}
