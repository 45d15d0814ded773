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
            remove_job_dirs(store.root(), &r.id);
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

/// Removes `<store>/jobs/<run>/` (what `run --executor slurm` left: job scripts, logs, specs)
/// of a collected run: only a real directory under `jobs/`, never through a symlink.
fn remove_job_dirs(root: &std::path::Path, run: &str) {
    // A run id is one plain file name (`20261203T074124.365Z-fd06`); a record claiming another
    // is not followed out of `jobs/`.
    if run.is_empty() || run == "." || run == ".." || run.contains(['/', '\\', '\0']) {
        return;
    }
    let jobs = root.join("jobs");
    let dir = jobs.join(run);
    let real = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if real(&jobs)
        && real(&dir)
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!("cannot remove {}: {e}", dir.display());
    }
}
