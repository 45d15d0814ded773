//! The one error type of esteira-core.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the store, the table I/O or the stage contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A string is not a 64-digit hex BLAKE3 hash.
    #[error("not a content hash: {0:?} (expected 64 hex digits)")]
    BadHash(String),
    /// No object with this hash is in the store.
    #[error("object {0} is not in the store")]
    MissingObject(String),
    /// An object's bytes no longer match its name.
    #[error("object {expected} is corrupt: its content hashes to {actual}")]
    Corrupt {
        /// The hash the object is stored under.
        expected: String,
        /// The hash of what is on disk.
        actual: String,
    },
    /// An entry under `objects/` that cannot be an object: not a regular file (a symlink, a
    /// directory), or not the size a record says.
    #[error("{path}: {reason}")]
    BadObject {
        /// The object's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process holds the store's writer lock.
    #[error("the store at {path} is locked by another esteira process ({holder})")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into the lock file (pid, host, command, since).
        holder: String,
    },
    /// A JSON record (cache, run, memo) could not be read or written.
    #[error("{path}: invalid JSON record: {source}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A stage's params do not have the expected shape.
    #[error("stage kind `{kind}`: param `{key}`: {message}")]
    Param {
        /// The stage kind.
        kind: String,
        /// The dotted path of the offending key (`.` for the whole table).
        key: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A stage asked for an input it was not given.
    #[error("stage `{stage}` has no input named `{name}` (it has: {available})")]
    UnknownInput {
        /// The stage's name.
        stage: String,
        /// The requested input.
        name: String,
        /// The inputs it does have.
        available: String,
    },
    /// A stage wrote an output it did not declare, or twice.
    #[error("stage `{stage}`: output `{name}`: {message}")]
    Output {
        /// The stage's name.
        stage: String,
        /// The output.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a Parquet table failed.
    #[error("{what}: parquet: {source}")]
    Parquet {
        /// Which table.
        what: String,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// An Arrow kernel failed.
    #[error("{what}: arrow: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// A run record with this id (or prefix) does not exist or is ambiguous.
    #[error("run {0}")]
    Run(String),
    /// A stage kind was registered twice: two crates (or a user's binary and a shipped crate)
    /// claim the same name, and pipeline files could not say which one they mean.
    #[error("stage kind `{kind}` is registered twice (each kind may be registered once; rename one of them)")]
    DuplicateKind {
        /// The kind.
        kind: String,
    },
}

impl CoreError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io { path: path.as_ref().to_path_buf(), source }
    }
}
