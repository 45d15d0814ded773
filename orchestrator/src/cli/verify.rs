//! `esteira verify`.

use std::collections::BTreeSet;

use esteira_core::{ArtifactStore, CoreError};

use super::{Global, open_store};
use crate::{OrchestratorError, exit};

/// Options of `esteira verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Move corrupt objects to `<store>/corrupt/` and drop the cache entries that name them,
    /// so the next run recomputes them.
    #[arg(long)]
    repair: bool,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let _lock = if a.repair { Some(store.lock(&super::command_line(), std::time::Duration::ZERO)?) } else { None };
    let objects = store.list_objects()?;
    let mut corrupt = BTreeSet::new();
    for h in &objects {
        match store.verify_object(h) {
            Ok(()) => {}
            Err(CoreError::Corrupt { actual, .. }) => {
                println!("CORRUPT {h} (content hashes to {actual})");
                corrupt.insert(*h);
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("{} object(s) checked, {} corrupt", objects.len(), corrupt.len());
    if corrupt.is_empty() {
        return Ok(exit::OK);
    }
    if a.repair {
        let dir = store.root().join("corrupt");
        std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        for h in &corrupt {
            let from = store.object_path(h)?;
            let to = dir.join(h.to_hex());
            std::fs::rename(&from, &to).map_err(|e| CoreError::io(&to, e))?;
        }
        let mut dropped = 0;
        for rec in store.cache_list()? {
            if rec.outputs.values().any(|h| corrupt.contains(h)) {
                store.cache_remove(&rec.key)?;
                dropped += 1;
            }
        }
        println!("moved {} object(s) to {}; dropped {dropped} cache entr(ies)", corrupt.len(), dir.display());
    } else {
        println!("run `esteira verify --repair` to quarantine them so the next run recomputes them");
    }
    Err(OrchestratorError::Corrupt(corrupt.len()))
}
