//! The directory-backed store.
//!
//! ```text
//! <root>/objects/ab/abcdef…   immutable, read-only objects named by BLAKE3
//! <root>/cache/<key>.json     cache records
//! <root>/runs/<id>.json       run records
//! <root>/tmp/                 objects being written (never visible under objects/)
//! <root>/memo.json            file-hash memo
//! <root>/lock                 the writer lock
//! ```

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::memo::{Memo, Stamp};
use super::{ArtifactStore, CacheRecord, ObjectSink, RunRecord, StoreLock};
use crate::hash::HashingWriter;
use crate::{ContentHash, CoreError};

/// A store in a local directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    memo: Mutex<(Memo, bool)>,
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
        let memo_path = root.join("memo.json");
        let memo = match fs::read(&memo_path) {
            // A damaged memo only costs re-hashing: never fail on it.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Memo::default(),
        };
        Ok(Self { root, memo: Mutex::new((memo, false)) })
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

    /// The hash of a file named in a pipeline file, from the memo when its (path, size, mtime,
    /// inode) are unchanged, else by hashing it.
    pub fn hash_file_memo(&self, path: &Path) -> Result<ContentHash, CoreError> {
        let canonical = fs::canonicalize(path).map_err(|e| CoreError::io(path, e))?;
        let key = canonical.to_string_lossy().into_owned();
        let stamp = Stamp::of(&canonical).map_err(|e| CoreError::io(path, e))?;
        if let Some(h) = self.memo.lock().ok().and_then(|m| m.0.get(&key, &stamp)) {
            return Ok(h);
        }
        let hash = ContentHash::of_file(&canonical)?;
        if let Ok(mut m) = self.memo.lock() {
            m.0.insert(key, stamp, hash);
            m.1 = true;
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

    /// Persists the memo if it changed.
    pub fn save_memo(&self) -> Result<(), CoreError> {
        let Ok(mut m) = self.memo.lock() else { return Ok(()) };
        if !m.1 {
            return Ok(());
        }
        write_json_atomic(&self.root, &self.root.join("memo.json"), &m.0)?;
        m.1 = false;
        Ok(())
    }

    /// Makes an object visible at `dest` (hard link, else copy), replacing what was there.
    pub fn link_object(&self, hash: &ContentHash, dest: &Path) -> Result<(), CoreError> {
        let src = self.object_path(hash)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| CoreError::io(parent, e))?;
        }
        let _ = fs::remove_file(dest);
        if fs::hard_link(&src, dest).is_err() {
            fs::copy(&src, dest).map_err(|e| CoreError::io(dest, e))?;
        }
        Ok(())
    }

    /// Run ids, oldest first, from the file names alone (no record is read).
    pub fn run_ids(&self) -> Result<Vec<String>, CoreError> {
        run_ids(&self.root)
    }

    fn cache_file(&self, key: &ContentHash) -> PathBuf {
        self.root.join("cache").join(format!("{}.json", key.to_hex()))
    }
}

/// Writes JSON to a temp file in `<root>/tmp`, fsyncs it and renames it over `dest`.
fn write_json_atomic<T: Serialize>(root: &Path, dest: &Path, value: &T) -> Result<(), CoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| CoreError::Record { path: dest.into(), source: e })?;
    let tmp = tmp_path(root);
    let mut f = File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| CoreError::io(&tmp, e))?;
    f.sync_all().map_err(|e| CoreError::io(&tmp, e))?;
    fs::rename(&tmp, dest).map_err(|e| CoreError::io(dest, e))?;
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, CoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| CoreError::Record { path: path.into(), source: e })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CoreError::io(path, e)),
    }
}

fn tmp_path(root: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    root.join("tmp").join(format!("{}-{n}-{nanos}.part", std::process::id()))
}

struct LocalSink {
    tmp: PathBuf,
    objects: PathBuf,
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
        let (hash, buf) = writer.finish();
        let file = buf.into_inner().map_err(|e| CoreError::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| CoreError::io(&tmp, e))?;
        drop(file);
        let hex = hash.to_hex();
        let dir = objects.join(&hex[..2]);
        let dest = dir.join(&hex);
        if dest.exists() {
            let _ = fs::remove_file(&tmp);
            return Ok(hash);
        }
        fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
        set_read_only(&tmp)?;
        fs::rename(&tmp, &dest).map_err(|e| CoreError::io(&dest, e))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
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
        self.object_file(hash).is_file()
    }

    fn object_path(&self, hash: &ContentHash) -> Result<PathBuf, CoreError> {
        let p = self.object_file(hash);
        if p.is_file() { Ok(p) } else { Err(CoreError::MissingObject(hash.to_hex())) }
    }

    fn begin_object(&self) -> Result<Box<dyn ObjectSink>, CoreError> {
        let tmp = tmp_path(&self.root);
        let file = File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
        Ok(Box::new(LocalSink {
            tmp,
            objects: self.root.join("objects"),
            writer: Some(HashingWriter::new(BufWriter::with_capacity(1 << 16, file))),
        }))
    }

    fn verify_object(&self, hash: &ContentHash) -> Result<(), CoreError> {
        let path = self.object_path(hash)?;
        let actual = ContentHash::of_file(&path)?;
        if actual == *hash {
            Ok(())
        } else {
            Err(CoreError::Corrupt { expected: hash.to_hex(), actual: actual.to_hex() })
        }
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
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))
    }

    fn cache_get(&self, key: &ContentHash) -> Result<Option<CacheRecord>, CoreError> {
        read_json(&self.cache_file(key))
    }

    fn cache_put(&self, record: &CacheRecord) -> Result<(), CoreError> {
        write_json_atomic(&self.root, &self.cache_file(&record.key), record)
    }

    fn cache_list(&self) -> Result<Vec<CacheRecord>, CoreError> {
        let dir = self.root.join("cache");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(|e| CoreError::io(&dir, e))?.flatten() {
            if let Some(r) = read_json::<CacheRecord>(&e.path())? {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.key);
        Ok(out)
    }

    fn cache_remove(&self, key: &ContentHash) -> Result<(), CoreError> {
        let p = self.cache_file(key);
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))
    }

    fn run_put(&self, record: &RunRecord) -> Result<(), CoreError> {
        let dest = self.root.join("runs").join(format!("{}.json", record.id));
        write_json_atomic(&self.root, &dest, record)
    }

    fn run_get(&self, id: &str) -> Result<RunRecord, CoreError> {
        let mut ids = run_ids(&self.root)?;
        let chosen = if id == "latest" {
            ids.pop().ok_or_else(|| CoreError::Run("latest: the store has no runs yet".into()))?
        } else {
            let matches: Vec<_> = ids.into_iter().filter(|r| r.starts_with(id)).collect();
            match matches.len() {
                1 => matches.into_iter().next().unwrap_or_default(),
                0 => return Err(CoreError::Run(format!("{id}: no such run (see `esteira runs list`)"))),
                n => return Err(CoreError::Run(format!("{id}: ambiguous, {n} runs start with it"))),
            }
        };
        let path = self.root.join("runs").join(format!("{chosen}.json"));
        read_json(&path)?.ok_or_else(|| CoreError::Run(format!("{chosen}: record vanished")))
    }

    fn run_list(&self) -> Result<Vec<RunRecord>, CoreError> {
        let mut out = Vec::new();
        for id in run_ids(&self.root)? {
            if let Some(r) = read_json(&self.root.join("runs").join(format!("{id}.json")))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn run_remove(&self, id: &str) -> Result<(), CoreError> {
        let p = self.root.join("runs").join(format!("{id}.json"));
        fs::remove_file(&p).map_err(|e| CoreError::io(&p, e))
    }
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
}
