//! Memo of file hashes by (path, size, mtime, inode), so a no-op run does not re-hash inputs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ContentHash;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    size: u64,
    mtime_ns: i128,
    inode: u64,
}

impl Stamp {
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
        let md = std::fs::metadata(path)?;
        let mtime_ns = md.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&md);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self { size: md.len(), mtime_ns, inode })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Memo {
    entries: BTreeMap<String, (Stamp, ContentHash)>,
}

impl Memo {
    pub(crate) fn get(&self, path: &str, stamp: &Stamp) -> Option<ContentHash> {
        self.entries.get(path).filter(|(s, _)| s == stamp).map(|(_, h)| *h)
    }

    pub(crate) fn insert(&mut self, path: String, stamp: Stamp, hash: ContentHash) {
        self.entries.insert(path, (stamp, hash));
    }
}
