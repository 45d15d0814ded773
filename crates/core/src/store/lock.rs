//! One writer per store: an advisory lock on `<root>/lock`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::CoreError;

/// Held while a process writes to the store; released on drop (or when the process dies,
/// since the OS drops advisory locks with the file descriptor).
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock, waiting up to `wait` for another holder. The error names the holder.
    pub fn acquire(root: &Path, command: &str, wait: Duration) -> Result<Self, CoreError> {
        let path = root.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CoreError::io(&path, e))?;
        let deadline = Instant::now() + wait;
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if Instant::now() >= deadline {
                        return Err(CoreError::Locked { path, holder });
                    }
                    if !announced {
                        tracing::warn!(lock = %path.display(), %holder, "store is locked; waiting");
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(CoreError::io(&path, e)),
            }
        }
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
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut s);
    if s.trim().is_empty() { "unknown holder".to_owned() } else { s.trim().to_owned() }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
