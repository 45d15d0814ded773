//! The content-addressed artifact store.
//!
//! An object is an immutable file named by the BLAKE3 hash of its bytes. Beside the objects the
//! store keeps cache records (cache key -> output hashes) and run records. [`ArtifactStore`] is
//! the interface stages use; [`LocalStore`] is the directory-backed implementation.
//! [`CacheStore`] is what the runner uses: the local store alone, or (esteira-remote's
//! `LayeredStore`) the local store with an S3 remote under it, which downloads into the local
//! store so that [`ArtifactStore::object_path`] always hands stages a local file.

mod cache;
mod local;
mod lock;
mod memo;
mod records;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use cache::{CacheStore, Origin, Traffic};
pub use local::LocalStore;
pub use lock::StoreLock;
pub use records::{
    BadRecord, BuildInfo, CacheEntry, CacheRecord, KeyParts, OutputMeta, RecordScan, RunRecord, RunStatus, StageRecord,
    StageStatus, SweepTag,
};

use crate::{ContentHash, CoreError};

/// A new object being written. Bytes become a visible object only on [`ObjectSink::commit`];
/// dropping the sink discards them.
pub trait ObjectSink: Write + Send {
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Makes the bytes durable and visible under their hash (deduplicating), read-only.
    fn commit(self: Box<Self>) -> Result<ContentHash, CoreError>;
}

/// Where artifacts, cache records and run records live.
pub trait ArtifactStore: Send + Sync {
    /// Human description (the root directory or bucket URL).
    fn describe(&self) -> String;

    /// Whether an object is present as a regular file (not whether it is intact: see
    /// [`Self::verify_object`]).
    fn contains(&self, hash: &ContentHash) -> bool;

    /// A local file holding the object's bytes, for reading only (a regular file, never a
    /// symlink).
    fn object_path(&self, hash: &ContentHash) -> Result<PathBuf, CoreError>;

    /// Starts a new object.
    fn begin_object(&self) -> Result<Box<dyn ObjectSink>, CoreError>;

    /// Copies a file into the store.
    fn put_file(&self, path: &Path) -> Result<ContentHash, CoreError> {
        let mut sink = self.begin_object()?;
        let mut f = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        std::io::copy(&mut f, &mut sink).map_err(|e| CoreError::io(path, e))?;
        sink.commit()
    }

    /// Stores bytes.
    fn put_bytes(&self, bytes: &[u8]) -> Result<ContentHash, CoreError> {
        let mut sink = self.begin_object()?;
        sink.write_all(bytes).map_err(|e| CoreError::io(self.describe(), e))?;
        sink.commit()
    }

    /// Re-hashes an object; `Err(Corrupt)` when its bytes changed.
    fn verify_object(&self, hash: &ContentHash) -> Result<(), CoreError>;

    /// Every object hash in the store.
    fn list_objects(&self) -> Result<Vec<ContentHash>, CoreError>;

    /// Deletes an object (garbage collection only).
    fn remove_object(&self, hash: &ContentHash) -> Result<(), CoreError>;

    /// The cache record under a key, if any. A record that cannot be read is a miss (with a
    /// warning naming its file), never an error.
    fn cache_get(&self, key: &ContentHash) -> Result<Option<CacheRecord>, CoreError>;

    /// Writes a cache record atomically. Its output objects must already be in the store (a
    /// record never names a missing object); the local store records their sizes beside it.
    fn cache_put(&self, record: &CacheRecord) -> Result<(), CoreError>;

    /// Every readable cache record (unreadable ones are skipped with a warning naming the file).
    fn cache_list(&self) -> Result<Vec<CacheRecord>, CoreError>;

    /// Deletes a cache record.
    fn cache_remove(&self, key: &ContentHash) -> Result<(), CoreError>;

    /// Writes (or overwrites) a run record atomically.
    fn run_put(&self, record: &RunRecord) -> Result<(), CoreError>;

    /// A run by id or unique id prefix; `latest` names the newest readable one.
    fn run_get(&self, id: &str) -> Result<RunRecord, CoreError>;

    /// All readable runs, oldest first (unreadable ones are skipped with a warning naming the
    /// file).
    fn run_list(&self) -> Result<Vec<RunRecord>, CoreError>;

    /// Deletes a run record.
    fn run_remove(&self, id: &str) -> Result<(), CoreError>;
}
