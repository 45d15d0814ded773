//! `esteira verify`: re-hash every object, check every record, and report what records name
//! but the store does not have.

use std::collections::{BTreeMap, BTreeSet};

use esteira_core::{ArtifactStore, ContentHash, CoreError};

use super::{Global, open_store};
use crate::{OrchestratorError, exit};

/// Options of `esteira verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Move corrupt objects to `<store>/corrupt/` and drop the cache entries that name them (or
    /// a missing object, or cannot be read), so the next run recomputes them; move unreadable
    /// run records to `<store>/corrupt/runs/`.
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
                outln!("CORRUPT {h} (content hashes to {actual})")?;
                corrupt.insert(*h);
            }
            Err(CoreError::BadObject { reason, .. }) => {
                outln!("CORRUPT {h} ({reason})")?;
                corrupt.insert(*h);
            }
            // Removed while we looked (`verify` without --repair does not lock the store).
            Err(CoreError::MissingObject(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let present: BTreeSet<ContentHash> = objects.iter().copied().collect();

    let cache = store.cache_scan()?;
    for b in &cache.bad {
        outln!("BAD CACHE RECORD {} ({})", b.path.display(), b.reason)?;
    }
    let runs = store.run_scan()?;
    for b in &runs.bad {
        outln!("BAD RUN RECORD {} ({})", b.path.display(), b.reason)?;
    }

    // Objects records name that are not in the store (the first record naming each).
    let mut missing: BTreeMap<ContentHash, String> = BTreeMap::new();
    for e in &cache.records {
        for (out, h) in &e.record.outputs {
            if !present.contains(h) {
                let by = format!("output `{out}` of cache record {}", store.cache_record_path(&e.record.key).display());
                missing.entry(*h).or_insert(by);
            }
        }
    }
    for r in &runs.records {
        for (name, s) in &r.stages {
            let named =
                s.inputs.iter().map(|(i, h)| ("input", i, h)).chain(s.outputs.iter().map(|(o, h)| ("output", o, h)));
            for (what, n, h) in named {
                if !present.contains(h) {
                    missing.entry(*h).or_insert_with(|| format!("run {} stage `{name}` {what} `{n}`", r.id));
                }
            }
        }
    }
    for (h, by) in &missing {
        outln!("MISSING {h} (named by {by})")?;
    }

    let records = cache.records.len() + cache.bad.len() + runs.records.len() + runs.bad.len();
    let bad_records = cache.bad.len() + runs.bad.len();
    outln!(
        "{} object(s) checked, {} corrupt; {records} record(s) checked, {bad_records} unreadable or inconsistent; {} \
         object(s) missing",
        objects.len(),
        corrupt.len(),
        missing.len()
    )?;
    let problems = corrupt.len() + bad_records + missing.len();
    if problems == 0 {
        return Ok(exit::OK);
    }
    if a.repair {
        repair(&store, &corrupt, &missing, &cache, &runs)?;
    } else {
        outln!("run `esteira verify --repair` to quarantine them so the next run recomputes them")?;
    }
    Err(OrchestratorError::Corrupt(problems))
}

fn repair(
    store: &esteira_core::LocalStore,
    corrupt: &BTreeSet<ContentHash>,
    missing: &BTreeMap<ContentHash, String>,
    cache: &esteira_core::store::RecordScan<esteira_core::store::CacheEntry>,
    runs: &esteira_core::store::RecordScan<esteira_core::RunRecord>,
) -> Result<(), OrchestratorError> {
    let dir = store.root().join("corrupt");
    for h in corrupt {
        store.quarantine_object(h)?;
    }
    let mut dropped = 0;
    for b in &cache.bad {
        std::fs::remove_file(&b.path).map_err(|e| CoreError::io(&b.path, e))?;
        dropped += 1;
    }
    for e in &cache.records {
        if e.record.outputs.values().any(|h| corrupt.contains(h) || missing.contains_key(h)) {
            store.cache_remove(&e.record.key)?;
            dropped += 1;
        }
    }
    let runs_dir = dir.join("runs");
    for b in &runs.bad {
        std::fs::create_dir_all(&runs_dir).map_err(|e| CoreError::io(&runs_dir, e))?;
        let to = runs_dir.join(b.path.file_name().unwrap_or_default());
        std::fs::rename(&b.path, &to).map_err(|e| CoreError::io(&b.path, e))?;
    }
    store.save_memo()?;
    outln!(
        "moved {} object(s) to {}; dropped {dropped} cache entr(ies); moved {} run record(s) to {}",
        corrupt.len(),
        dir.display(),
        runs.bad.len(),
        runs_dir.display()
    )?;
    Ok(())
}
