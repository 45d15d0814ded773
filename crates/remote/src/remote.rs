//! [`RemoteStore`]: objects, cache records and run records in an S3 bucket, behind a
//! synchronous API.
//!
//! ```text
//! PREFIX/objects/ab/abcdef…   objects named by BLAKE3 (metadata x-amz-meta-blake3 = the hash)
//! PREFIX/cache/<key>.json     cache records, created once (If-None-Match: *): first writer wins
//! PREFIX/runs/<id>.json       run records (pushed explicitly)
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use esteira_core::store::{CacheEntry, OutputMeta};
use esteira_core::{CacheRecord, ContentHash, RunRecord};
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::RemoteError;
use crate::config::{RemoteOptions, RemoteUrl};

/// The metadata key (`x-amz-meta-blake3`) an uploader records an object's hash under.
pub const HASH_METADATA: &str = "blake3";

/// What the remote says about one object (from a HEAD request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its size in bytes.
    pub size: u64,
    /// The hash its uploader recorded in its metadata (`None`: written by another tool, or
    /// overwritten through the S3 API).
    pub recorded_hash: Option<ContentHash>,
}

/// What [`RemoteStore::put_object`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// The remote already had the object (right size, recorded under its hash): nothing sent.
    Present {
        /// Its size.
        bytes: u64,
    },
    /// Sent, then checked with a HEAD (size and recorded hash).
    Uploaded {
        /// Bytes sent.
        bytes: u64,
    },
}

/// What [`RemoteStore::put_cache_record_if_absent`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordPut {
    /// This record is now the one under its key.
    Created,
    /// Another writer's record was there first (or won the race): it is the one under the
    /// key, and the caller should use it.
    AlreadyThere(Box<CacheEntry>),
}

/// A cache record as stored: the same JSON as a local `cache/<key>.json` (the record's fields
/// and `output_meta`: each output's declared extension and size).
#[derive(Serialize, Deserialize)]
struct StoredCache {
    #[serde(flatten)]
    record: CacheRecord,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    output_meta: BTreeMap<String, OutputMeta>,
}

/// An S3 bucket (and key prefix) holding esteira objects, cache records and run records.
///
/// Cheap to clone (one client, one runtime, shared). Every method is synchronous: it runs
/// the request on the store's own tokio runtime (two worker threads, created with the store)
/// and waits for the answer on a plain channel. That works from any thread — a plain thread,
/// tokio's blocking pool where the orchestrator runs stages, a test — and never nests
/// runtimes (no `Runtime::block_on` or `Handle::block_on` on the caller's thread, which panic
/// inside an async context). Do not call it from an async task: it would block that task's
/// worker thread while it waits.
///
/// Transfers run entirely on that runtime: file I/O through `tokio::fs`, hashing inline
/// (BLAKE3 costs microseconds per network chunk).
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: RemoteUrl,
    store: Arc<dyn ObjectStore>,
    exec: Exec,
    part_size: usize,
    upload_concurrency: usize,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore").field("url", &self.inner.url.to_string()).finish_non_exhaustive()
    }
}

/// The store's runtime. Dropped with `shutdown_background`, which (unlike dropping a
/// `Runtime`) is allowed inside an async context.
struct Exec(Option<tokio::runtime::Runtime>);

impl Exec {
    fn new() -> Result<Self, std::io::Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("esteira-remote")
            .enable_all()
            .build()?;
        Ok(Self(Some(rt)))
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl RemoteStore {
    /// Connects to `url` (`s3://BUCKET/PREFIX`) with the `AWS_*` environment variables and the
    /// default timeouts and retries. Nothing is sent yet (see [`Self::ping`]).
    pub fn from_env(url: &str) -> Result<Self, RemoteError> {
        Self::open(url, &RemoteOptions::default())
    }

    /// Connects to `url` with `options`. Nothing is sent yet (see [`Self::ping`]).
    pub fn open(url: &str, options: &RemoteOptions) -> Result<Self, RemoteError> {
        // reqwest is built without a TLS provider (the workspace's choice): use ring's, unless
        // the process already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = RemoteUrl::parse(url)?;
        let s3 = options.build(&parsed)?;
        Self::with_object_store(parsed, Arc::new(s3), options)
    }

    /// A remote over any object_store implementation (an in-memory one in examples and unit
    /// tests). `url` names it in messages and gives the key prefix.
    pub fn with_object_store(
        url: RemoteUrl,
        store: Arc<dyn ObjectStore>,
        options: &RemoteOptions,
    ) -> Result<Self, RemoteError> {
        let exec = Exec::new().map_err(|e| RemoteError::Config {
            url: url.to_string(),
            message: format!("cannot start the remote's runtime: {e}"),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                url,
                store,
                exec,
                part_size: options.part_size.max(5 << 20),
                upload_concurrency: options.upload_concurrency.max(1),
            }),
        })
    }

    /// The remote's URL (`s3://BUCKET/PREFIX`).
    pub fn url(&self) -> String {
        self.inner.url.to_string()
    }

    /// The bucket key of an object: `PREFIX/objects/ab/<hash>`.
    pub fn object_location(&self, hash: &ContentHash) -> String {
        let hex = hash.to_hex();
        self.key(&format!("objects/{}/{hex}", &hex[..2]))
    }

    /// The bucket key of a cache record: `PREFIX/cache/<key>.json`.
    pub fn cache_location(&self, key: &ContentHash) -> String {
        self.key(&format!("cache/{}.json", key.to_hex()))
    }

    /// The bucket key of a run record: `PREFIX/runs/<id>.json`. Run ids are 1-128 of
    /// `[A-Za-z0-9._-]`, not starting with `.` (esteira's are `20261202T134950.976Z-ad54`).
    pub fn run_location(&self, id: &str) -> Result<String, RemoteError> {
        if !is_run_id(id) {
            return Err(RemoteError::Config {
                url: self.url(),
                message: format!("{:?} is not a run id", esteira_core::excerpt(id, 80)),
            });
        }
        Ok(self.key(&format!("runs/{id}.json")))
    }

    fn key(&self, rest: &str) -> String {
        if self.inner.url.prefix.is_empty() { rest.to_owned() } else { format!("{}/{rest}", self.inner.url.prefix) }
    }

    fn path(key: &str) -> Path {
        // Our keys are made of the validated prefix, fixed words, hex and safe names.
        Path::from(key)
    }

    /// Runs `fut` on the store's runtime and waits for it (see the type's docs).
    fn block_on<T: Send + 'static>(
        &self,
        op: &str,
        fut: impl Future<Output = Result<T, RemoteError>> + Send + 'static,
    ) -> Result<T, RemoteError> {
        let stopped = || RemoteError::Unavailable { op: op.to_owned(), source: "the remote's runtime stopped".into() };
        let handle = self.inner.exec.handle().ok_or_else(stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| stopped())?
    }

    /// Checks that the bucket answers (one LIST of at most a page under the prefix):
    /// `Unavailable` when it cannot be reached, `Denied` for bad credentials, `Config` when
    /// the bucket does not exist.
    pub fn ping(&self) -> Result<(), RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let prefix = self.inner.url.prefix.clone();
        let url = self.url();
        let op = format!("LIST {url}");
        self.block_on(&op.clone(), async move {
            let p = (!prefix.is_empty()).then(|| Path::from(prefix.as_str()));
            match store.list_with_delimiter(p.as_ref()).await {
                Ok(_) => Ok(()),
                Err(e)
                    if matches!(e, object_store::Error::NotFound { .. }) || crate::error::status(&e) == Some(404) =>
                {
                    Err(RemoteError::Config { url, message: format!("the bucket does not exist ({e})") })
                }
                Err(e) => Err(RemoteError::from_store(op, e)),
            }
        })
    }

    // ----- objects -----

    /// What the remote says about an object (`None`: absent). One HEAD request.
    pub fn object_info(&self, hash: &ContentHash) -> Result<Option<ObjectInfo>, RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let key = self.object_location(hash);
        self.block_on(&format!("HEAD {key}"), async move { head(&*store, &key).await })
    }

    /// Whether the remote has the object: present, and not recorded under another hash. (Its
    /// bytes are checked when it is downloaded.)
    pub fn has_object(&self, hash: &ContentHash) -> Result<bool, RemoteError> {
        Ok(self.object_info(hash)?.is_some_and(|i| i.recorded_hash.is_none_or(|h| h == *hash)))
    }

    /// Downloads an object to `dest`: streamed into a temporary file beside `dest`, hashed
    /// while it streams, its size and BLAKE3 hash checked, fsynced, then renamed to `dest`.
    /// Returns its size. Bytes that do not hash to `hash` (or are not the size the remote
    /// announced, or are recorded under another hash) are `Corrupt` and never reach `dest`;
    /// an absent object is `NotFound`.
    pub fn get_object(&self, hash: &ContentHash, dest: &FsPath) -> Result<u64, RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let key = self.object_location(hash);
        let (hash, dest) = (*hash, dest.to_path_buf());
        self.block_on(&format!("GET {key}"), async move { download(&*store, &key, hash, dest).await })
    }

    /// Uploads the file `src` as object `hash`, unless the remote already has it (same size,
    /// recorded under this hash). The bytes sent are hashed as they are read and must hash to
    /// `hash` (else `Local(Corrupt)`, and nothing becomes visible: a multipart upload is
    /// aborted). Afterwards a HEAD must show the size and the recorded hash (else
    /// `Unverified`).
    ///
    /// In transit the bytes are covered by SigV4's signed payload hash (SHA-256 of each PUT and
    /// each part, checked by the server); at rest every download re-hashes them.
    pub fn put_object(&self, hash: &ContentHash, src: &FsPath) -> Result<Upload, RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let key = self.object_location(hash);
        let (hash, src) = (*hash, src.to_path_buf());
        let (part_size, concurrency) = (self.inner.part_size, self.inner.upload_concurrency);
        self.block_on(
            &format!("PUT {key}"),
            async move { upload(&*store, &key, hash, &src, part_size, concurrency).await },
        )
    }

    /// Deletes an object (a corrupt one found on download; garbage collection). Deleting an
    /// absent object is not an error.
    pub fn delete_object(&self, hash: &ContentHash) -> Result<(), RemoteError> {
        self.delete(&self.object_location(hash))
    }

    fn delete(&self, key: &str) -> Result<(), RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let key = key.to_owned();
        let op = format!("DELETE {key}");
        self.block_on(&op.clone(), async move {
            match store.delete(&Self::path(&key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(RemoteError::from_store(op, e)),
            }
        })
    }

    /// Every object in the remote, with its size, sorted by hash (keys that are not objects
    /// are skipped).
    pub fn list_objects(&self) -> Result<Vec<(ContentHash, u64)>, RemoteError> {
        let mut out: Vec<(ContentHash, u64)> = self
            .list(&self.key("objects"))?
            .into_iter()
            .filter_map(|(name, size)| name.parse().ok().map(|h| (h, size)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// (file name, size) of every key under `dir` (recursively).
    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let dir = dir.to_owned();
        let op = format!("LIST {dir}");
        self.block_on(&op.clone(), async move {
            let metas: Vec<object_store::ObjectMeta> =
                store.list(Some(&Self::path(&dir))).try_collect().await.map_err(|e| RemoteError::from_store(op, e))?;
            Ok(metas.into_iter().filter_map(|m| m.location.filename().map(|f| (f.to_owned(), m.size))).collect())
        })
    }

    // ----- cache records -----

    /// The cache record under `key`, if any: parsed and checked to be the record of `key`
    /// (its kind, version, params and inputs hash to it; sizes only for listed outputs), else
    /// `InvalidRecord`. Its objects are not checked here.
    pub fn get_cache_record(&self, key: &ContentHash) -> Result<Option<CacheEntry>, RemoteError> {
        let store = Arc::clone(&self.inner.store);
        let location = self.cache_location(key);
        let key = *key;
        self.block_on(&format!("GET {location}"), async move { get_record(&*store, &location, &key).await })
    }

    /// Creates the cache record under its key unless one is there: a conditional create
    /// (`If-None-Match: *`), so of any number of concurrent writers exactly one gets
    /// [`RecordPut::Created`] and the others [`RecordPut::AlreadyThere`] with the winner's
    /// record.
    ///
    /// Before writing, every output object must be in the remote with the size the entry
    /// records (sizes missing from the entry are taken from the remote) and its hash recorded:
    /// a remote record never names a missing object. Upload the objects first
    /// ([`Self::put_object`]).
    pub fn put_cache_record_if_absent(&self, entry: &CacheEntry) -> Result<RecordPut, RemoteError> {
        let key = entry.record.key;
        let location = self.cache_location(&key);
        if let Some(why) = entry.record.key_problem(&key) {
            return Err(RemoteError::InvalidRecord { location, reason: why });
        }
        let mut meta = entry.meta.clone();
        for (name, hash) in &entry.record.outputs {
            let info = self.object_info(hash)?.ok_or_else(|| RemoteError::NotFound {
                what: format!("object {} (output `{name}` of cache record {})", hash.short(), key.short()),
            })?;
            if info.recorded_hash != Some(*hash) {
                return Err(RemoteError::Unverified {
                    hash: hash.to_hex(),
                    reason: "the remote object does not record its hash; upload it with put_object".into(),
                });
            }
            let m = meta.entry(name.clone()).or_insert(OutputMeta { ext: None, size: info.size });
            if m.size != info.size {
                return Err(RemoteError::Unverified {
                    hash: hash.to_hex(),
                    reason: format!(
                        "output `{name}` is recorded as {} bytes, the remote object has {}",
                        m.size, info.size
                    ),
                });
            }
        }
        meta.retain(|name, _| entry.record.outputs.contains_key(name));
        let stored = StoredCache { record: entry.record.clone(), output_meta: meta };
        let body = serde_json::to_vec_pretty(&stored)
            .map_err(|e| RemoteError::InvalidRecord { location: location.clone(), reason: e.to_string() })?;
        let store = Arc::clone(&self.inner.store);
        self.block_on(&format!("PUT {location}"), async move {
            // A record deleted between our failed create and our read (a repair): try again.
            for _ in 0..3 {
                let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
                match store.put_opts(&Self::path(&location), PutPayload::from(body.clone()), opts).await {
                    Ok(_) => return Ok(RecordPut::Created),
                    Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {}
                    Err(e) => return Err(RemoteError::from_store(format!("PUT {location} (If-None-Match: *)"), e)),
                }
                if let Some(winner) = get_record(&*store, &location, &key).await? {
                    return Ok(RecordPut::AlreadyThere(Box::new(winner)));
                }
            }
            Err(RemoteError::Remote {
                op: format!("PUT {location}"),
                source: "the record kept appearing and vanishing".into(),
            })
        })
    }

    /// Deletes the cache record under `key` (one naming objects the remote lost, so that a
    /// new one can be created). Absent is not an error.
    pub fn delete_cache_record(&self, key: &ContentHash) -> Result<(), RemoteError> {
        self.delete(&self.cache_location(key))
    }

    /// Every cache key in the remote, sorted.
    pub fn list_cache_keys(&self) -> Result<Vec<ContentHash>, RemoteError> {
        let mut out: Vec<ContentHash> = self
            .list(&self.key("cache"))?
            .into_iter()
            .filter_map(|(name, _)| name.strip_suffix(".json").and_then(|h| h.parse().ok()))
            .collect();
        out.sort();
        Ok(out)
    }

    // ----- run records -----

    /// Writes (or overwrites) a run record.
    pub fn put_run(&self, record: &RunRecord) -> Result<(), RemoteError> {
        let location = self.run_location(&record.id)?;
        let body = serde_json::to_vec_pretty(record)
            .map_err(|e| RemoteError::InvalidRecord { location: location.clone(), reason: e.to_string() })?;
        let store = Arc::clone(&self.inner.store);
        let op = format!("PUT {location}");
        self.block_on(&op.clone(), async move {
            store.put(&Self::path(&location), body.into()).await.map_err(|e| RemoteError::from_store(op, e))?;
            Ok(())
        })
    }

    /// The run record with exactly this id, if any (checked to be the record of `id`).
    pub fn get_run(&self, id: &str) -> Result<Option<RunRecord>, RemoteError> {
        let location = self.run_location(id)?;
        let store = Arc::clone(&self.inner.store);
        let op = format!("GET {location}");
        let id = id.to_owned();
        self.block_on(&op.clone(), async move {
            let Some(bytes) = get_bytes(&*store, &location).await? else { return Ok(None) };
            let run: RunRecord = serde_json::from_slice(&bytes)
                .map_err(|e| RemoteError::InvalidRecord { location: location.clone(), reason: e.to_string() })?;
            if run.id != id {
                return Err(RemoteError::InvalidRecord {
                    location,
                    reason: format!("it records run {}", esteira_core::excerpt(&run.id, 80)),
                });
            }
            Ok(Some(run))
        })
    }

    /// Run ids in the remote, oldest first (ids sort by time).
    pub fn list_runs(&self) -> Result<Vec<String>, RemoteError> {
        let mut ids: Vec<String> = self
            .list(&self.key("runs"))?
            .into_iter()
            .filter_map(|(name, _)| name.strip_suffix(".json").map(str::to_owned))
            .filter(|id| is_run_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The id of a remote run given as an id, a unique id prefix, or `latest`.
    pub fn resolve_run(&self, id: &str) -> Result<String, RemoteError> {
        let ids = self.list_runs()?;
        if id == "latest" {
            return ids.last().cloned().ok_or_else(|| RemoteError::NotFound { what: "a run (latest)".into() });
        }
        let matches: Vec<&String> = ids.iter().filter(|r| r.starts_with(id)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(RemoteError::NotFound { what: format!("run {}", esteira_core::excerpt(id, 80)) }),
            many => Err(RemoteError::Config {
                url: self.url(),
                message: format!("run {}: ambiguous, {} runs start with it", esteira_core::excerpt(id, 80), many.len()),
            }),
        }
    }
}

/// Whether `id` can name a run record: 1-128 of `[A-Za-z0-9._-]`, not starting with `.` (one
/// plain key segment; esteira's ids are `20261202T134950.976Z-ad54`).
fn is_run_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// HEAD of an object, with its recorded hash.
async fn head(store: &dyn ObjectStore, key: &str) -> Result<Option<ObjectInfo>, RemoteError> {
    let opts = GetOptions::new().with_head(true);
    match store.get_opts(&RemoteStore::path(key), opts).await {
        Ok(r) => Ok(Some(ObjectInfo { size: r.meta.size, recorded_hash: recorded_hash(&r.attributes) })),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(RemoteError::from_store(format!("HEAD {key}"), e)),
    }
}

fn recorded_hash(attributes: &Attributes) -> Option<ContentHash> {
    attributes.get(&Attribute::Metadata(HASH_METADATA.into())).and_then(|v| v.parse().ok())
}

/// The whole body of a small key (`None`: absent).
async fn get_bytes(store: &dyn ObjectStore, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
    let op = || format!("GET {key}");
    match store.get(&RemoteStore::path(key)).await {
        Ok(r) => Ok(Some(r.bytes().await.map_err(|e| RemoteError::from_store(op(), e))?.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(RemoteError::from_store(op(), e)),
    }
}

async fn get_record(
    store: &dyn ObjectStore,
    location: &str,
    key: &ContentHash,
) -> Result<Option<CacheEntry>, RemoteError> {
    let Some(bytes) = get_bytes(store, location).await? else { return Ok(None) };
    let invalid = |reason: String| RemoteError::InvalidRecord { location: location.to_owned(), reason };
    let stored: StoredCache = serde_json::from_slice(&bytes).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    if let Some(why) = stored.record.key_problem(key) {
        return Err(invalid(why));
    }
    if let Some(name) = stored.output_meta.keys().find(|n| !stored.record.outputs.contains_key(*n)) {
        return Err(invalid(format!("it records the size of `{name}`, which it does not list as an output")));
    }
    Ok(Some(CacheEntry { record: stored.record, meta: stored.output_meta }))
}

/// Removes a temporary file unless disarmed.
struct TmpFile(Option<PathBuf>);

impl Drop for TmpFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn tmp_beside(dest: &FsPath) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest.file_name().map_or_else(|| "object".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.{}-{n}.part", std::process::id()))
}

fn finalize(hasher: &blake3::Hasher) -> ContentHash {
    // 64 hex digits always parse.
    hasher.finalize().to_hex().parse().unwrap_or_else(|_| ContentHash::of_bytes(&[]))
}

async fn download(store: &dyn ObjectStore, key: &str, hash: ContentHash, dest: PathBuf) -> Result<u64, RemoteError> {
    let op = || format!("GET {key}");
    let corrupt = |reason: String| RemoteError::Corrupt { hash: hash.to_hex(), reason };
    let result = match store.get(&RemoteStore::path(key)).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(RemoteError::NotFound { what: format!("object {}", hash.short()) });
        }
        Err(e) => return Err(RemoteError::from_store(op(), e)),
    };
    if let Some(recorded) = recorded_hash(&result.attributes)
        && recorded != hash
    {
        return Err(corrupt(format!("its uploader recorded it as object {}", recorded.short())));
    }
    let expected = result.meta.size;
    let tmp_path = tmp_beside(&dest);
    let mut file = tokio::fs::File::create(&tmp_path).await.map_err(|e| RemoteError::io(&tmp_path, e))?;
    let tmp = TmpFile(Some(tmp_path.clone()));
    let mut hasher = blake3::Hasher::new();
    let mut got = 0u64;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RemoteError::from_store(op(), e))?;
        got += chunk.len() as u64;
        if got > expected {
            return Err(corrupt(format!("more than the {expected} bytes the remote announced")));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(|e| RemoteError::io(&tmp_path, e))?;
    }
    if got != expected {
        return Err(corrupt(format!("{got} bytes arrived, the remote announced {expected}")));
    }
    let actual = finalize(&hasher);
    if actual != hash {
        return Err(corrupt(format!("its {got} bytes hash to {}", actual.short())));
    }
    file.sync_all().await.map_err(|e| RemoteError::io(&tmp_path, e))?;
    drop(file);
    tokio::fs::rename(&tmp_path, &dest).await.map_err(|e| RemoteError::io(&dest, e))?;
    drop(tmp); // nothing left to remove
    Ok(got)
}

async fn upload(
    store: &dyn ObjectStore,
    key: &str,
    hash: ContentHash,
    src: &FsPath,
    part_size: usize,
    concurrency: usize,
) -> Result<Upload, RemoteError> {
    let op = || format!("PUT {key}");
    let md = tokio::fs::symlink_metadata(src).await.map_err(|e| RemoteError::io(src, e))?;
    if !md.file_type().is_file() {
        return Err(RemoteError::io(src, std::io::Error::other("not a regular file")));
    }
    let size = md.len();
    if let Some(info) = head(store, key).await?
        && info.size == size
        && info.recorded_hash == Some(hash)
    {
        return Ok(Upload::Present { bytes: size });
    }
    let local_corrupt = |actual: ContentHash| {
        RemoteError::Local(esteira_core::CoreError::Corrupt { expected: hash.to_hex(), actual: actual.to_hex() })
    };
    let attributes = Attributes::from_iter([(Attribute::Metadata(HASH_METADATA.into()), hash.to_hex())]);
    let location = RemoteStore::path(key);
    if size <= part_size as u64 {
        let bytes = tokio::fs::read(src).await.map_err(|e| RemoteError::io(src, e))?;
        let actual = ContentHash::of_bytes(&bytes);
        if actual != hash {
            return Err(local_corrupt(actual));
        }
        let opts = PutOptions { mode: PutMode::Overwrite, attributes, ..PutOptions::default() };
        store.put_opts(&location, bytes.into(), opts).await.map_err(|e| RemoteError::from_store(op(), e))?;
    } else {
        let opts = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
        let parts = store.put_multipart_opts(&location, opts).await.map_err(|e| RemoteError::from_store(op(), e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(parts, part_size);
        let sent = send_parts(&mut writer, src, part_size, concurrency).await;
        match sent {
            Ok(actual) if actual == hash => {
                writer.finish().await.map_err(|e| RemoteError::from_store(op(), e))?;
            }
            Ok(actual) => {
                let _ = writer.abort().await;
                return Err(local_corrupt(actual));
            }
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        }
    }
    match head(store, key).await? {
        Some(info) if info.size == size && info.recorded_hash == Some(hash) => Ok(Upload::Uploaded { bytes: size }),
        Some(info) => Err(RemoteError::Unverified {
            hash: hash.to_hex(),
            reason: format!(
                "the remote holds {} bytes recorded as {}, {size} bytes were sent",
                info.size,
                info.recorded_hash.map_or_else(|| "no hash".to_owned(), |h| h.short())
            ),
        }),
        None => Err(RemoteError::Unverified { hash: hash.to_hex(), reason: "the remote does not have it".into() }),
    }
}

/// Reads `src` in parts, hashing them, and queues them on `writer` (at most `concurrency` in
/// flight). Returns the hash of everything read.
async fn send_parts(
    writer: &mut WriteMultipart,
    src: &FsPath,
    part_size: usize,
    concurrency: usize,
) -> Result<ContentHash, RemoteError> {
    let mut file = tokio::fs::File::open(src).await.map_err(|e| RemoteError::io(src, e))?;
    let mut hasher = blake3::Hasher::new();
    loop {
        let mut part = vec![0u8; part_size];
        let mut filled = 0;
        while filled < part_size {
            let n = file.read(&mut part[filled..]).await.map_err(|e| RemoteError::io(src, e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        part.truncate(filled);
        hasher.update(&part);
        writer
            .wait_for_capacity(concurrency)
            .await
            .map_err(|e| RemoteError::from_store(format!("PUT part of {}", src.display()), e))?;
        writer.put(part.into());
        if filled < part_size {
            break;
        }
    }
    Ok(finalize(&hasher))
}

#[cfg(test)]
mod tests {
    use super::is_run_id;

    #[test]
    fn run_ids_as_esteira_writes_them_name_records() {
        // Every real id has a dot (milliseconds): these were once refused as keys.
        assert!(is_run_id("20261202T134950.976Z-ad54"));
        assert!(is_run_id("r1"));
        for bad in ["", ".hidden", "a/b", "..", "a b", "a\0b", &"x".repeat(129)] {
            assert!(!is_run_id(bad), "{bad:?}");
        }
    }
}
