//! Self-contained, deterministic archives of an esteira run (`esteira export`), and their
//! checked unpacking into a store (`esteira reproduce --bundle`).
//!
//! A bundle is a tar archive (optionally zstd-compressed) whose first member is `manifest.json`
//! ([`Manifest`]): what was exported (a run, or one object and the stages it needs), the esteira
//! version and build that recorded it, the stages in order with every output hash they are
//! expected to reproduce, and the BLAKE3 hash and size of every other member. Then come
//! `run.json`, the run record, and `objects/<hash>`, the external inputs (the objects fetch
//! stages read and the `file:` inputs) and, on request, the recorded outputs.
//!
//! The same contents give the same bytes: members are sorted, and every header has mode 0644,
//! owner 0:0, no owner names and mtime 0. Reading trusts nothing: only regular files named
//! `manifest.json`, `run.json` and `objects/<64 hex digits>` are accepted (so no `..`, absolute
//! path, link or device can make it write anywhere), each member must be listed in the manifest
//! with its size and hash, nothing may be missing or repeated, and sizes are capped
//! ([`Limits`]). Objects are streamed into an [`ArtifactStore`] and committed only once their
//! bytes hash to their name; nothing else is written.
//!
//! ```
//! use std::collections::BTreeSet;
//! use esteira_bundle::{Compression, Contents, Limits, Target};
//! use esteira_core::{ArtifactStore, ContentHash, LocalStore, RunRecord, RunStatus};
//!
//! let dir = tempfile::tempdir()?;
//! let store = LocalStore::open(dir.path().join("a"))?;
//! let input = store.put_bytes(b"raw data")?;
//! let run = RunRecord {
//!     id: "20260101T000000Z-0001".into(),
//!     status: RunStatus::Succeeded,
//!     pipeline: "esteira.toml".into(),
//!     config_hash: ContentHash::of_bytes(b""),
//!     esteira_version: "0.1.0".into(),
//!     build: Default::default(),
//!     command: "esteira run".into(),
//!     host: "h".into(),
//!     started_at: "2026-01-01T00:00:00Z".into(),
//!     ended_at: None,
//!     order: vec![],
//!     overrides: vec![],
//!     sweep: None,
//!     stages: Default::default(),
//! };
//! let contents = Contents {
//!     target: Target::Run { id: run.id.clone() },
//!     stages: vec![],
//!     inputs: BTreeSet::from([input]),
//!     outputs: BTreeSet::new(),
//!     esteira_version: "0.1.0".into(),
//!     build: Default::default(),
//!     run,
//! };
//! let mut bytes = Vec::new();
//! let written = esteira_bundle::write(&contents, &store, &mut bytes, Compression::None)?;
//! assert_eq!(written.hash, ContentHash::of_bytes(&bytes));
//!
//! // Unpacked into a fresh store: the input is there, under its hash.
//! std::fs::write(dir.path().join("b.tar"), &bytes)?;
//! let fresh = LocalStore::open(dir.path().join("b"))?;
//! let unpacked = esteira_bundle::read(&dir.path().join("b.tar"), &fresh, &Limits::default())?;
//! assert_eq!(unpacked.archive_hash, written.hash);
//! assert!(fresh.contains(&input));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use esteira_core::HashingWriter;
use esteira_core::store::BuildInfo;
use esteira_core::{ArtifactStore, ContentHash, CoreError, RunRecord};
use serde::{Deserialize, Serialize};

/// The `format` of the bundles this crate writes and reads.
pub const FORMAT: &str = "esteira-bundle/1";
/// The manifest's member name (always the first member).
pub const MANIFEST: &str = "manifest.json";
/// The run record's member name.
pub const RUN: &str = "run.json";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Everything that can go wrong writing or reading a bundle. Errors about a member name it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle file could not be created, opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive's structure is unreadable (truncated, bad header checksum).
    #[error("{path}: not a readable bundle: {source}")]
    Archive {
        /// The file.
        path: PathBuf,
        /// The tar reader's error.
        #[source]
        source: io::Error,
    },
    /// The first member is not a manifest, or the manifest is of another format.
    #[error("not an esteira bundle: {0}")]
    NotABundle(String),
    /// A member the reader refuses before reading it: a link, a directory or device, an
    /// absolute path or one with `..`, a name that is not a bundle member.
    #[error("bundle member {member:?} refused: {reason}")]
    UnsafeMember {
        /// The member's name as the archive spells it (cut to a readable length).
        member: String,
        /// Why.
        reason: String,
    },
    /// A member the manifest does not list, or one that appears twice.
    #[error("bundle member {member}: {reason}")]
    UnexpectedMember {
        /// The member.
        member: String,
        /// Not listed, or repeated.
        reason: &'static str,
    },
    /// A member the manifest lists is not in the archive.
    #[error("bundle member {member} is missing (the manifest lists it)")]
    MissingMember {
        /// The member.
        member: String,
    },
    /// A member's bytes do not hash to what the manifest says: the bundle was altered.
    #[error("bundle member {member} was altered: its bytes hash to {actual}, the manifest says {expected}")]
    HashMismatch {
        /// The member.
        member: String,
        /// The manifest's hash.
        expected: ContentHash,
        /// The hash of the bytes in the archive.
        actual: ContentHash,
    },
    /// A member's size is not what the manifest says.
    #[error("bundle member {member} is {actual} bytes, the manifest says {expected}")]
    SizeMismatch {
        /// The member.
        member: String,
        /// The manifest's size.
        expected: u64,
        /// The archive's.
        actual: u64,
    },
    /// The manifest disagrees with itself or with the run record.
    #[error("bundle manifest does not match {member}: {reason}")]
    Inconsistent {
        /// The member it disagrees with.
        member: String,
        /// How.
        reason: String,
    },
    /// Over a [`Limits`] cap.
    #[error("bundle {what} exceeds the limit of {limit}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A JSON member does not parse.
    #[error("bundle member {member} is not valid: {source}")]
    Json {
        /// The member.
        member: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Exporting: an object the bundle needs is missing from the store or corrupt.
    #[error("cannot export object {hash}: {source}")]
    Object {
        /// The object.
        hash: ContentHash,
        /// Why it could not be read.
        #[source]
        source: CoreError,
    },
    /// Exporting: an object's bytes changed while it was copied into the archive.
    #[error("object {hash} changed while it was exported (its bytes hash to {actual})")]
    ObjectChanged {
        /// The object.
        hash: ContentHash,
        /// What was copied.
        actual: ContentHash,
    },
    /// Unpacking: the store refused an object.
    #[error("cannot store bundle member {member}: {source}")]
    Store {
        /// The member.
        member: String,
        /// The store's error.
        #[source]
        source: CoreError,
    },
}

/// What a bundle was exported for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// A whole run.
    Run {
        /// The run id.
        id: String,
    },
    /// One object and the stages it needs (its lineage closure).
    Object {
        /// The object.
        hash: ContentHash,
        /// The stage that produced it.
        stage: String,
        /// Its output name.
        output: String,
    },
}

/// Why a member is in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The run record.
    Record,
    /// An external input a reproduction starts from.
    Input,
    /// A recorded output, for inspection (`--with-outputs`); a reproduction recomputes it.
    Output,
}

/// One member of the bundle as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// BLAKE3 of its bytes.
    pub blake3: ContentHash,
    /// Its size in bytes.
    pub size: u64,
    /// Why it is there.
    pub role: Role,
}

/// `manifest.json`: what the bundle holds and what a reproduction must get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The esteira version that recorded the run.
    pub esteira_version: String,
    /// How that esteira was built.
    #[serde(default)]
    pub build: BuildInfo,
    /// What was exported.
    pub target: Target,
    /// The run the stages come from.
    pub run_id: String,
    /// The stages a reproduction executes, in the run's order.
    pub stages: Vec<String>,
    /// Stage -> output -> the hash it must reproduce.
    pub expected: BTreeMap<String, BTreeMap<String, ContentHash>>,
    /// Every member but the manifest.
    pub members: BTreeMap<String, Member>,
}

/// What [`write`] puts in a bundle.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The run record.
    pub run: RunRecord,
    /// What was exported.
    pub target: Target,
    /// The stages to reproduce, in the run's order (each must be in `run`).
    pub stages: Vec<String>,
    /// External inputs.
    pub inputs: BTreeSet<ContentHash>,
    /// Recorded outputs added for inspection.
    pub outputs: BTreeSet<ContentHash>,
    /// The esteira version that recorded the run.
    pub esteira_version: String,
    /// How that esteira was built.
    pub build: BuildInfo,
}

/// How the tar stream is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// zstd (level [`ZSTD_LEVEL`], one thread: the same input gives the same bytes with the
    /// libzstd version in Cargo.lock).
    Zstd,
}

/// The zstd level bundles are written with: most of level 19's ratio on tables and JSON at a
/// fraction of its time.
pub const ZSTD_LEVEL: i32 = 9;

/// Where the tar stream goes: hashed as written, compressed first when asked.
enum Sink<W: Write> {
    Plain(HashingWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<W>>),
}

impl<W: Write> Sink<W> {
    fn new(out: W, compression: Compression) -> io::Result<Self> {
        let hashing = HashingWriter::new(out);
        Ok(match compression {
            Compression::None => Self::Plain(hashing),
            Compression::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(hashing, ZSTD_LEVEL)?),
        })
    }

    fn finish(self) -> io::Result<HashingWriter<W>> {
        match self {
            Self::Plain(h) => Ok(h),
            Self::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(h) => h.write(buf),
            Self::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(h) => h.flush(),
            Self::Zstd(e) => e.flush(),
        }
    }
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// BLAKE3 of the bundle's bytes: what a reviewer compares with the published one.
    pub hash: ContentHash,
    /// The bundle's size in bytes.
    pub size: u64,
    /// Members, the manifest included.
    pub members: usize,
}

/// Caps on what [`read`] accepts, so a hostile bundle cannot fill the disk or memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most members.
    pub max_members: usize,
    /// Largest `manifest.json` or `run.json` (read into memory).
    pub max_record_bytes: u64,
    /// Most bytes of objects in all.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_members: 100_000, max_record_bytes: 64 << 20, max_total_bytes: 64 << 30 }
    }
}

/// What [`read`] found, every member checked.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The manifest.
    pub manifest: Manifest,
    /// The run record.
    pub run: RunRecord,
    /// BLAKE3 of the bundle file.
    pub archive_hash: ContentHash,
    /// Objects now in the store (inputs and outputs).
    pub objects: usize,
}

fn object_member(hash: &ContentHash) -> String {
    format!("objects/{hash}")
}

/// Writes a bundle of `contents`, objects read from `store`, to `out`. The objects are
/// re-hashed as they are copied, so a bundle never carries a corrupt object.
pub fn write(
    contents: &Contents,
    store: &dyn ArtifactStore,
    out: impl Write,
    compression: Compression,
) -> Result<Written, BundleError> {
    let out_err = |source| BundleError::Io { path: PathBuf::from("(bundle output)"), source };
    let run_json =
        serde_json::to_vec_pretty(&contents.run).map_err(|source| BundleError::Json { member: RUN.into(), source })?;
    let mut members = BTreeMap::from([(
        RUN.to_owned(),
        Member { blake3: ContentHash::of_bytes(&run_json), size: run_json.len() as u64, role: Role::Record },
    )]);
    let mut files = BTreeMap::new();
    // An object that is both an input and an output (a stage passing bytes through) is an input.
    let objects = contents
        .inputs
        .iter()
        .map(|h| (h, Role::Input))
        .chain(contents.outputs.iter().filter(|h| !contents.inputs.contains(h)).map(|h| (h, Role::Output)));
    for (hash, role) in objects {
        let path = store.object_path(hash).map_err(|source| BundleError::Object { hash: *hash, source })?;
        let size = std::fs::symlink_metadata(&path)
            .map_err(|e| BundleError::Object { hash: *hash, source: CoreError::io(&path, e) })?
            .len();
        members.insert(object_member(hash), Member { blake3: *hash, size, role });
        files.insert(object_member(hash), (*hash, path));
    }
    let mut expected = BTreeMap::new();
    for name in &contents.stages {
        let stage = contents.run.stages.get(name).ok_or_else(|| BundleError::Inconsistent {
            member: RUN.into(),
            reason: format!("stage `{name}` is not in run {}", contents.run.id),
        })?;
        expected.insert(name.clone(), stage.outputs.clone());
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        esteira_version: contents.esteira_version.clone(),
        build: contents.build.clone(),
        target: contents.target.clone(),
        run_id: contents.run.id.clone(),
        stages: contents.stages.clone(),
        expected,
        members,
    };
    let manifest_json =
        serde_json::to_vec_pretty(&manifest).map_err(|source| BundleError::Json { member: MANIFEST.into(), source })?;

    let mut tar = tar::Builder::new(Sink::new(out, compression).map_err(out_err)?);
    append(&mut tar, MANIFEST, manifest_json.len() as u64, manifest_json.as_slice()).map_err(out_err)?;
    append(&mut tar, RUN, run_json.len() as u64, run_json.as_slice()).map_err(out_err)?;
    // BTreeMap order: members sorted by name, whatever order the caller collected them in.
    for (member, (hash, path)) in &files {
        let size = manifest.members[member].size;
        let file = std::fs::File::open(path)
            .map_err(|e| BundleError::Object { hash: *hash, source: CoreError::io(path, e) })?;
        let mut reader = HashingReader::new(file.take(size));
        append(&mut tar, member, size, &mut reader).map_err(out_err)?;
        let (actual, read) = reader.finish();
        if actual != *hash || read != size {
            return Err(BundleError::ObjectChanged { hash: *hash, actual });
        }
    }
    let hashing = tar.into_inner().and_then(Sink::finish).map_err(out_err)?;
    let size = hashing.written();
    let (hash, mut out) = hashing.finish();
    out.flush().map_err(out_err)?;
    tracing::debug!(%hash, size, members = manifest.members.len() + 1, "bundle written");
    Ok(Written { hash, size, members: manifest.members.len() + 1 })
}

/// One member with a header that says nothing about the machine or the time it was written on.
fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, size: u64, data: impl Read) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_username("")?;
    header.set_groupname("")?;
    tar.append_data(&mut header, name, data)
}

/// Reads `path` (plain or zstd tar, told apart by its first bytes), checks every member against
/// the manifest and puts its objects into `store`. An error names the member at fault.
pub fn read(path: &Path, store: &dyn ArtifactStore, limits: &Limits) -> Result<Unpacked, BundleError> {
    let io_err = |source| BundleError::Io { path: path.to_owned(), source };
    let archive_hash = ContentHash::of_file(path).map_err(|e| match e {
        CoreError::Io { source, .. } => io_err(source),
        other => BundleError::Store { member: path.display().to_string(), source: other },
    })?;
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err)?;
    let reader = io::Cursor::new(magic[..n].to_vec()).chain(file);
    let reader: Box<dyn Read> = if n == 4 && magic == ZSTD_MAGIC {
        Box::new(zstd::stream::read::Decoder::new(reader).map_err(io_err)?)
    } else {
        Box::new(reader)
    };
    let mut archive = tar::Archive::new(reader);
    let arch_err = |source| BundleError::Archive { path: path.to_owned(), source };
    let mut entries = archive.entries().map_err(arch_err)?;

    let mut first =
        entries.next().ok_or_else(|| BundleError::NotABundle("the archive is empty".into()))?.map_err(arch_err)?;
    let name = member_name(&first)?;
    if name != MANIFEST {
        return Err(BundleError::NotABundle(format!("its first member is {name:?}, not {MANIFEST}")));
    }
    let bytes = read_record(&mut first, MANIFEST, limits)?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|source| BundleError::Json { member: MANIFEST.into(), source })?;
    if manifest.format != FORMAT {
        return Err(BundleError::NotABundle(format!(
            "its format is {:?}, this esteira reads {FORMAT}",
            manifest.format
        )));
    }
    if manifest.members.len() + 1 > limits.max_members {
        return Err(BundleError::TooLarge { what: "member count".into(), limit: limits.max_members as u64 });
    }
    let total: u64 = manifest.members.values().map(|m| m.size).fold(0, u64::saturating_add);
    if total > limits.max_total_bytes {
        return Err(BundleError::TooLarge { what: format!("size ({total} bytes)"), limit: limits.max_total_bytes });
    }

    let mut seen = BTreeSet::new();
    let mut run = None;
    let mut objects = 0;
    for entry in entries {
        let mut entry = entry.map_err(arch_err)?;
        let name = member_name(&entry)?;
        let Some(member) = manifest.members.get(&name) else {
            return Err(BundleError::UnexpectedMember { member: name, reason: "is not listed in the manifest" });
        };
        if !seen.insert(name.clone()) {
            return Err(BundleError::UnexpectedMember { member: name, reason: "appears twice" });
        }
        let size = entry.size();
        if size != member.size {
            return Err(BundleError::SizeMismatch { member: name, expected: member.size, actual: size });
        }
        if name == RUN {
            let bytes = read_record(&mut entry, RUN, limits)?;
            check_hash(&name, member, ContentHash::of_bytes(&bytes))?;
            let record: RunRecord =
                serde_json::from_slice(&bytes).map_err(|source| BundleError::Json { member: RUN.into(), source })?;
            run = Some(record);
        } else {
            // member_name admits only `objects/<hash>` besides the two records.
            let hash: ContentHash = name["objects/".len()..]
                .parse()
                .map_err(|_| BundleError::UnsafeMember { member: name.clone(), reason: "not an object name".into() })?;
            if hash != member.blake3 {
                return Err(BundleError::Inconsistent {
                    member: name,
                    reason: format!("the manifest gives it hash {}", member.blake3),
                });
            }
            import_object(&mut entry, &name, member, store)?;
            objects += 1;
        }
    }
    if let Some(missing) = manifest.members.keys().find(|m| !seen.contains(*m)) {
        return Err(BundleError::MissingMember { member: missing.clone() });
    }
    let run = run.ok_or_else(|| BundleError::MissingMember { member: RUN.into() })?;
    check_against_run(&manifest, &run)?;
    tracing::debug!(%archive_hash, objects, "bundle read");
    Ok(Unpacked { manifest, run, archive_hash, objects })
}

/// The manifest's stages and expected hashes must be the run record's.
fn check_against_run(manifest: &Manifest, run: &RunRecord) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::Inconsistent { member: RUN.into(), reason };
    if manifest.run_id != run.id {
        return Err(bad(format!("the manifest names run {}, the record is run {}", manifest.run_id, run.id)));
    }
    if manifest.expected.len() != manifest.stages.len() {
        return Err(bad("the manifest's stages and expected hashes list different stages".into()));
    }
    for name in &manifest.stages {
        let stage = run.stages.get(name).ok_or_else(|| bad(format!("stage `{name}` is not in the run record")))?;
        if manifest.expected.get(name) != Some(&stage.outputs) {
            return Err(bad(format!("the expected outputs of stage `{name}` differ from the recorded ones")));
        }
    }
    Ok(())
}

fn check_hash(name: &str, member: &Member, actual: ContentHash) -> Result<(), BundleError> {
    if actual == member.blake3 {
        Ok(())
    } else {
        Err(BundleError::HashMismatch { member: name.to_owned(), expected: member.blake3, actual })
    }
}

/// Streams an object into the store; committed only when its bytes hash to its name.
fn import_object(
    entry: &mut impl Read,
    name: &str,
    member: &Member,
    store: &dyn ArtifactStore,
) -> Result<(), BundleError> {
    let store_err = |source| BundleError::Store { member: name.to_owned(), source };
    let sink = store.begin_object().map_err(store_err)?;
    let mut hashing = HashingWriter::new(sink);
    io::copy(&mut entry.take(member.size), &mut hashing)
        .map_err(|e| BundleError::Store { member: name.to_owned(), source: CoreError::io(store.describe(), e) })?;
    let written = hashing.written();
    let (actual, sink) = hashing.finish();
    if written != member.size {
        return Err(BundleError::SizeMismatch { member: name.to_owned(), expected: member.size, actual: written });
    }
    // Dropping the sink discards the bytes: an altered object never becomes visible.
    check_hash(name, member, actual)?;
    sink.commit().map_err(store_err)?;
    Ok(())
}

/// A record member's bytes, within the cap.
fn read_record(entry: &mut impl Read, name: &str, limits: &Limits) -> Result<Vec<u8>, BundleError> {
    let mut bytes = Vec::new();
    entry
        .take(limits.max_record_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| BundleError::Archive { path: PathBuf::from(name), source: e })?;
    if bytes.len() as u64 > limits.max_record_bytes {
        return Err(BundleError::TooLarge { what: name.to_owned(), limit: limits.max_record_bytes });
    }
    Ok(bytes)
}

/// The member's name, if it is a regular file named like a bundle member; anything else is
/// refused before a byte of it is read.
fn member_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, BundleError> {
    let raw = entry.path_bytes();
    let shown = String::from_utf8_lossy(&raw);
    let shown = esteira_core::excerpt(&shown, 120).into_owned();
    let refuse = |reason: &str| BundleError::UnsafeMember { member: shown.clone(), reason: reason.to_owned() };
    let kind = entry.header().entry_type();
    if !kind.is_file() {
        return Err(refuse(match kind {
            tar::EntryType::Symlink => "a symbolic link",
            tar::EntryType::Link => "a hard link",
            tar::EntryType::Directory => "a directory",
            _ => "not a regular file",
        }));
    }
    let name = std::str::from_utf8(&raw).map_err(|_| refuse("its name is not UTF-8"))?;
    if name.starts_with('/') {
        return Err(refuse("an absolute path"));
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Err(refuse("a path with `..`"));
    }
    let is_object = name
        .strip_prefix("objects/")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if name == MANIFEST || name == RUN || is_object {
        Ok(name.to_owned())
    } else {
        Err(refuse("not a bundle member name (manifest.json, run.json, objects/<hash>)"))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A reader that hashes and counts what passes through it.
struct HashingReader<R> {
    inner: R,
    hashing: HashingWriter<io::Sink>,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self { inner, hashing: HashingWriter::new(io::sink()) }
    }

    fn finish(self) -> (ContentHash, u64) {
        let n = self.hashing.written();
        (self.hashing.finish().0, n)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hashing.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use esteira_core::{LocalStore, RunStatus, StageRecord, StageStatus};

    use super::*;

    fn run(output: ContentHash, input: ContentHash) -> RunRecord {
        let stage = StageRecord {
            kind: "k".into(),
            version: "1".into(),
            params: serde_json::json!({}),
            key: None,
            status: StageStatus::Ran,
            input_sources: BTreeMap::from([("in".into(), "file:x.csv".into())]),
            inputs: BTreeMap::from([("in".into(), input)]),
            outputs: BTreeMap::from([("out".into(), output)]),
            output_files: BTreeMap::new(),
            output_media: BTreeMap::new(),
            metrics: BTreeMap::new(),
            start_ms: 0.0,
            end_ms: 1.0,
            error: None,
            remote_hit: false,
            job: None,
        };
        RunRecord {
            id: "20260101T000000Z-0001".into(),
            status: RunStatus::Succeeded,
            pipeline: "esteira.toml".into(),
            config_hash: ContentHash::of_bytes(b""),
            esteira_version: "0.1.0".into(),
            build: BuildInfo::default(),
            command: "esteira run".into(),
            host: "h".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            ended_at: None,
            order: vec!["s".into()],
            overrides: Vec::new(),
            sweep: None,
            stages: BTreeMap::from([("s".into(), stage)]),
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        store: LocalStore,
        contents: Contents,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store")).unwrap();
        let input = store.put_bytes(b"a,b\n1,2\n").unwrap();
        let output = store.put_bytes(&[7u8; 3000]).unwrap();
        let contents = Contents {
            run: run(output, input),
            target: Target::Run { id: "20260101T000000Z-0001".into() },
            stages: vec!["s".into()],
            inputs: BTreeSet::from([input]),
            outputs: BTreeSet::from([output]),
            esteira_version: "0.1.0".into(),
            build: BuildInfo::default(),
        };
        Fixture { dir, store, contents }
    }

    impl Fixture {
        fn bytes(&self, compression: Compression) -> Vec<u8> {
            let mut v = Vec::new();
            write(&self.contents, &self.store, &mut v, compression).unwrap();
            v
        }

        fn read(&self, bytes: &[u8]) -> Result<Unpacked, BundleError> {
            let path = self.dir.path().join("b.tar");
            std::fs::write(&path, bytes).unwrap();
            let fresh = tempfile::tempdir_in(self.dir.path()).unwrap();
            read(&path, &LocalStore::open(fresh.path()).unwrap(), &Limits::default())
        }
    }

    /// (name, data offset, size) of every member of a plain tar.
    fn members(tar: &[u8]) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let name = String::from_utf8_lossy(&tar[at..at + 100]).trim_end_matches('\0').to_owned();
            let size_field = String::from_utf8_lossy(&tar[at + 124..at + 136]).trim_matches(['\0', ' ']).to_owned();
            let size = usize::from_str_radix(&size_field, 8).unwrap();
            out.push((name, at + 512, size));
            at += 512 + size.div_ceil(512) * 512;
        }
        out
    }

    #[test]
    fn the_same_contents_give_the_same_bytes_and_round_trip() {
        let f = fixture();
        for compression in [Compression::None, Compression::Zstd] {
            let (a, b) = (f.bytes(compression), f.bytes(compression));
            assert_eq!(a, b);
            let u = f.read(&a).unwrap();
            assert_eq!(u.run, f.contents.run);
            assert_eq!(u.objects, 2);
            assert_eq!(u.archive_hash, ContentHash::of_bytes(&a));
            assert_eq!(u.manifest.expected["s"], f.contents.run.stages["s"].outputs);
        }
        let names: Vec<String> = members(&f.bytes(Compression::None)).into_iter().map(|m| m.0).collect();
        assert_eq!(names[..2], [MANIFEST.to_owned(), RUN.to_owned()]);
    }

    #[test]
    fn an_altered_byte_names_the_member() {
        let f = fixture();
        let good = f.bytes(Compression::None);
        for (name, at, _) in members(&good).into_iter().skip(1) {
            let mut bad = good.clone();
            bad[at + 1] ^= 1;
            let e = f.read(&bad).unwrap_err();
            assert!(matches!(&e, BundleError::HashMismatch { member, .. } if *member == name), "{name}: {e}");
            assert!(e.to_string().contains(&name), "{e}");
        }
    }

    #[test]
    fn a_missing_member_is_named() {
        let f = fixture();
        let good = f.bytes(Compression::None);
        let (name, at, size) = members(&good).pop().unwrap();
        let mut bad = good[..at - 512].to_vec();
        bad.extend_from_slice(&good[at + size.div_ceil(512) * 512..]);
        let e = f.read(&bad).unwrap_err();
        assert!(matches!(&e, BundleError::MissingMember { member } if *member == name), "{e}");
    }

    #[test]
    fn a_manifest_edited_to_expect_other_hashes_is_refused() {
        let f = fixture();
        let good = f.bytes(Compression::None);
        let (_, at, size) = members(&good)[0].clone();
        let output = f.contents.run.stages["s"].outputs["out"].to_hex();
        let manifest = String::from_utf8(good[at..at + size].to_vec()).unwrap();
        // The first mention is under `expected` (the fields' order).
        let pos = at + manifest.find(&output).unwrap();
        let mut bad = good.clone();
        bad[pos] = if bad[pos] == b'0' { b'1' } else { b'0' };
        let e = f.read(&bad).unwrap_err();
        assert!(matches!(e, BundleError::Inconsistent { .. }), "{e}");
        assert!(e.to_string().contains("expected outputs of stage `s`"), "{e}");
    }

    /// A bundle whose manifest lists `name` (as a 4-byte object), with the member written as
    /// `kind`.
    fn hostile(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
        let manifest = Manifest {
            format: FORMAT.into(),
            esteira_version: "0".into(),
            build: BuildInfo::default(),
            target: Target::Run { id: "r".into() },
            run_id: "r".into(),
            stages: vec![],
            expected: BTreeMap::new(),
            members: BTreeMap::from([(
                name.to_owned(),
                Member { blake3: ContentHash::of_bytes(b"evil"), size: 4, role: Role::Input },
            )]),
        };
        let json = serde_json::to_vec(&manifest).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        append(&mut tar, MANIFEST, json.len() as u64, json.as_slice()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(if link.is_some() { 0 } else { 4 });
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        // set_path refuses `..`; the raw name field is what a hostile archive would carry.
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        let data: &[u8] = if link.is_some() { b"" } else { b"evil" };
        tar.append(&h, data).unwrap();
        tar.into_inner().unwrap()
    }

    #[test]
    fn links_escapes_and_strange_names_are_refused_before_anything_is_written() {
        let f = fixture();
        let object = format!("objects/{}", ContentHash::of_bytes(b"evil"));
        let cases = [
            (hostile("../../etc/passwd", tar::EntryType::Regular, None), "`..`"),
            (hostile("/etc/passwd", tar::EntryType::Regular, None), "absolute"),
            (hostile(&object, tar::EntryType::Symlink, Some("/etc/passwd")), "symbolic link"),
            (hostile(&object, tar::EntryType::Link, Some("run.json")), "hard link"),
            (hostile("objects/", tar::EntryType::Directory, None), "directory"),
            (hostile("notes.txt", tar::EntryType::Regular, None), "not a bundle member name"),
        ];
        for (bytes, why) in cases {
            let e = f.read(&bytes).unwrap_err();
            assert!(matches!(e, BundleError::UnsafeMember { .. }), "{e}");
            assert!(e.to_string().contains(why), "{e}");
        }
        assert!(!f.dir.path().join("etc").exists());
    }

    #[test]
    fn an_unlisted_member_and_an_inconsistent_manifest_are_errors() {
        let f = fixture();
        let mut other = fixture();
        other.contents.inputs.clear();
        other.contents.outputs.clear();
        // The manifest of a bundle with no objects, followed by one object: unlisted.
        let empty = other.bytes(Compression::None);
        let full = f.bytes(Compression::None);
        let (_, at, _) = members(&full)[2];
        let end = members(&empty).last().map(|(_, a, s)| a + s.div_ceil(512) * 512).unwrap();
        let mut bad = empty[..end].to_vec();
        bad.extend_from_slice(&full[at - 512..]);
        let e = f.read(&bad).unwrap_err();
        assert!(matches!(e, BundleError::UnexpectedMember { .. }), "{e}");

        let mut wrong = fixture();
        wrong.contents.run.stages.get_mut("s").unwrap().outputs.clear();
        let mut c = wrong.contents.clone();
        c.stages = vec!["nope".into()];
        let e = write(&c, &wrong.store, Vec::new(), Compression::None).unwrap_err();
        assert!(matches!(e, BundleError::Inconsistent { .. }), "{e}");
    }

    #[test]
    fn caps_apply() {
        let f = fixture();
        let bytes = f.bytes(Compression::None);
        let path = f.dir.path().join("c.tar");
        std::fs::write(&path, &bytes).unwrap();
        let store = LocalStore::open(f.dir.path().join("capped")).unwrap();
        let limits = Limits { max_total_bytes: 100, ..Limits::default() };
        let e = read(&path, &store, &limits).unwrap_err();
        assert!(matches!(e, BundleError::TooLarge { .. }), "{e}");
        let limits = Limits { max_members: 2, ..Limits::default() };
        assert!(matches!(read(&path, &store, &limits), Err(BundleError::TooLarge { .. })));
    }
}
