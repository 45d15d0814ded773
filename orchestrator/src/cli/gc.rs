//! `esteira gc`.

use std::collections::BTreeSet;

use esteira_core::{ArtifactStore, ContentHash};

use super::{Global, open_store};
use crate::{OrchestratorError, exit};

/// Options of `esteira gc`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many of the newest runs to keep (with every object they reference).
    #[arg(long, default_value_t = 5)]
    keep: usize,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let _lock = store.lock(&super::command_line(), std::time::Duration::ZERO)?;
    let runs = store.run_list()?;
    let cut = runs.len().saturating_sub(a.keep);
    let (old, kept) = runs.split_at(cut);
    let mut live: BTreeSet<ContentHash> = BTreeSet::new();
    for r in kept {
        for s in r.stages.values() {
            live.extend(s.inputs.values().copied());
            live.extend(s.outputs.values().copied());
        }
    }
    let mut freed = 0u64;
    let mut removed = 0usize;
    for h in store.list_objects()? {
        if live.contains(&h) {
            continue;
        }
        freed += store.object_path(&h).ok().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
        removed += 1;
        if !a.dry_run {
            store.remove_object(&h)?;
        }
    }
    let mut dropped = 0usize;
    for rec in store.cache_list()? {
        if rec.outputs.values().any(|h| !live.contains(h)) {
            dropped += 1;
            if !a.dry_run {
                store.cache_remove(&rec.key)?;
            }
        }
    }
    if !a.dry_run {
        for r in old {
            store.run_remove(&r.id)?;
        }
        // Forget the verified stamps of the removed objects.
        store.save_memo()?;
    }
    let verb = if a.dry_run { "would remove" } else { "removed" };
    super::outln!(
        "{verb} {removed} object(s) ({freed} bytes), {dropped} cache entr(ies), {} run(s); kept {} run(s)",
        old.len(),
        kept.len()
    )?;
    Ok(exit::OK)
}
