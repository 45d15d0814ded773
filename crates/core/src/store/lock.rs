//! One writer per store: an advisory lock on the store directory itself, and on `<root>/lock`.
//!
//! The directory lock is the one that counts: a directory cannot be replaced while it is open,
//! so deleting or replacing `<root>/lock` during a run cannot let a second writer in. The lock
//! file says who holds the store (pid, host, command, since) and is locked too, for older
//! esteira versions that lock only it. It is opened without following symlinks: a symlink in
//! its place is removed (the link, never its target) and a plain file created.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::CoreError;

/// Held while a process writes to the store; released on drop (or when the process dies,
/// since the OS drops advisory locks with the file descriptor).
#[derive(Debug)]
pub struct StoreLock {
    /// The store directory, locked (`None` on a file system that cannot lock directories).
    dir: Option<File>,
    /// `<root>/lock`, locked, holding the holder's description.
    file: File,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock, waiting up to `wait` for another holder. The error names the holder.
    pub fn acquire(root: &Path, command: &str, wait: Duration) -> Result<Self, CoreError> {
        let path = root.join("lock");
        let deadline = Instant::now() + wait;
        let dir = File::open(root).map_err(|e| CoreError::io(root, e))?;
        let dir = match wait_for(&dir, &path, deadline) {
            Ok(()) => Some(dir),
            Err(CoreError::Io { source, .. }) => {
                tracing::warn!(
                    "{}: cannot lock the store directory ({source}); relying on the lock file alone",
                    root.display()
                );
                None
            }
            Err(e) => return Err(e),
        };
        let mut file = open_lock_file(&path)?;
        // Only an older esteira, which locks just the file, can hold it now.
        wait_for(&file, &path, deadline)?;
        let info = format!(
            "pid {} on {}, `{}`, since {}",
            std::process::id(),
            crate::hostname(),
            command,
            crate::now_rfc3339()
        );
        file.set_len(0).map_err(|e| CoreError::io(&path, e))?;
        file.rewind().map_err(|e| CoreError::io(&path, e))?;
        file.write_all(info.as_bytes()).map_err(|e| CoreError::io(&path, e))?;
        Ok(Self { dir, file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Locks `file` (the store directory or the lock file), polling until `deadline`.
fn wait_for(file: &File, path: &Path, deadline: Instant) -> Result<(), CoreError> {
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(path);
                if Instant::now() >= deadline {
                    return Err(CoreError::Locked { path: path.to_path_buf(), holder });
                }
                if !announced {
                    tracing::warn!(lock = %path.display(), %holder, "store is locked; waiting");
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(CoreError::io(path, e)),
        }
    }
}

/// Opens (creating) the lock file for reading and writing without following a symlink.
fn open_lock_file(path: &Path) -> Result<File, CoreError> {
    let open = || {
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(false);
        no_follow(&mut o);
        o.open(path)
    };
    match open() {
        Ok(f) => Ok(f),
        Err(_) if is_symlink(path) => {
            // We hold the store directory: no other esteira writer can be using this path.
            tracing::warn!(lock = %path.display(), "the lock file is a symbolic link; replacing the link (its target is left alone)");
            std::fs::remove_file(path).map_err(|e2| CoreError::io(path, e2))?;
            open().map_err(|e| CoreError::io(path, e))
        }
        Err(e) => Err(CoreError::io(path, e)),
    }
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(unix)]
fn no_follow(o: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    o.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_: &mut OpenOptions) {}

/// What the holder wrote into the lock file (read without following a symlink).
fn read_holder(path: &Path) -> String {
    let mut o = OpenOptions::new();
    o.read(true);
    no_follow(&mut o);
    let mut s = String::new();
    if let Ok(mut f) = o.open(path) {
        let _ = f.read_to_string(&mut s);
    }
    if s.trim().is_empty() { "unknown holder".to_owned() } else { s.trim().to_owned() }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        if let Some(dir) = &self.dir {
            let _ = dir.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_the_lock_file_does_not_release_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let held = StoreLock::acquire(dir.path(), "esteira run", Duration::ZERO).unwrap();
        std::fs::remove_file(dir.path().join("lock")).unwrap();
        let err = StoreLock::acquire(dir.path(), "esteira run", Duration::from_millis(150)).unwrap_err();
        assert!(matches!(err, CoreError::Locked { .. }), "{err}");
        // Replacing it with a fresh file does not either.
        std::fs::write(dir.path().join("lock"), "").unwrap();
        assert!(matches!(StoreLock::acquire(dir.path(), "x", Duration::ZERO), Err(CoreError::Locked { .. })));
        drop(held);
        StoreLock::acquire(dir.path(), "esteira run", Duration::ZERO).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_lock_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        std::os::unix::fs::symlink(&victim, store.join("lock")).unwrap();
        let held = StoreLock::acquire(&store, "esteira run", Duration::ZERO).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let md = std::fs::symlink_metadata(store.join("lock")).unwrap();
        assert!(md.file_type().is_file());
        assert!(std::fs::read_to_string(store.join("lock")).unwrap().contains("esteira run"));
        drop(held);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
