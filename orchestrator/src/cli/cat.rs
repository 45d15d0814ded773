//! `esteira cat HASH`.

use std::io::Write;

use esteira_core::ArtifactStore;

use super::{Global, open_store, resolve_object};
use crate::{OrchestratorError, exit};

/// Options of `esteira cat`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Object hash or unique prefix.
    hash: String,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let hash = resolve_object(&store, &a.hash)?;
    // Never hand out bytes that no longer match their name.
    store.verify_object(&hash)?;
    let path = store.object_path(&hash)?;
    let mut f = std::fs::File::open(&path).map_err(|e| esteira_core::CoreError::io(&path, e))?;
    let mut stdout = std::io::stdout().lock();
    match std::io::copy(&mut f, &mut stdout).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(exit::OK),
        // A closed pipe (`esteira cat … | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(esteira_core::CoreError::io("stdout", e).into()),
    }
}
