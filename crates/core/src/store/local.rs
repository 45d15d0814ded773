//! The directory-backed store.
//!
//! ```text
//! <root>/objects/ab/abcdef…   immutable, read-only objects named by BLAKE3 (regular files only)
//! <root>/cache/<key>.json     cache records (with each output's declared extension and size)
//! <root>/runs/<id>.json       run records
//! <root>/tmp/                 objects being written (never visible under objects/)
//! <root>/memo.json            hints: file hashes and the stamps of verified objects (checksummed)
//! <root>/lock                 who holds the writer lock (the lock is on <root> itself)
//! <root>/corrupt/             what `esteira verify --repair` quarantined
//! ```
//!
//! A record that cannot be read is skipped with a warning naming its file wherever records are
//! listed, a cache record that does not fit its key is a miss, and [`LocalStore::cache_scan`] and
//! [`LocalStore::run_scan`] report both for `esteira verify`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::memo::{Memo, Stamp};
use super::records::{BadRecord, CacheEntry, KeyParts, OutputMeta, RecordScan};
use super::{ArtifactStore, CacheRecord, ObjectSink, RunRecord, StoreLock};
use crate::hash::HashingWriter;
use crate::{ContentHash, CoreError, OutputSpec};

/// A store in a local directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    hints: Arc<Mutex<Hints>>,
}

/// The memo in memory, and whether it changed since it was read.
#[derive(Debug, Default)]
struct Hints {
    memo: Memo,
    dirty: bool,
}

impl Hints {
    fn object_verified(hints: &Mutex<Self>, hash: &ContentHash, stamp: &Stamp) -> bool {
        hints.lock().is_ok_and(|h| h.memo.object_verified(hash, stamp))
    }

    /// Records the stamp `path` has now as verified for `hash`.
    fn remember_object(hints: &Mutex<Self>, hash: &ContentHash, path: &Path) {
        if let Ok(md) = fs::symlink_metadata(path)
            && md.file_type().is_file()
            && let Ok(mut h) = hints.lock()
            && h.memo.insert_object(*hash, Stamp::from_metadata(&md))
        {
            h.dirty = true;
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, CoreError> {
        let root = root.into();
        for sub in ["objects", "cache", "runs", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| CoreError::io(&p, e))?;
        }
        let hints = load_memo(&root.join("memo.json"));
        Ok(Self { root, hints: Arc::new(Mutex::new(hints)) })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the single-writer lock, waiting up to `wait`. Then removes leftovers of killed
    /// writers from `tmp/` (safe: we are now the only writer).
    pub fn lock(&self, command: &str, wait: Duration) -> Result<StoreLock, CoreError> {
        let lock = StoreLock::acquire(&self.root, command, wait)?;
        let tmp = self.root.join("tmp");
        if fs::symlink_metadata(&tmp).is_ok_and(|m| !m.is_dir()) {
            // Never clear a directory elsewhere: replace the link (or file) with a directory.
            tracing::warn!("{}: not a directory of the store (a symbolic link?); replacing it", tmp.display());
            fs::remove_file(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
            fs::create_dir(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
        }
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(lock)
    }

    fn object_file(&self, hash: &ContentHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join("objects").join(&hex[..2]).join(hex)
    }

    /// The object's metadata, without following a symlink: `MissingObject` when there is no
    /// entry, `BadObject` when the entry is not a regular file.
    fn object_metadata(&self, hash: &ContentHash) -> Result<(PathBuf, fs::Metadata), CoreError> {
        let p = self.object_file(hash);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_file() => Ok((p, md)),
            Ok(md) => {
                let what = if md.file_type().is_symlink() {
                    "a symbolic link"
                } else if md.is_dir() {
                    "a directory"
                } else {
                    "a special file"
                };
                Err(CoreError::BadObject { path: p, reason: format!("is {what}, not a regular file") })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CoreError::MissingObject(hash.to_hex())),
            Err(e) => Err(CoreError::io(&p, e)),
        }
    }

    /// Checks an object cheaply before it is used without being read: it must be a regular file,
    /// and either have the stamp (size, mtime, inode, ctime) it had when its bytes last hashed to
    /// its name, or hash to its name now (then that stamp is remembered). Returns its size.
    ///
    /// Any write, truncation, `chmod` or replacement through the file system moves the ctime,
    /// so a changed object is re-hashed and refused (`Corrupt`); a no-op run costs one `lstat`
    /// per object. [`ArtifactStore::verify_object`] always re-hashes.
    pub fn check_object(&self, hash: &ContentHash) -> Result<u64, CoreError> {
        self.checked_object_metadata(hash).map(|md| md.len())
    }

    /// [`Self::check_object`], returning the object's metadata (from `lstat`, as it was checked).
    pub fn checked_object_metadata(&self, hash: &ContentHash) -> Result<fs::Metadata, CoreError> {
        let (path, md) = self.object_metadata(hash)?;
        if !Hints::object_verified(&self.hints, hash, &Stamp::from_metadata(&md)) {
            self.rehash(hash, &path)?;
        }
        Ok(md)
    }

    /// Re-hashes the object at `path`; on a match remembers its stamp (if it did not change
    /// while being read).
    fn rehash(&self, hash: &ContentHash, path: &Path) -> Result<(), CoreError> {
        let before = fs::symlink_metadata(path).map(|m| Stamp::from_metadata(&m)).ok();
        let actual = ContentHash::of_file(path)?;
        if actual != *hash {
            if let Ok(mut h) = self.hints.lock()
                && h.memo.forget_object(hash)
            {
                h.dirty = true;
            }
            return Err(CoreError::Corrupt { expected: hash.to_hex(), actual: actual.to_hex() });
        }
        let after = fs::symlink_metadata(path).map(|m| Stamp::from_metadata(&m)).ok();
        if let Some(stamp) = before.filter(|b| after.as_ref() == Some(b))
            && let Ok(mut h) = self.hints.lock()
            && h.memo.insert_object(*hash, stamp)
        {
            h.dirty = true;
        }
        Ok(())
    }

    /// Moves a bad object (or whatever is in its place) to `<root>/corrupt/`, out of the way of
    /// the next run. Returns where it went.
    pub fn quarantine_object(&self, hash: &ContentHash) -> Result<PathBuf, CoreError> {
        let from = self.object_file(hash);
        let dir = self.root.join("corrupt");
        fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        let to = dir.join(hash.to_hex());
        fs::rename(&from, &to).map_err(|e| CoreError::io(&from, e))?;
        self.forget_object(hash);
        Ok(to)
    }

    fn forget_object(&self, hash: &ContentHash) {
        if let Ok(mut h) = self.hints.lock()
            && h.memo.forget_object(hash)
        {
            h.dirty = true;
        }
    }

    /// The hash of a file named in a pipeline file, from the memo when its (path, size, mtime,
    /// inode, ctime) are unchanged and the object it names (if present) has its size, else by
    /// hashing it.
    pub fn hash_file_memo(&self, path: &Path) -> Result<ContentHash, CoreError> {
        let canonical = fs::canonicalize(path).map_err(|e| CoreError::io(path, e))?;
        let key = canonical.to_string_lossy().into_owned();
        let stamp = Stamp::of(&canonical).map_err(|e| CoreError::io(path, e))?;
        let remembered = self.hints.lock().ok().and_then(|h| h.memo.file(&key, &stamp));
        if let Some(h) = remembered {
            match fs::symlink_metadata(self.object_file(&h)) {
                Ok(md) if md.len() != stamp.size() => {
                    tracing::warn!(
                        "{}: the memo names object {} of {} bytes for this file of {} bytes; re-hashing it",
                        path.display(),
                        h.short(),
                        md.len(),
                        stamp.size()
                    );
                    if let Ok(mut m) = self.hints.lock() {
                        m.memo.forget_file(&key);
                        m.dirty = true;
                    }
                }
                _ => return Ok(h),
            }
        }
        let hash = ContentHash::of_file(&canonical)?;
        if let Ok(mut m) = self.hints.lock() {
            m.memo.insert_file(key, stamp, hash);
            m.dirty = true;
        }
        Ok(hash)
    }

    /// Brings a file into the store (hash via the memo; copy only if the object is new).
    pub fn import_file(&self, path: &Path) -> Result<ContentHash, CoreError> {
        let hash = self.hash_file_memo(path)?;
        if self.contains(&hash) {
            return Ok(hash);
        }
        let stored = self.put_file(path)?;
        if stored != hash {
            // The file changed between hashing and copying: trust the copy.
            tracing::warn!(path = %path.display(), "file changed while being imported");
        }
        Ok(stored)
    }

    /// Persists the memo if it changed. Call it only while holding the lock.
    pub fn save_memo(&self) -> Result<(), CoreError> {
        let Ok(mut m) = self.hints.lock() else { return Ok(()) };
        if !m.dirty {
            return Ok(());
        }
        write_atomic(&self.root, &self.root.join("memo.json"), &m.memo.to_bytes())?;
        m.dirty = false;
        Ok(())
    }

    /// Makes an object visible at `dest` (hard link, else copy), replacing what was there.
    /// The object must be a regular file; `dest` is the caller's to choose safely.
    ///
    /// A hard link moves the object's ctime (its link count changed), which would make the next
    /// [`Self::check_object`] re-hash it. So when the object had a verified stamp just before the
    /// link and nothing but the ctime and the link count (up by one) moved across it, the stamp
    /// it has after the link is remembered as verified.
    pub fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError> {
        let (src, before) = self.object_metadata(hash)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
        }
        let _ = fs::remove_file(dest);
        let verified = Hints::object_verified(&self.hints, hash, &Stamp::from_metadata(&before));
        if fs::hard_link(&src, dest).is_err() {
            fs::copy(&src, dest).map_err(|e| CoreError::io(dest, e))?;
        } else if verified
            && let Ok(after) = fs::symlink_metadata(&src)
            && after.file_type().is_file()
            && Stamp::from_metadata(&after).same_but_ctime(&Stamp::from_metadata(&before))
            && one_more_link(&before, &after)
            && let Ok(mut h) = self.hints.lock()
            && h.memo.insert_object(*hash, Stamp::from_metadata(&after))
        {
            h.dirty = true;
        }
        Ok(())
    }

    /// Run ids, oldest first, from the file names alone (no record is read).
    pub fn run_ids(&self) -> Result<Vec<String>, CoreError> {
        run_ids(&self.root)
    }

    /// The run recorded under exactly `id` (no prefix matching, no directory listing):
    /// `Ok(None)` when there is none, `Err` when its file cannot be read.
    pub fn run_by_id(&self, id: &str) -> Result<Option<RunRecord>, CoreError> {
        self.run_fields_by_id::<RunRecord>(id, |r| &r.id)
    }

    /// Some fields of the run recorded under exactly `id`, read into `T` (a struct naming only
    /// the fields it needs, which costs less to parse than a [`RunRecord`]); `id_of` gives the id
    /// the record names, which must be `id`. `Ok(None)` when there is no such run, `Err` when its
    /// file cannot be read or names another run.
    pub fn run_fields_by_id<T: DeserializeOwned>(
        &self,
        id: &str,
        id_of: impl Fn(&T) -> &str,
    ) -> Result<Option<T>, CoreError> {
        // Ids name files in `runs/`: one plain file name, nothing else.
        if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\', '\0']) {
            return Ok(None);
        }
        let path = self.run_file(id);
        let unreadable = |why: String| CoreError::Run(format!("{id}: {}: unreadable record ({why})", path.display()));
        match read_record::<T>(&path).map_err(unreadable)? {
            Some(r) if id_of(&r) != id => {
                Err(unreadable(format!("it records run {}, not {id}", crate::excerpt(id_of(&r), 80))))
            }
            other => Ok(other),
        }
    }

    /// The file a cache record under `key` lives in (for messages).
    pub fn cache_record_path(&self, key: &ContentHash) -> PathBuf {
        self.cache_file(key)
    }

    fn cache_file(&self, key: &ContentHash) -> PathBuf {
        self.root.join("cache").join(format!("{}.json", key.to_hex()))
    }

    fn run_file(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(format!("{id}.json"))
    }

    /// Names run `id` `name` (`run --name`, `runs tag`): `<store>/names/<name>` holds the id,
    /// written by rename, so a name points at one run and moves when given again. A name is a
    /// plain name ([`crate::name_problem`]) other than `latest`; the run must exist.
    pub fn name_run(&self, name: &str, id: &str) -> Result<(), CoreError> {
        if let Some(why) = crate::name_problem(name) {
            return Err(CoreError::Run(format!("run name {:?}: {why}", crate::excerpt(name, 80))));
        }
        if name == "latest" {
            return Err(CoreError::Run("`latest` always means the newest run: choose another name".into()));
        }
        if !self.run_file(id).is_file() {
            return Err(CoreError::Run(format!("{id}: no such run")));
        }
        let dir = self.root.join("names");
        fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        let tmp = self.root.join("tmp").join(format!("name-{name}-{}", std::process::id()));
        fs::write(&tmp, id).map_err(|e| CoreError::io(&tmp, e))?;
        let dest = dir.join(name);
        fs::rename(&tmp, &dest).map_err(|e| CoreError::io(&dest, e))
    }

    /// Every run name and the run it points at (names whose file is not a plain file, or whose
    /// run is gone, are left out).
    pub fn run_names(&self) -> Result<BTreeMap<String, String>, CoreError> {
        let dir = self.root.join("names");
        let mut names = BTreeMap::new();
        let Ok(entries) = fs::read_dir(&dir) else { return Ok(names) };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if crate::name_problem(&name).is_some() || !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            if let Ok(id) = fs::read_to_string(e.path()) {
                let id = id.trim().to_owned();
                if !id.contains(['/', '\\']) && self.run_file(&id).is_file() {
                    names.insert(name, id);
                }
            }
        }
        Ok(names)
    }

    /// The cache record under `key` with what the store recorded about its outputs. A record
    /// that cannot be read, or that does not belong under `key`, is a miss (with a warning
    /// naming its file), so the stage runs again and replaces it.
    pub fn cache_entry(&self, key: &ContentHash) -> Result<Option<CacheEntry>, CoreError> {
        Ok(self.read_cache_entry(key, None))
    }

    /// [`Self::cache_entry`] for a key just computed from `parts`: a record made of exactly
    /// those parts is known to belong under it without hashing it again
    /// ([`CacheRecord::key_problem_for`]).
    pub fn cache_entry_for(&self, key: &ContentHash, parts: &KeyParts<'_>) -> Result<Option<CacheEntry>, CoreError> {
        Ok(self.read_cache_entry(key, Some(parts)))
    }

    /// Never an error: an unusable record is a miss.
    fn read_cache_entry(&self, key: &ContentHash, parts: Option<&KeyParts<'_>>) -> Option<CacheEntry> {
        let path = self.cache_file(key);
        let problem = |r: &CacheRecord| match parts {
            Some(parts) => r.key_problem_for(key, parts),
            None => r.key_problem(key),
        };
        match read_cache_file(&path).and_then(|e| match e {
            Some(entry) => match problem(&entry.record) {
                Some(why) => Err(why),
                None => Ok(Some(entry)),
            },
            None => Ok(None),
        }) {
            Ok(entry) => entry,
            Err(why) => {
                tracing::warn!(
                    "{}: unusable cache record ({why}); treating it as a miss (`esteira verify` reports such records)",
                    path.display()
                );
                None
            }
        }
    }

    /// Writes a cache record with each output's declared extension (from `declared`) and its
    /// object's size, checked when the record is next used.
    pub fn cache_put_declared(&self, record: &CacheRecord, declared: &[OutputSpec]) -> Result<(), CoreError> {
        let mut meta = BTreeMap::new();
        for (name, hash) in &record.outputs {
            let (_, md) = self.object_metadata(hash)?;
            let ext = declared.iter().find(|o| o.name == *name).map(|o| o.ext.clone());
            meta.insert(name.clone(), OutputMeta { ext, size: md.len() });
        }
        let stored = StoredCache { record: record.clone(), output_meta: meta };
        write_json_atomic(&self.root, &self.cache_file(&record.key), &stored)
    }

    /// Every cache record, checked as a run would check it before use (file name, key, output
    /// sizes against the objects present), and every cache file that fails.
    pub fn cache_scan(&self) -> Result<RecordScan<CacheEntry>, CoreError> {
        let mut scan = self.scan_cache_files()?;
        let mut good = Vec::with_capacity(scan.records.len());
        for (path, entry) in std::mem::take(&mut scan.records) {
            match self.cache_entry_problem(&entry) {
                Some(reason) => scan.bad.push(BadRecord { path, reason }),
                None => good.push(entry),
            }
        }
        Ok(RecordScan { records: good, bad: scan.bad })
    }

    fn cache_entry_problem(&self, entry: &CacheEntry) -> Option<String> {
        if let Some(why) = entry.record.key_problem(&entry.record.key) {
            return Some(why);
        }
        for (name, meta) in &entry.meta {
            let Some(hash) = entry.record.outputs.get(name) else {
                return Some(format!("it records the size of `{name}`, which it does not list as an output"));
            };
            if let Ok((_, md)) = self.object_metadata(hash)
                && md.len() != meta.size
            {
                return Some(format!(
                    "output `{name}` is recorded as {} bytes, object {} has {}",
                    meta.size,
                    hash.short(),
                    md.len()
                ));
            }
        }
        None
    }

    /// The readable cache files, each with its path, and the unreadable ones (or ones named
    /// for another key).
    fn scan_cache_files(&self) -> Result<RecordScan<(PathBuf, CacheEntry)>, CoreError> {
        let dir = self.root.join("cache");
        let mut records = Vec::new();
        let mut bad = Vec::new();
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| CoreError::io(&dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let named = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<ContentHash>().ok());
            match (named, read_cache_file(&path)) {
                (_, Err(reason)) => bad.push(BadRecord { path, reason }),
                (None, Ok(_)) => {
                    bad.push(BadRecord { path, reason: "its name is not `<key>.json`".into() });
                }
                (Some(k), Ok(Some(entry))) if k != entry.record.key => {
                    let reason = format!("it names key {}, not {}", entry.record.key.short(), k.short());
                    bad.push(BadRecord { path, reason });
                }
                (Some(_), Ok(Some(entry))) => records.push((path, entry)),
                // Removed while we listed the directory.
                (Some(_), Ok(None)) => {}
            }
        }
        Ok(RecordScan { records, bad })
    }

    /// Every run record, oldest first, and every run file that cannot be read (or whose id is
    /// not its file name).
    pub fn run_scan(&self) -> Result<RecordScan<RunRecord>, CoreError> {
        let mut records = Vec::new();
        let mut bad = Vec::new();
        for id in run_ids(&self.root)? {
            let path = self.run_file(&id);
            match read_run_file(&path, &id) {
                Ok(Some(r)) => records.push(r),
                Ok(None) => {}
                Err(reason) => bad.push(BadRecord { path, reason }),
            }
        }
        Ok(RecordScan { records, bad })
    }
}

/// Reads `memo.json`; a missing, old, damaged or edited memo is an empty one (it only saves
/// re-hashing), marked changed so the next save replaces it.
fn load_memo(path: &Path) -> Hints {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Hints::default(),
        Err(e) => {
            tracing::warn!("{}: cannot read the memo ({e}); files and objects are re-hashed", path.display());
            return Hints { memo: Memo::default(), dirty: true };
        }
    };
    match Memo::from_bytes(&bytes) {
        Ok(memo) => Hints { memo, dirty: false },
        Err(why) => {
            #[derive(Deserialize)]
            struct Old {
                #[allow(dead_code, reason = "only its presence is checked")]
                entries: serde_json::Value,
            }
            if serde_json::from_slice::<Old>(&bytes).is_ok() {
                tracing::debug!("{}: a memo from an older esteira; starting a new one", path.display());
            } else {
                tracing::warn!("{}: ignoring the memo ({why}); files and objects are re-hashed once", path.display());
            }
            Hints { memo: Memo::default(), dirty: true }
        }
    }
}

/// A cache record as written: the record's fields and `output_meta`.
#[derive(Serialize, Deserialize)]
struct StoredCache {
    #[serde(flatten)]
    record: CacheRecord,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    output_meta: BTreeMap<String, OutputMeta>,
}

/// [`StoredCache`] as read: the same fields, spelled out rather than flattened (serde buffers a
/// flattened struct whole before reading it; a cache hit reads one record per stage).
#[derive(Deserialize)]
struct StoredCacheFields {
    key: ContentHash,
    kind: String,
    version: String,
    params: serde_json::Value,
    inputs: BTreeMap<String, ContentHash>,
    outputs: BTreeMap<String, ContentHash>,
    #[serde(default)]
    metrics: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    state: serde_json::Value,
    duration_ms: f64,
    run_id: String,
    stage: String,
    #[serde(default)]
    output_meta: BTreeMap<String, OutputMeta>,
}

/// A cache file: `Ok(None)` when absent, `Err(why)` when unreadable.
fn read_cache_file(path: &Path) -> Result<Option<CacheEntry>, String> {
    Ok(read_record::<StoredCacheFields>(path)?.map(|s| CacheEntry {
        record: CacheRecord {
            key: s.key,
            kind: s.kind,
            version: s.version,
            params: s.params,
            inputs: s.inputs,
            outputs: s.outputs,
            metrics: s.metrics,
            state: s.state,
            duration_ms: s.duration_ms,
            run_id: s.run_id,
            stage: s.stage,
        },
        meta: s.output_meta,
    }))
}

/// A run file: `Ok(None)` when absent, `Err(why)` when unreadable or not the record of `id`.
fn read_run_file(path: &Path, id: &str) -> Result<Option<RunRecord>, String> {
    match read_record::<RunRecord>(path)? {
        Some(r) if r.id != id => Err(format!("it records run {}, not {id}", crate::excerpt(&r.id, 80))),
        other => Ok(other),
    }
}

/// Reads a JSON record: `Ok(None)` when absent, `Err(why)` when it cannot be read or parsed.
fn read_record<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("invalid JSON record: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes JSON to a temp file in `<root>/tmp`, fsyncs it and renames it over `dest`.
fn write_json_atomic<T: Serialize>(root: &Path, dest: &Path, value: &T) -> Result<(), CoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| CoreError::Record { path: dest.into(), source: e })?;
    write_atomic(root, dest, &bytes)
}

/// Writes bytes to a temp file in `<root>/tmp`, fsyncs it and renames it over `dest` (a
/// symlink at `dest` is replaced, never followed).
fn write_atomic(root: &Path, dest: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let tmp = tmp_path(root);
    let mut f = File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| CoreError::io(&tmp, e))?;
    f.sync_all().map_err(|e| CoreError::io(&tmp, e))?;
    fs::rename(&tmp, dest).map_err(|e| CoreError::io(dest, e))?;
    Ok(())
}

fn tmp_path(root: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    root.join("tmp").join(format!("{}-{n}-{nanos}.part", std::process::id()))
}

struct LocalSink {
    tmp: PathBuf,
    objects: PathBuf,
    hints: Arc<Mutex<Hints>>,
    // Always `Some` until `commit` takes it.
    writer: Option<HashingWriter<BufWriter<File>>>,
}

impl LocalSink {
    fn writer(&mut self) -> std::io::Result<&mut HashingWriter<BufWriter<File>>> {
        self.writer.as_mut().ok_or_else(|| std::io::Error::other("object already committed"))
    }
}

impl Write for LocalSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer()?.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer()?.flush()
    }
}

impl ObjectSink for LocalSink {
    fn written(&self) -> u64 {
        self.writer.as_ref().map_or(0, HashingWriter::written)
    }

    fn commit(mut self: Box<Self>) -> Result<ContentHash, CoreError> {
        let tmp = self.tmp.clone();
        let objects = self.objects.clone();
        let writer = self.writer.take().ok_or_else(|| CoreError::io(&tmp, std::io::Error::other("committed twice")))?;
        let written = writer.written();
        let (hash, buf) = writer.finish();
        let file = buf.into_inner().map_err(|e| CoreError::io(&tmp, e.into_error()))?;
        let hex = hash.to_hex();
        let dir = objects.join(&hex[..2]);
        let dest = dir.join(&hex);
        // Deduplicate only against an object known to be intact (durable since it was
        // committed: the bytes just written are not needed, nor synced); anything else in its
        // place (a damaged or unverified file, a symlink) is replaced by the bytes just written.
        if let Ok(md) = fs::symlink_metadata(&dest)
            && md.file_type().is_file()
            && md.len() == written
            && Hints::object_verified(&self.hints, &hash, &Stamp::from_metadata(&md))
        {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Ok(hash);
        }
        file.sync_all().map_err(|e| CoreError::io(&tmp, e))?;
        drop(file);
        fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        set_read_only(&tmp)?;
        fs::rename(&tmp, &dest).map_err(|e| CoreError::io(&dest, e))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Hints::remember_object(&self.hints, &hash, &dest);
        Ok(hash)
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        // Not committed (or already renamed away): remove the partial file if still there.
        let _ = fs::remove_file(&self.tmp);
    }
}

fn set_read_only(path: &Path) -> Result<(), CoreError> {
    let mut perms = fs::metadata(path).map_err(|e| CoreError::io(path, e))?.permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| CoreError::io(path, e))
}

impl ArtifactStore for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn contains(&self, hash: &ContentHash) -> bool {
        self.object_metadata(hash).is_ok()
    }

    fn object_path(&self, hash: &ContentHash) -> Result<PathBuf, CoreError> {
        self.object_metadata(hash).map(|(p, _)| p)
    }

    fn begin_object(&self) -> Result<Box<dyn ObjectSink>, CoreError> {
        let tmp = tmp_path(&self.root);
        let file = File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
        Ok(Box::new(LocalSink {
            tmp,
            objects: self.root.join("objects"),
            hints: Arc::clone(&self.hints),
            writer: Some(HashingWriter::new(BufWriter::with_capacity(1 << 16, file))),
        }))
    }

    fn verify_object(&self, hash: &ContentHash) -> Result<(), CoreError> {
        let (path, _) = self.object_metadata(hash)?;
        self.rehash(hash, &path)
    }

    fn list_objects(&self) -> Result<Vec<ContentHash>, CoreError> {
        let dir = self.root.join("objects");
        let mut out = Vec::new();
        for shard in fs::read_dir(&dir).map_err(|e| CoreError::io(&dir, e))?.flatten() {
            let Ok(entries) = fs::read_dir(shard.path()) else { continue };
            for e in entries.flatten() {
                if let Some(h) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                    out.push(h);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn remove_object(&self, hash: &ContentHash) -> Result<(), CoreError> {
        let p = self.object_file(hash);
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))?;
        self.forget_object(hash);
        Ok(())
    }

    fn cache_get(&self, key: &ContentHash) -> Result<Option<CacheRecord>, CoreError> {
        Ok(self.cache_entry(key)?.map(|e| e.record))
    }

    fn cache_put(&self, record: &CacheRecord) -> Result<(), CoreError> {
        self.cache_put_declared(record, &[])
    }

    fn cache_list(&self) -> Result<Vec<CacheRecord>, CoreError> {
        let scan = self.scan_cache_files()?;
        for b in &scan.bad {
            tracing::warn!("{}: unusable cache record skipped ({})", b.path.display(), b.reason);
        }
        let mut out: Vec<CacheRecord> = scan.records.into_iter().map(|(_, e)| e.record).collect();
        out.sort_by_key(|r| r.key);
        Ok(out)
    }

    fn cache_remove(&self, key: &ContentHash) -> Result<(), CoreError> {
        let p = self.cache_file(key);
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))
    }

    fn run_put(&self, record: &RunRecord) -> Result<(), CoreError> {
        write_json_atomic(&self.root, &self.run_file(&record.id), record)
    }

    fn run_get(&self, id: &str) -> Result<RunRecord, CoreError> {
        let ids = run_ids(&self.root)?;
        if id == "latest" {
            // The newest readable run: one damaged record does not hide the others.
            for chosen in ids.iter().rev() {
                let path = self.run_file(chosen);
                match read_run_file(&path, chosen) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(why) => tracing::warn!("{}: unreadable run record skipped ({why})", path.display()),
                }
            }
            return Err(CoreError::Run("latest: the store has no runs yet".into()));
        }
        let matches: Vec<_> = ids.into_iter().filter(|r| r.starts_with(id)).collect();
        let chosen = match matches.len() {
            1 => matches.into_iter().next().unwrap_or_default(),
            // Not an id: a run's name (`run --name`, `runs tag`).
            0 => match self.run_names()?.remove(id) {
                Some(named) => named,
                None => return Err(CoreError::Run(format!("{id}: no such run or run name (see `esteira runs list`)"))),
            },
            n => return Err(CoreError::Run(format!("{id}: ambiguous, {n} runs start with it"))),
        };
        let path = self.run_file(&chosen);
        match read_run_file(&path, &chosen) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(CoreError::Run(format!("{chosen}: record vanished"))),
            Err(why) => Err(CoreError::Run(format!("{chosen}: {}: unreadable record ({why})", path.display()))),
        }
    }

    fn run_list(&self) -> Result<Vec<RunRecord>, CoreError> {
        let scan = self.run_scan()?;
        for b in &scan.bad {
            tracing::warn!("{}: unreadable run record skipped ({})", b.path.display(), b.reason);
        }
        Ok(scan.records)
    }

    fn run_remove(&self, id: &str) -> Result<(), CoreError> {
        let p = self.run_file(id);
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))
    }
}

/// Whether `after` has exactly one more hard link than `before`.
#[cfg(unix)]
fn one_more_link(before: &fs::Metadata, after: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    after.nlink() == before.nlink() + 1
}

#[cfg(not(unix))]
fn one_more_link(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    false
}

fn run_ids(root: &Path) -> Result<Vec<String>, CoreError> {
    let dir = root.join("runs");
    let mut ids: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| CoreError::io(&dir, e))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.strip_suffix(".json")).map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_content_addressed_read_only_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let a = store.put_bytes(b"hello").unwrap();
        let b = store.put_bytes(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, ContentHash::of_bytes(b"hello"));
        let p = store.object_path(&a).unwrap();
        assert!(fs::metadata(&p).unwrap().permissions().readonly());
        assert_eq!(store.list_objects().unwrap(), vec![a]);
        store.verify_object(&a).unwrap();
    }

    #[test]
    fn uncommitted_sink_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        {
            let mut s = store.begin_object().unwrap();
            s.write_all(b"partial").unwrap();
        }
        assert!(store.list_objects().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let h = store.put_bytes(b"original").unwrap();
        let p = store.object_path(&h).unwrap();
        let mut perms = fs::metadata(&p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
        perms.set_readonly(false);
        fs::set_permissions(&p, perms).unwrap();
        fs::write(&p, b"tampered").unwrap();
        assert!(matches!(store.verify_object(&h), Err(CoreError::Corrupt { .. })));
    }

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let _held = store.lock("esteira run", Duration::ZERO).unwrap();
        let err = store.lock("esteira run", Duration::from_millis(150)).unwrap_err();
        assert!(err.to_string().contains("esteira run"), "{err}");
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn taking_the_lock_never_clears_a_directory_outside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let victim = dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("keep.txt"), "precious").unwrap();
        let tmp = dir.path().join("s").join("tmp");
        fs::remove_dir(&tmp).unwrap();
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        let _held = store.lock("esteira run", Duration::ZERO).unwrap();
        assert_eq!(fs::read_to_string(victim.join("keep.txt")).unwrap(), "precious");
        assert!(fs::symlink_metadata(&tmp).unwrap().is_dir());
        store.put_bytes(b"works").unwrap();
    }

    #[test]
    fn memo_avoids_rehash_and_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let f = dir.path().join("in.csv");
        fs::write(&f, "a;b\n1;2\n").unwrap();
        let h1 = store.import_file(&f).unwrap();
        assert_eq!(store.hash_file_memo(&f).unwrap(), h1);
        fs::write(&f, "a;b\n1;3\n").unwrap();
        let h2 = store.hash_file_memo(&f).unwrap();
        assert_ne!(h1, h2);
        store.save_memo().unwrap();
        let reopened = LocalStore::open(dir.path().join("s")).unwrap();
        assert_eq!(reopened.hash_file_memo(&f).unwrap(), h2);
    }

    fn writable(p: &Path) {
        let mut perms = fs::metadata(p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
        perms.set_readonly(false);
        fs::set_permissions(p, perms).unwrap();
    }

    fn record(store: &LocalStore, text: &[u8]) -> CacheRecord {
        let out = store.put_bytes(text).unwrap();
        let inputs = BTreeMap::new();
        let params = serde_json::json!({"a": 1.5});
        CacheRecord {
            key: crate::cache_key("k", "1", &params, &inputs),
            kind: "k".into(),
            version: "1".into(),
            params,
            inputs,
            outputs: BTreeMap::from([("out".to_owned(), out)]),
            metrics: BTreeMap::new(),
            state: serde_json::Value::Null,
            duration_ms: 1.0,
            run_id: "r".into(),
            stage: "s".into(),
        }
    }

    fn run_record(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            status: super::super::RunStatus::Succeeded,
            pipeline: "p.toml".into(),
            config_hash: ContentHash::of_bytes(b"p"),
            esteira_version: "0".into(),
            build: super::super::BuildInfo::default(),
            command: "esteira run".into(),
            host: "h".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            ended_at: None,
            order: vec![],
            overrides: Vec::new(),
            sweep: None,
            stages: BTreeMap::new(),
        }
    }

    #[test]
    fn a_truncated_cache_record_is_a_miss_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let r = record(&store, b"x");
        store.cache_put(&r).unwrap();
        assert_eq!(store.cache_get(&r.key).unwrap().as_ref(), Some(&r));
        let path = store.cache_file(&r.key);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(store.cache_get(&r.key).unwrap(), None);
        assert!(store.cache_list().unwrap().is_empty());
        let scan = store.cache_scan().unwrap();
        assert!(scan.records.is_empty());
        assert_eq!(scan.bad.len(), 1);
        assert_eq!(scan.bad[0].path, path);
        assert!(scan.bad[0].reason.contains("invalid JSON"), "{}", scan.bad[0].reason);
        // Writing it again replaces the damaged file.
        store.cache_put(&r).unwrap();
        assert_eq!(store.cache_get(&r.key).unwrap(), Some(r));
    }

    #[test]
    fn a_cache_record_under_another_key_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let r = record(&store, b"x");
        store.cache_put(&r).unwrap();
        // Copied under another key's name.
        let other = ContentHash::of_bytes(b"another key");
        fs::copy(store.cache_file(&r.key), store.cache_file(&other)).unwrap();
        assert_eq!(store.cache_get(&other).unwrap(), None);
        // Its params edited (so they no longer hash to its key).
        let mut edited = r.clone();
        edited.params = serde_json::json!({"a": 2});
        store.cache_put(&edited).unwrap();
        assert_eq!(store.cache_get(&r.key).unwrap(), None);
        let scan = store.cache_scan().unwrap();
        assert_eq!(scan.bad.len(), 2, "{:?}", scan.bad);
    }

    #[test]
    fn cache_records_carry_output_sizes_and_extensions_and_old_ones_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let r = record(&store, b"four");
        store.cache_put_declared(&r, &[OutputSpec::new("out", "txt")]).unwrap();
        let e = store.cache_entry(&r.key).unwrap().unwrap();
        assert_eq!(e.meta["out"], OutputMeta { ext: Some("txt".into()), size: 4 });
        assert_eq!(e.declared_problem(&[OutputSpec::new("out", "txt")]), None);
        let why = e.declared_problem(&[OutputSpec::new("out", "json")]).unwrap();
        assert!(why.contains("`.txt`"), "{why}");
        assert!(e.declared_problem(&[OutputSpec::new("table", "txt")]).is_some());
        // A record pointing its output at another object: its size no longer fits.
        let mut forged: serde_json::Value =
            serde_json::from_slice(&fs::read(store.cache_file(&r.key)).unwrap()).unwrap();
        let other = store.put_bytes(b"other size").unwrap();
        forged["outputs"]["out"] = serde_json::Value::String(other.to_hex());
        fs::write(store.cache_file(&r.key), serde_json::to_vec(&forged).unwrap()).unwrap();
        let scan = store.cache_scan().unwrap();
        assert!(scan.bad[0].reason.contains("recorded as 4 bytes"), "{:?}", scan.bad);
        // A record from before output_meta: loads, with no meta.
        forged.as_object_mut().unwrap().remove("output_meta");
        forged["outputs"]["out"] = serde_json::Value::String(r.outputs["out"].to_hex());
        fs::write(store.cache_file(&r.key), serde_json::to_vec(&forged).unwrap()).unwrap();
        let e = store.cache_entry(&r.key).unwrap().unwrap();
        assert_eq!(e.record, r);
        assert!(e.meta.is_empty());
        assert!(store.cache_scan().unwrap().bad.is_empty());
    }

    #[test]
    fn a_corrupt_run_record_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        store.run_put(&run_record("20260101T000000Z-aaaa")).unwrap();
        store.run_put(&run_record("20260102T000000Z-bbbb")).unwrap();
        let bad = store.run_file("20260102T000000Z-bbbb");
        fs::write(&bad, "{\"id\": \"2026").unwrap();
        let runs = store.run_list().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(store.run_get("latest").unwrap().id, "20260101T000000Z-aaaa");
        let err = store.run_get("20260102").unwrap_err().to_string();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        // By exact id: the record, nothing, or the error naming the file; never a path.
        assert_eq!(store.run_by_id("20260101T000000Z-aaaa").unwrap().unwrap().id, "20260101T000000Z-aaaa");
        assert!(store.run_by_id("20260101").unwrap().is_none());
        assert!(store.run_by_id("../runs/20260101T000000Z-aaaa").unwrap().is_none());
        let err = store.run_by_id("20260102T000000Z-bbbb").unwrap_err().to_string();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        // A record renamed to another run's id.
        fs::copy(store.run_file("20260101T000000Z-aaaa"), store.run_file("20260103T000000Z-cccc")).unwrap();
        let scan = store.run_scan().unwrap();
        assert_eq!(scan.records.len(), 1);
        let paths: Vec<_> = scan.bad.iter().map(|b| b.path.clone()).collect();
        assert_eq!(paths, vec![bad, store.run_file("20260103T000000Z-cccc")]);
    }

    #[cfg(unix)]
    #[test]
    fn objects_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, "secret").unwrap();
        let h = store.put_bytes(b"secret").unwrap();
        let p = store.object_file(&h);
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&secret, &p).unwrap();
        assert!(!store.contains(&h));
        assert!(matches!(store.object_path(&h), Err(CoreError::BadObject { .. })));
        assert!(matches!(store.check_object(&h), Err(CoreError::BadObject { .. })));
        assert!(matches!(store.verify_object(&h), Err(CoreError::BadObject { .. })));
        // Writing the object again replaces the link (never its target).
        assert_eq!(store.put_bytes(b"secret").unwrap(), h);
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_file());
        assert_eq!(store.check_object(&h).unwrap(), 6);
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
    }

    #[test]
    fn check_object_is_cheap_when_unchanged_and_catches_same_size_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let h = store.put_bytes(b"original").unwrap();
        // Written in this process: remembered as verified, and persisted.
        assert_eq!(store.check_object(&h).unwrap(), 8);
        store.save_memo().unwrap();
        let p = store.object_file(&h);
        writable(&p);
        fs::write(&p, b"tampered").unwrap();
        let reopened = LocalStore::open(dir.path()).unwrap();
        assert!(matches!(reopened.check_object(&h), Err(CoreError::Corrupt { .. })));
        // A run that writes the object again repairs it in place.
        assert_eq!(reopened.put_bytes(b"original").unwrap(), h);
        assert_eq!(reopened.check_object(&h).unwrap(), 8);
        assert_eq!(fs::read(&p).unwrap(), b"original");
    }

    #[test]
    fn a_linked_object_stays_verified_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let h = store.put_bytes(b"linked").unwrap();
        let p = store.object_file(&h);
        store.link_object(&h, &dir.path().join("out.txt")).unwrap();
        // The link moved the object's ctime: the stamp it has now is the one remembered.
        let stamp = Stamp::from_metadata(&fs::symlink_metadata(&p).unwrap());
        assert!(Hints::object_verified(&store.hints, &h, &stamp));
        store.save_memo().unwrap();
        let reopened = LocalStore::open(dir.path().join("s")).unwrap();
        assert!(Hints::object_verified(&reopened.hints, &h, &stamp));
        // An object changed before a link is not vouched for by it.
        writable(&p);
        fs::write(&p, b"LINKED").unwrap();
        reopened.link_object(&h, &dir.path().join("again.txt")).unwrap();
        assert!(matches!(reopened.check_object(&h), Err(CoreError::Corrupt { .. })));
    }

    #[test]
    fn an_edited_memo_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = LocalStore::open(&root).unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        fs::write(&a, "a;b\n1;2\n").unwrap();
        fs::write(&b, "a;b\n1;2\n3;4\n").unwrap();
        let (ha, hb) = (store.import_file(&a).unwrap(), store.import_file(&b).unwrap());
        store.save_memo().unwrap();
        // Editing the hash stored for `a` by hand: the checksum no longer matches.
        let memo = root.join("memo.json");
        let text = fs::read_to_string(&memo).unwrap();
        fs::write(&memo, text.replacen(&ha.to_hex(), &hb.to_hex(), 1)).unwrap();
        assert_eq!(LocalStore::open(&root).unwrap().hash_file_memo(&a).unwrap(), ha);
        // Even with a valid checksum, a hash naming an object of another size is re-hashed.
        let mut forged = Memo::from_bytes(text.as_bytes()).unwrap();
        let key = fs::canonicalize(&a).unwrap().to_string_lossy().into_owned();
        forged.insert_file(key, Stamp::of(&a).unwrap(), hb);
        fs::write(&memo, forged.to_bytes()).unwrap();
        assert_eq!(LocalStore::open(&root).unwrap().hash_file_memo(&a).unwrap(), ha);
    }

    #[test]
    fn the_memo_keys_files_by_ctime_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("s")).unwrap();
        let f = dir.path().join("in.csv");
        fs::write(&f, "x").unwrap();
        let before = Stamp::of(&f).unwrap();
        // chmod changes only the ctime.
        std::thread::sleep(Duration::from_millis(20));
        let mut perms = fs::metadata(&f).unwrap().permissions();
        perms.set_readonly(true);
        fs::set_permissions(&f, perms).unwrap();
        assert_ne!(Stamp::of(&f).unwrap(), before);
        assert_eq!(store.hash_file_memo(&f).unwrap(), ContentHash::of_bytes(b"x"));
    }
}
