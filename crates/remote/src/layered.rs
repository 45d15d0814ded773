//! [`LayeredStore`]: the local store first, a remote under it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use esteira_core::store::{CacheEntry, CacheStore, ObjectSink, Traffic};
use esteira_core::{ArtifactStore, CacheRecord, ContentHash, CoreError, LocalStore, OutputSpec, RunRecord};

use crate::{RecordPut, RemoteError, RemoteStore, Upload};

/// What became of a cache record written through [`LayeredStore::cache_put_shared`].
#[derive(Debug, Clone, PartialEq)]
pub enum Shared {
    /// Written locally only: no remote, read-only, or the remote is unavailable (warned).
    LocalOnly,
    /// Its objects were uploaded and verified, and the record created in the remote.
    Created,
    /// The remote already had a record under the key with the same outputs.
    Agreed,
    /// The remote had another writer's record with other outputs (a stage that is not
    /// deterministic): the winner's objects were fetched and its record replaced ours in the
    /// local store. Downstream stages should use these outputs.
    Adopted(Box<CacheRecord>),
}

/// The local store with an optional remote under it.
///
/// - Reads go to the local store first. A cache record missing locally is looked up in the
///   remote; a remote hit downloads the record and the objects it names (each verified while
///   it streams) and writes them into the local store, record last. An object missing locally
///   is fetched from the remote when it is asked for ([`Self::check_object`],
///   [`ArtifactStore::object_path`], [`Self::link_object`], [`ArtifactStore::contains`]).
///   So a run downloads the outputs of its cache hits and nothing else.
/// - A remote record whose objects are missing or fail their hash is a miss (with a
///   warning), never a hit; a corrupt remote object is deleted from the remote (unless
///   read-only) so that the stage that recomputes it uploads it again.
/// - Writes go to the local store; [`Self::cache_put_shared`] (and the trait's `cache_put`)
///   then uploads the record's objects, verified, and creates the remote record with a
///   conditional create: the first writer wins, a loser adopts the winner's record.
/// - Run records stay local (`push`/`pull` move them: [`crate::push_run`], [`crate::pull_run`]).
/// - The first `Unavailable` (or `Denied`) answer switches the remote off for the rest of
///   the process with one warning: the run goes on with the local store only.
#[derive(Debug)]
pub struct LayeredStore {
    local: LocalStore,
    remote: Option<RemoteStore>,
    read_only: bool,
    down: AtomicBool,
    traffic: Counters,
}

/// [`Traffic`] as it is counted, from any thread.
#[derive(Debug, Default)]
struct Counters {
    objects_down: AtomicU64,
    bytes_down: AtomicU64,
    objects_up: AtomicU64,
    bytes_up: AtomicU64,
    records_up: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Traffic {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Traffic {
            objects_down: get(&self.objects_down),
            bytes_down: get(&self.bytes_down),
            objects_up: get(&self.objects_up),
            bytes_up: get(&self.bytes_up),
            records_up: get(&self.records_up),
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LayeredStore {
    /// Layers `remote` (if any) under `local`. `read_only`: never write to the remote (CI,
    /// untrusted users). Sends nothing (see [`Self::connect`]).
    pub fn new(local: LocalStore, remote: Option<RemoteStore>, read_only: bool) -> Self {
        Self { local, remote, read_only, down: AtomicBool::new(false), traffic: Counters::default() }
    }

    /// Like [`Self::new`], then pings the remote: unreachable is a warning and local-only
    /// operation, a bucket that does not exist or refused credentials are errors (a
    /// configuration to fix, not an outage).
    pub fn connect(local: LocalStore, remote: Option<RemoteStore>, read_only: bool) -> Result<Self, RemoteError> {
        let store = Self::new(local, remote, read_only);
        if let Some(remote) = &store.remote
            && let Err(e) = remote.ping()
        {
            if !e.is_unavailable() {
                return Err(e);
            }
            store.remote_failed("connect", &e);
        }
        Ok(store)
    }

    /// The local store.
    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// The remote, if one is configured (even when switched off).
    pub fn remote(&self) -> Option<&RemoteStore> {
        self.remote.as_ref()
    }

    /// Whether the remote is never written to.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The remote while it is usable (configured and not switched off by an outage).
    pub fn active_remote(&self) -> Option<&RemoteStore> {
        self.remote.as_ref().filter(|_| !self.down.load(Ordering::Relaxed))
    }

    fn writable_remote(&self) -> Option<&RemoteStore> {
        self.active_remote().filter(|_| !self.read_only)
    }

    /// Reports a remote failure: an outage (or refused credentials) switches the remote off
    /// with one warning; anything else is a warning about that one operation.
    fn remote_failed(&self, op: &str, e: &RemoteError) {
        let url = self.remote.as_ref().map(RemoteStore::url).unwrap_or_default();
        if e.is_unavailable() || matches!(e, RemoteError::Denied { .. }) {
            if !self.down.swap(true, Ordering::Relaxed) {
                tracing::warn!("remote {url}: {op}: {e}; continuing with the local store only");
            }
        } else {
            tracing::warn!("remote {url}: {op}: {e}");
        }
    }

    /// Makes an object local if it is not: `Ok(true)` when it now is (already there, or
    /// downloaded and verified), `Ok(false)` when the remote does not have it (or has it
    /// corrupt, or cannot be reached: warned). A local object that fails its check is an
    /// error, as in the local store.
    pub fn fetch_object(&self, hash: &ContentHash) -> Result<bool, CoreError> {
        match self.local.check_object(hash) {
            Ok(_) => return Ok(true),
            Err(CoreError::MissingObject(_)) => {}
            Err(e) => return Err(e),
        }
        let Some(remote) = self.active_remote() else { return Ok(false) };
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self.local.root().join("tmp").join(format!("remote-{}-{n}-{}", std::process::id(), hash.short()));
        let result = remote.get_object(hash, &tmp);
        let imported = match result {
            Ok(bytes) => {
                Counters::add(&self.traffic.objects_down, 1);
                Counters::add(&self.traffic.bytes_down, bytes);
                let stored = self.local.put_file(&tmp);
                let _ = std::fs::remove_file(&tmp);
                stored?
            }
            Err(RemoteError::NotFound { .. }) => return Ok(false),
            Err(e @ RemoteError::Corrupt { .. }) => {
                tracing::warn!("remote {}: {e}; not used", remote.url());
                if !self.read_only
                    && let Err(d) = remote.delete_object(hash)
                {
                    self.remote_failed("deleting a corrupt object", &d);
                }
                return Ok(false);
            }
            Err(e) => {
                self.remote_failed(&format!("fetching object {}", hash.short()), &e);
                return Ok(false);
            }
        };
        if imported != *hash {
            // Verified while downloading; only a change of the temporary file gets here.
            return Err(CoreError::Corrupt { expected: hash.to_hex(), actual: imported.to_hex() });
        }
        Ok(true)
    }

    /// [`LocalStore::check_object`], fetching the object from the remote when it is missing
    /// locally. Returns its size.
    pub fn check_object(&self, hash: &ContentHash) -> Result<u64, CoreError> {
        match self.local.check_object(hash) {
            Err(CoreError::MissingObject(_)) if self.fetch_object(hash)? => self.local.check_object(hash),
            other => other,
        }
    }

    /// [`LocalStore::link_object`], fetching the object first when it is missing locally.
    pub fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError> {
        self.fetch_object(hash)?;
        self.local.link_object(hash, dest)
    }

    /// The cache record under `key`, as [`LocalStore::cache_entry`]; on a local miss, the
    /// remote's record with its objects, downloaded (each verified) and written into the local
    /// store. A remote record that is invalid, or whose objects are missing, corrupt or not
    /// its recorded size, is a miss with a warning.
    pub fn cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        if let Some(entry) = self.local.cache_entry(key)? {
            return Ok(Some(entry));
        }
        self.remote_hit(key)
    }

    /// The remote half of [`Self::cache_entry`]: the remote's record under `key` with its
    /// outputs, downloaded into the local store, or a miss.
    fn remote_hit(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        let Some(remote) = self.active_remote() else { return Ok(None) };
        let entry = match remote.get_cache_record(key) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.remote_failed(&format!("cache record {}", key.short()), &e);
                return Ok(None);
            }
        };
        if !self.fetch_outputs(remote, &entry)? {
            return Ok(None);
        }
        self.local.cache_put_declared(&entry.record, &declared_of(&entry))?;
        self.local.cache_entry(key)
    }

    /// The remote's cache record under `key` without downloading anything (for `status`):
    /// `None` when there is none, it is invalid or the remote is unavailable.
    pub fn remote_cache_entry(&self, key: &ContentHash) -> Option<CacheEntry> {
        let remote = self.active_remote()?;
        match remote.get_cache_record(key) {
            Ok(entry) => entry,
            Err(e) => {
                self.remote_failed(&format!("cache record {}", key.short()), &e);
                None
            }
        }
    }

    /// Downloads the outputs of a remote record; `Ok(false)` (warned) when one is missing,
    /// corrupt or not its recorded size.
    fn fetch_outputs(&self, remote: &RemoteStore, entry: &CacheEntry) -> Result<bool, CoreError> {
        let key = entry.record.key;
        for (name, hash) in &entry.record.outputs {
            if !self.fetch_object(hash)? {
                if self.active_remote().is_some() {
                    tracing::warn!(
                        "remote {}: cache record {}: output `{name}` (object {}) is missing or corrupt; a miss",
                        remote.url(),
                        key.short(),
                        hash.short()
                    );
                }
                return Ok(false);
            }
            let size = self.local.check_object(hash)?;
            if let Some(meta) = entry.meta.get(name)
                && meta.size != size
            {
                tracing::warn!(
                    "remote {}: cache record {}: output `{name}` is recorded as {} bytes, object {} has {size}; a miss",
                    remote.url(),
                    key.short(),
                    meta.size,
                    hash.short()
                );
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// [`LocalStore::cache_put_declared`], then shares the record (see [`Self::cache_put_shared`]).
    pub fn cache_put_declared(&self, record: &CacheRecord, declared: &[OutputSpec]) -> Result<(), CoreError> {
        self.cache_put_shared(record, declared).map(|_| ())
    }

    /// Writes a cache record locally, then (with a writable, available remote) uploads its
    /// objects — each verified by size and recorded hash — and creates the remote record if
    /// there is none. When another writer's record with other outputs won, its objects are
    /// fetched and its record replaces ours locally ([`Shared::Adopted`]); when the winner
    /// names objects the remote no longer has, it is replaced by ours. Remote failures are
    /// warnings ([`Shared::LocalOnly`]); only local failures are errors.
    pub fn cache_put_shared(&self, record: &CacheRecord, declared: &[OutputSpec]) -> Result<Shared, CoreError> {
        self.local.cache_put_declared(record, declared)?;
        let Some(remote) = self.writable_remote() else { return Ok(Shared::LocalOnly) };
        let Some(entry) = self.local.cache_entry(&record.key)? else {
            return Err(CoreError::Run(format!("cache record {} vanished after being written", record.key.short())));
        };
        match self.share(remote, &entry) {
            Ok(shared) => Ok(shared),
            Err(RemoteError::Local(e)) => Err(e),
            Err(e) => {
                self.remote_failed(&format!("sharing cache record {}", record.key.short()), &e);
                Ok(Shared::LocalOnly)
            }
        }
    }

    fn share(&self, remote: &RemoteStore, entry: &CacheEntry) -> Result<Shared, RemoteError> {
        for hash in entry.record.outputs.values() {
            let path = self.local.object_path(hash)?;
            if let Upload::Uploaded { bytes } = remote.put_object(hash, &path)? {
                Counters::add(&self.traffic.objects_up, 1);
                Counters::add(&self.traffic.bytes_up, bytes);
            }
        }
        let winner = match remote.put_cache_record_if_absent(entry)? {
            RecordPut::Created => {
                Counters::add(&self.traffic.records_up, 1);
                return Ok(Shared::Created);
            }
            RecordPut::AlreadyThere(w) if w.record.outputs == entry.record.outputs => return Ok(Shared::Agreed),
            RecordPut::AlreadyThere(w) => w,
        };
        if self.fetch_outputs(remote, &winner)? {
            self.local.cache_put_declared(&winner.record, &declared_of(&winner))?;
            return Ok(Shared::Adopted(Box::new(winner.record)));
        }
        // The winner names objects the remote lost: replace it with ours (once).
        tracing::warn!(
            "remote {}: cache record {} names objects it does not have; replacing it",
            remote.url(),
            entry.record.key.short()
        );
        remote.delete_cache_record(&entry.record.key)?;
        match remote.put_cache_record_if_absent(entry)? {
            RecordPut::Created => {
                Counters::add(&self.traffic.records_up, 1);
                Ok(Shared::Created)
            }
            RecordPut::AlreadyThere(w) if w.record.outputs == entry.record.outputs => Ok(Shared::Agreed),
            RecordPut::AlreadyThere(w) if self.fetch_outputs(remote, &w)? => {
                self.local.cache_put_declared(&w.record, &declared_of(&w))?;
                Ok(Shared::Adopted(Box::new(w.record)))
            }
            RecordPut::AlreadyThere(_) => Ok(Shared::LocalOnly),
        }
    }
}

/// The declared outputs a record's metadata knows (name and extension).
fn declared_of(entry: &CacheEntry) -> Vec<OutputSpec> {
    entry
        .meta
        .iter()
        .filter_map(|(name, m)| m.ext.as_ref().map(|ext| OutputSpec::new(name.clone(), ext.clone())))
        .collect()
}

impl ArtifactStore for LayeredStore {
    fn describe(&self) -> String {
        match &self.remote {
            Some(r) if self.read_only => format!("{} (remote {}, read-only)", self.local.describe(), r.url()),
            Some(r) => format!("{} (remote {})", self.local.describe(), r.url()),
            None => self.local.describe(),
        }
    }

    /// Present locally, or fetched from the remote now.
    fn contains(&self, hash: &ContentHash) -> bool {
        self.local.contains(hash) || self.fetch_object(hash).unwrap_or(false)
    }

    fn object_path(&self, hash: &ContentHash) -> Result<PathBuf, CoreError> {
        match self.local.object_path(hash) {
            Err(CoreError::MissingObject(_)) if self.fetch_object(hash)? => self.local.object_path(hash),
            other => other,
        }
    }

    fn begin_object(&self) -> Result<Box<dyn ObjectSink>, CoreError> {
        self.local.begin_object()
    }

    fn verify_object(&self, hash: &ContentHash) -> Result<(), CoreError> {
        self.fetch_object(hash)?;
        self.local.verify_object(hash)
    }

    /// The local objects (the remote's: [`RemoteStore::list_objects`]).
    fn list_objects(&self) -> Result<Vec<ContentHash>, CoreError> {
        self.local.list_objects()
    }

    /// Removes the local copy only.
    fn remove_object(&self, hash: &ContentHash) -> Result<(), CoreError> {
        self.local.remove_object(hash)
    }

    fn cache_get(&self, key: &ContentHash) -> Result<Option<CacheRecord>, CoreError> {
        Ok(self.cache_entry(key)?.map(|e| e.record))
    }

    fn cache_put(&self, record: &CacheRecord) -> Result<(), CoreError> {
        self.cache_put_shared(record, &[]).map(|_| ())
    }

    /// The local records.
    fn cache_list(&self) -> Result<Vec<CacheRecord>, CoreError> {
        self.local.cache_list()
    }

    /// Removes the local record only.
    fn cache_remove(&self, key: &ContentHash) -> Result<(), CoreError> {
        self.local.cache_remove(key)
    }

    fn run_put(&self, record: &RunRecord) -> Result<(), CoreError> {
        self.local.run_put(record)
    }

    fn run_get(&self, id: &str) -> Result<RunRecord, CoreError> {
        self.local.run_get(id)
    }

    fn run_list(&self) -> Result<Vec<RunRecord>, CoreError> {
        self.local.run_list()
    }

    fn run_remove(&self, id: &str) -> Result<(), CoreError> {
        self.local.run_remove(id)
    }
}

/// The layered store as the runner sees it: local first, the remote under it.
impl CacheStore for LayeredStore {
    fn local(&self) -> &LocalStore {
        &self.local
    }

    fn lower_cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        self.remote_hit(key)
    }

    /// The remote's record when the remote holds each of its outputs at the recorded size
    /// (HEAD requests; the bytes are hashed only when a run downloads them).
    fn peek_lower_cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        let Some(entry) = self.remote_cache_entry(key) else { return Ok(None) };
        let Some(remote) = self.active_remote() else { return Ok(None) };
        for (name, hash) in &entry.record.outputs {
            match remote.object_info(hash) {
                Ok(Some(info))
                    if info.recorded_hash.is_none_or(|h| h == *hash)
                        && entry.meta.get(name).is_none_or(|m| m.size == info.size) => {}
                Ok(_) => return Ok(None),
                Err(e) => {
                    self.remote_failed(&format!("object {}", hash.short()), &e);
                    return Ok(None);
                }
            }
        }
        Ok(Some(entry))
    }

    fn check_object(&self, hash: &ContentHash) -> Result<u64, CoreError> {
        LayeredStore::check_object(self, hash)
    }

    fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError> {
        LayeredStore::link_object(self, hash, dest)
    }

    fn cache_put_shared(
        &self,
        record: &CacheRecord,
        declared: &[OutputSpec],
    ) -> Result<Option<CacheRecord>, CoreError> {
        Ok(match LayeredStore::cache_put_shared(self, record, declared)? {
            Shared::Adopted(winner) => Some(*winner),
            Shared::LocalOnly | Shared::Created | Shared::Agreed => None,
        })
    }

    fn push_object(&self, hash: &ContentHash) -> Result<bool, CoreError> {
        let Some(remote) = self.writable_remote() else { return Ok(false) };
        let path = self.local.object_path(hash)?;
        match remote.put_object(hash, &path) {
            Ok(Upload::Uploaded { bytes }) => {
                Counters::add(&self.traffic.objects_up, 1);
                Counters::add(&self.traffic.bytes_up, bytes);
                Ok(true)
            }
            Ok(Upload::Present { .. }) => Ok(true),
            Err(RemoteError::Local(e)) => Err(e),
            Err(e) => {
                self.remote_failed(&format!("uploading object {}", hash.short()), &e);
                Err(CoreError::Run(format!("remote {}: cannot upload object {}: {e}", remote.url(), hash.short())))
            }
        }
    }

    fn traffic(&self) -> Traffic {
        self.traffic.snapshot()
    }

    fn remote_url(&self) -> Option<String> {
        self.remote.as_ref().map(RemoteStore::url)
    }
}
