//! `memo.json`: hints that save re-hashing.
//!
//! - file hashes by (canonical path, size, mtime, inode, ctime), so a no-op run does not
//!   re-hash the files a pipeline names;
//! - the stamp (size, mtime, inode, ctime) each object had when it was last hashed (or written),
//!   so a cache hit verifies its objects with one `lstat` instead of re-reading them.
//!
//! A hint is never the only line of defence: the file is checksummed (an edited or damaged memo
//! is discarded whole, which only costs re-hashing), a file hash is cross-checked against the
//! size of the object it names, and any change to a file through the file system moves its
//! ctime, which nobody can set back.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ContentHash;

/// The memo file's format: a header line `{"format":3,"checksum":"…"}`, then the hints as JSON,
/// the checksum being BLAKE3 of exactly those bytes (so reading it hashes them, nothing is
/// serialised again). Format 2 (one JSON object, checksummed over the hints re-serialised) is
/// still read; any other is ignored.
const FORMAT: u32 = 3;

/// The format before the header line.
const FORMAT_2: u32 = 2;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Stamp {
    /// The stamp of `path`, following symlinks (for files named in a pipeline file).
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
        Ok(Self::from_metadata(&std::fs::metadata(path)?))
    }

    /// The stamp described by `md`.
    pub(crate) fn from_metadata(md: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
            Self {
                size: md.len(),
                mtime_ns: ns(md.mtime(), md.mtime_nsec()),
                ctime_ns: ns(md.ctime(), md.ctime_nsec()),
                inode: md.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            Self { size: md.len(), mtime_ns, ctime_ns: 0, inode: 0 }
        }
    }

    /// Whether the two stamps differ at most in their ctime: the same inode with the same size
    /// and mtime.
    pub(crate) fn same_but_ctime(&self, other: &Self) -> bool {
        self.size == other.size && self.mtime_ns == other.mtime_ns && self.inode == other.inode
    }

    /// The file size.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

/// The hints, as kept in memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Memo {
    /// Canonical path -> (stamp, hash) of a file named in a pipeline file.
    files: BTreeMap<String, (Stamp, ContentHash)>,
    /// Object -> its stamp when its bytes were last found to hash to its name.
    objects: BTreeMap<ContentHash, Stamp>,
}

/// A format-2 memo: the hints and a checksum of them.
#[derive(Deserialize)]
struct Stored {
    format: u32,
    checksum: ContentHash,
    memo: Memo,
}

/// The header line of a format-3 memo.
#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    checksum: ContentHash,
}

impl Memo {
    /// Parses `memo.json`; `Err` says why it cannot be trusted (wrong format, damaged, edited).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let not_ours = |e: serde_json::Error| format!("not a memo of this esteira: {e}");
        if let Some(end) = bytes.iter().position(|&b| b == b'\n')
            && let Ok(header) = serde_json::from_slice::<Header>(&bytes[..end])
        {
            if header.format != FORMAT {
                return Err(format!("format {} (expected {FORMAT})", header.format));
            }
            let hints = &bytes[end + 1..];
            if ContentHash::of_bytes(hints) != header.checksum {
                return Err("its checksum does not match its contents".into());
            }
            return serde_json::from_slice(hints).map_err(not_ours);
        }
        let stored: Stored = serde_json::from_slice(bytes).map_err(not_ours)?;
        if stored.format != FORMAT_2 {
            return Err(format!("format {} (expected {FORMAT})", stored.format));
        }
        if checksum(&stored.memo) != stored.checksum {
            return Err("its checksum does not match its contents".into());
        }
        Ok(stored.memo)
    }

    /// The bytes of `memo.json` (format 3).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let hints = serde_json::to_vec(self).unwrap_or_default();
        let header = Header { format: FORMAT, checksum: ContentHash::of_bytes(&hints) };
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        out.extend_from_slice(&hints);
        out
    }

    /// The remembered hash of the file at `path`, if its stamp is unchanged.
    pub(crate) fn file(&self, path: &str, stamp: &Stamp) -> Option<ContentHash> {
        self.files.get(path).filter(|(s, _)| s == stamp).map(|(_, h)| *h)
    }

    /// Remembers a file's hash.
    pub(crate) fn insert_file(&mut self, path: String, stamp: Stamp, hash: ContentHash) {
        self.files.insert(path, (stamp, hash));
    }

    /// Forgets a file's hash (it was found to be wrong).
    pub(crate) fn forget_file(&mut self, path: &str) {
        self.files.remove(path);
    }

    /// Whether the object was verified while it had this stamp.
    pub(crate) fn object_verified(&self, hash: &ContentHash, stamp: &Stamp) -> bool {
        self.objects.get(hash).is_some_and(|s| s == stamp)
    }

    /// Records that the object's bytes hash to its name while it has this stamp. Returns
    /// whether that changed the memo.
    pub(crate) fn insert_object(&mut self, hash: ContentHash, stamp: Stamp) -> bool {
        self.objects.insert(hash, stamp).is_none_or(|old| old != stamp)
    }

    /// Forgets an object (removed or quarantined). Returns whether it was known.
    pub(crate) fn forget_object(&mut self, hash: &ContentHash) -> bool {
        self.objects.remove(hash).is_some()
    }
}

/// The checksum of a format-2 memo.
fn checksum(memo: &Memo) -> ContentHash {
    // BTreeMaps serialise in key order: equal memos give equal bytes.
    ContentHash::of_bytes(&serde_json::to_vec(memo).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(size: u64) -> Stamp {
        Stamp { size, mtime_ns: 1, ctime_ns: 2, inode: 3 }
    }

    #[test]
    fn round_trips_and_rejects_edits() {
        let mut m = Memo::default();
        m.insert_file("/a".into(), stamp(1), ContentHash::of_bytes(b"a"));
        m.insert_object(ContentHash::of_bytes(b"a"), stamp(1));
        let bytes = m.to_bytes();
        assert_eq!(Memo::from_bytes(&bytes).unwrap(), m);
        // Editing a hash (a forged or damaged memo) invalidates the whole memo.
        let text = String::from_utf8(bytes).unwrap();
        let a = ContentHash::of_bytes(b"a").to_hex();
        let b = ContentHash::of_bytes(b"b").to_hex();
        let edited = text.replacen(&a, &b, 1);
        assert_ne!(edited, text);
        let err = Memo::from_bytes(edited.as_bytes()).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        // The format before checksums is not trusted either.
        assert!(Memo::from_bytes(br#"{"entries":{}}"#).is_err());
        assert!(Memo::from_bytes(b"{\"format\":2,").is_err());
        // A format-2 memo (checksummed over its hints re-serialised) is still read, and checked.
        let old = serde_json::to_vec(&serde_json::json!({"format": 2, "checksum": checksum(&m), "memo": m})).unwrap();
        assert_eq!(Memo::from_bytes(&old).unwrap(), m);
        let forged = String::from_utf8(old).unwrap().replacen(&a, &b, 1);
        assert!(Memo::from_bytes(forged.as_bytes()).unwrap_err().contains("checksum"));
        // A header claiming another format, or a truncated memo, is not trusted.
        let bytes = m.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(Memo::from_bytes(text.replacen("\"format\":3", "\"format\":4", 1).as_bytes()).is_err());
        assert!(Memo::from_bytes(&bytes[..bytes.len() - 5]).is_err());
    }

    #[test]
    fn stamps_must_match_exactly() {
        let mut m = Memo::default();
        let h = ContentHash::of_bytes(b"x");
        m.insert_file("/x".into(), stamp(1), h);
        assert_eq!(m.file("/x", &stamp(1)), Some(h));
        assert_eq!(m.file("/x", &Stamp { ctime_ns: 9, ..stamp(1) }), None);
        assert!(m.insert_object(h, stamp(1)));
        assert!(!m.insert_object(h, stamp(1)), "no change");
        assert!(m.object_verified(&h, &stamp(1)));
        assert!(!m.object_verified(&h, &stamp(2)));
        assert!(m.forget_object(&h));
        assert!(!m.object_verified(&h, &stamp(1)));
    }
}
