//! esteira-remote: an S3-compatible remote under esteira's local content-addressed store, so
//! that machines share cache hits.
//!
//! - [`RemoteStore`]: objects, cache records and run records in `s3://BUCKET/PREFIX`
//!   (`PREFIX/objects/ab/<hash>`, `PREFIX/cache/<key>.json`, `PREFIX/runs/<id>.json`), through
//!   object_store's S3 client configured from the standard `AWS_*` variables
//!   ([`RemoteOptions`]); works with AWS S3, Ceph RGW, MinIO and Garage.
//! - [`LayeredStore`]: an [`esteira_core::ArtifactStore`] and the orchestrator's
//!   [`esteira_core::store::CacheStore`] (what `esteira run --remote` runs against) that reads
//!   the local store first, then the remote (downloading only what is asked for), shares every
//!   cache record it writes, and counts what it moved ([`esteira_core::store::Traffic`]).
//! - [`push_run`] / [`pull_run`]: move one run's records and objects explicitly.
//!
//! Correctness with many writers and no lock server:
//! - objects are content-addressed, so any writer may win a race on one; every download is
//!   hashed while it streams and a mismatch is [`RemoteError::Corrupt`], never used;
//! - an upload is hashed as it is read (it must hash to its name), carries its BLAKE3 hash as
//!   object metadata (`x-amz-meta-blake3`), and is checked afterwards by a HEAD (size and
//!   recorded hash); in transit SigV4's signed payload hash covers it;
//! - cache records are created with `If-None-Match: *` ([`RemoteStore::put_cache_record_if_absent`]):
//!   the first writer wins and the others get the winner's record; a record is created only
//!   once its objects are in the remote, verified;
//! - a record whose objects are missing or corrupt is a miss;
//! - transient errors are retried with exponential backoff by object_store's `RetryConfig`
//!   ([`default_retry`]); what still fails is [`RemoteError::Unavailable`], on which the
//!   layered store carries on with the local store only, with a warning.
//!
//! The API is synchronous (stages run on tokio's blocking pool): each [`RemoteStore`] owns a
//! small tokio runtime and waits for its requests on a plain channel, so it can be called
//! from any thread without nesting runtimes.
//!
//! Sharing a cache record between two local stores through a remote (here an in-memory
//! object store; [`RemoteStore::from_env`] connects to S3):
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use esteira_core::{ArtifactStore, CacheRecord, LocalStore, OutputSpec, cache_key};
//! use esteira_remote::{LayeredStore, RemoteOptions, RemoteStore, RemoteUrl, Shared};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bucket = Arc::new(object_store::memory::InMemory::new());
//! let url = RemoteUrl::parse("s3://team-cache/esteira")?;
//! let remote = RemoteStore::with_object_store(url, bucket, &RemoteOptions::default())?;
//!
//! let dirs = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let a = LayeredStore::new(LocalStore::open(dirs.0.path())?, Some(remote.clone()), false);
//! let out = a.put_bytes(b"a result")?;
//! let params = serde_json::json!({});
//! let record = CacheRecord {
//!     key: cache_key("upper", "1", &params, &BTreeMap::new()),
//!     kind: "upper".into(),
//!     version: "1".into(),
//!     params,
//!     inputs: BTreeMap::new(),
//!     outputs: BTreeMap::from([("text".to_owned(), out)]),
//!     metrics: BTreeMap::new(),
//!     state: serde_json::Value::Null,
//!     duration_ms: 1.0,
//!     run_id: "r1".into(),
//!     stage: "upper".into(),
//! };
//! let shared = a.cache_put_shared(&record, &[OutputSpec::new("text", "txt")])?;
//! assert_eq!(shared, Shared::Created);
//!
//! // Another machine: an empty local store, the same remote.
//! let b = LayeredStore::new(LocalStore::open(dirs.1.path())?, Some(remote), false);
//! let hit = b.cache_entry(&record.key)?.expect("a remote hit");
//! assert_eq!(hit.record.outputs, record.outputs);
//! assert_eq!(std::fs::read(b.local().object_path(&out)?)?, b"a result");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod config;
mod error;
mod layered;
mod remote;
mod transfer;

pub use config::{RemoteOptions, RemoteUrl, default_retry};
pub use error::{BoxError, RemoteError};
pub use layered::{LayeredStore, Shared};
pub use remote::{HASH_METADATA, ObjectInfo, RecordPut, RemoteStore, Upload};
pub use transfer::{TransferReport, pull_run, push_run};

/// object_store's retry configuration types, re-exported for [`RemoteOptions::retry`].
pub use object_store::{BackoffConfig, RetryConfig};
