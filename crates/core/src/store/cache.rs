//! [`CacheStore`]: what the runner needs from a store that may have more than one layer (the
//! local store alone, or the local store with a shared remote under it).

use std::path::Path;

use super::records::{CacheEntry, CacheRecord};
use super::{ArtifactStore, LocalStore};
use crate::{ContentHash, CoreError, OutputSpec};

/// Where a cache record was found (the runner asks the local store first, then
/// [`CacheStore::lower_cache_entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// In the local store.
    Local,
    /// In a layer under it (a remote): the record and its outputs were downloaded, verified
    /// and written into the local store by this lookup.
    Remote,
}

/// Objects and bytes a layered store moved between its layers in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Objects downloaded (verified) into the local store.
    pub objects_down: u64,
    /// Their bytes.
    pub bytes_down: u64,
    /// Objects uploaded (verified) to the remote.
    pub objects_up: u64,
    /// Their bytes.
    pub bytes_up: u64,
    /// Cache records created in the remote.
    pub records_up: u64,
}

/// The store a run works against: the local store, possibly with a remote under it.
///
/// Everything the runner does with the cache goes through this trait, so a remote is a second
/// implementation layered under the local one, not a special case in the runner: a lookup asks
/// [`Self::local`] first and, on a miss, [`Self::lower_cache_entry`]. Run records, the writer
/// lock, the file-hash memo and `latest/` always belong to the local store; objects and cache
/// records are read through the layers (local first) and written to all of them.
///
/// The local store implements it with nothing under it.
pub trait CacheStore: ArtifactStore {
    /// The local store on top (where stages write, where run records live).
    fn local(&self) -> &LocalStore;

    /// After a local miss: the record under `key` in the layers under the local store. A hit
    /// there downloads the record and its outputs (each verified) into the local store before
    /// it is returned, so it is then a local record. Unusable records, and records whose
    /// objects are missing or corrupt, are misses (warned).
    fn lower_cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError>;

    /// [`Self::lower_cache_entry`] writing and downloading nothing (for `status`): a record
    /// counts when its layer holds its output objects at their recorded sizes.
    fn peek_lower_cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError>;

    /// [`LocalStore::check_object`], first fetching the object from a lower layer when it is
    /// missing locally. Returns its size.
    fn check_object(&self, hash: &ContentHash) -> Result<u64, CoreError>;

    /// [`LocalStore::link_object`], first fetching the object when it is missing locally.
    fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError>;

    /// Writes a cache record (its objects are in the local store) locally and into every
    /// writable layer under it. `Ok(Some(winner))` when a lower layer already held another
    /// writer's record under the key with other outputs: the winner's objects are now local and
    /// its record replaced ours locally, and the caller should use its outputs.
    fn cache_put_shared(&self, record: &CacheRecord, declared: &[OutputSpec])
    -> Result<Option<CacheRecord>, CoreError>;

    /// Makes sure the writable layers under the local store hold the (local) object `hash`,
    /// uploading it when they lack it: `Ok(false)` when there is no such layer. Unlike the
    /// sharing in [`Self::cache_put_shared`], a remote failure is an error (the caller needs the
    /// object there: a Slurm job on a node with its own store hands its outputs over this way).
    fn push_object(&self, hash: &ContentHash) -> Result<bool, CoreError> {
        let _ = hash;
        Ok(false)
    }

    /// What was moved between the layers so far (zero for the local store alone).
    fn traffic(&self) -> Traffic {
        Traffic::default()
    }

    /// The layer under the local store, for messages (`s3://bucket/prefix`), if any.
    fn remote_url(&self) -> Option<String> {
        None
    }
}

impl CacheStore for LocalStore {
    fn local(&self) -> &LocalStore {
        self
    }

    fn lower_cache_entry(&self, _key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        Ok(None)
    }

    fn peek_lower_cache_entry(&self, _key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        Ok(None)
    }

    fn check_object(&self, hash: &ContentHash) -> Result<u64, CoreError> {
        LocalStore::check_object(self, hash)
    }

    fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError> {
        LocalStore::link_object(self, hash, dest)
    }

    fn cache_put_shared(
        &self,
        record: &CacheRecord,
        declared: &[OutputSpec],
    ) -> Result<Option<CacheRecord>, CoreError> {
        self.cache_put_declared(record, declared).map(|()| None)
    }
}
