//! `esteira push` / `esteira pull`: a run's record, its stages' cache records and the objects
//! they name, moved explicitly between the local store and the remote.

use std::collections::BTreeSet;

use esteira_core::store::StageStatus;
use esteira_core::{ArtifactStore, ContentHash, CoreError, LocalStore, OutputSpec};

use crate::{RecordPut, RemoteError, RemoteStore, Upload};

/// What a push or pull moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferReport {
    /// The run.
    pub run_id: String,
    /// Objects sent or received.
    pub objects_moved: usize,
    /// Bytes of those objects.
    pub bytes_moved: u64,
    /// Objects the other side already had.
    pub objects_present: usize,
    /// Cache records created on the other side.
    pub records_created: usize,
    /// Cache records the other side already had (pull: kept; push: the winner stays).
    pub records_present: usize,
    /// Objects the run names that the source side does not have (garbage-collected inputs,
    /// outputs of failed stages), by short hash: not moved.
    pub missing: Vec<String>,
}

/// Every object a run names: its stages' inputs and outputs.
fn run_objects(run: &esteira_core::RunRecord) -> BTreeSet<ContentHash> {
    run.stages.values().flat_map(|s| s.inputs.values().chain(s.outputs.values())).copied().collect()
}

/// Pushes run `id` (an id, a unique prefix or `latest` of the local store): every object it
/// names that the local store has (uploaded unless present, each verified), then the cache
/// records of its stages that ran or were cached (conditional creates: an existing remote
/// record is kept), then the run record (overwritten). Only reads the local store.
pub fn push_run(local: &LocalStore, remote: &RemoteStore, id: &str) -> Result<TransferReport, RemoteError> {
    let run = local.run_get(id)?;
    let mut report = TransferReport { run_id: run.id.clone(), ..TransferReport::default() };
    for hash in run_objects(&run) {
        let path = match local.object_path(&hash) {
            Ok(p) => p,
            Err(CoreError::MissingObject(_)) => {
                report.missing.push(hash.short());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        local.check_object(&hash)?;
        match remote.put_object(&hash, &path)? {
            Upload::Uploaded { bytes } => {
                report.objects_moved += 1;
                report.bytes_moved += bytes;
            }
            Upload::Present { .. } => report.objects_present += 1,
        }
    }
    for stage in run.stages.values() {
        let Some(key) = stage.key.filter(|_| matches!(stage.status, StageStatus::Ran | StageStatus::Cached)) else {
            continue;
        };
        let Some(entry) = local.cache_entry(&key)? else { continue };
        if entry.record.outputs.values().any(|h| report.missing.contains(&h.short())) {
            continue;
        }
        match remote.put_cache_record_if_absent(&entry)? {
            RecordPut::Created => report.records_created += 1,
            RecordPut::AlreadyThere(_) => report.records_present += 1,
        }
    }
    remote.put_run(&run)?;
    Ok(report)
}

/// Pulls run `id` (an id, a unique prefix or `latest` of the remote) into the local store:
/// every object it names that the remote has (downloaded unless present locally, each
/// verified), then its stages' cache records whose objects are all local now (a local record
/// is kept), then the run record. Writes the local store: hold its lock.
pub fn pull_run(local: &LocalStore, remote: &RemoteStore, id: &str) -> Result<TransferReport, RemoteError> {
    let id = remote.resolve_run(id)?;
    let run = remote.get_run(&id)?.ok_or_else(|| RemoteError::NotFound { what: format!("run {id}") })?;
    let mut report = TransferReport { run_id: run.id.clone(), ..TransferReport::default() };
    for hash in run_objects(&run) {
        match local.check_object(&hash) {
            Ok(_) => {
                report.objects_present += 1;
                continue;
            }
            Err(CoreError::MissingObject(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let tmp = local.root().join("tmp").join(format!("pull-{}-{}", std::process::id(), hash.to_hex()));
        match remote.get_object(&hash, &tmp) {
            Ok(bytes) => {
                let stored = local.put_file(&tmp);
                let _ = std::fs::remove_file(&tmp);
                let stored = stored?;
                if stored != hash {
                    return Err(CoreError::Corrupt { expected: hash.to_hex(), actual: stored.to_hex() }.into());
                }
                report.objects_moved += 1;
                report.bytes_moved += bytes;
            }
            Err(RemoteError::NotFound { .. }) => report.missing.push(hash.short()),
            Err(e) => return Err(e),
        }
    }
    for stage in run.stages.values() {
        let Some(key) = stage.key.filter(|_| matches!(stage.status, StageStatus::Ran | StageStatus::Cached)) else {
            continue;
        };
        if local.cache_entry(&key)?.is_some() {
            report.records_present += 1;
            continue;
        }
        let Some(entry) = remote.get_cache_record(&key)? else { continue };
        if !entry.record.outputs.values().all(|h| local.contains(h)) {
            continue;
        }
        let declared: Vec<OutputSpec> = entry
            .meta
            .iter()
            .filter_map(|(n, m)| m.ext.as_ref().map(|e| OutputSpec::new(n.clone(), e.clone())))
            .collect();
        local.cache_put_declared(&entry.record, &declared)?;
        report.records_created += 1;
    }
    local.run_put(&run)?;
    Ok(report)
}
