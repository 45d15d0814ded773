//! The one error type of esteira-download.

use esteira_core::{CoreError, MAX_EXCERPT_CHARS, excerpt};

/// Everything that can go wrong fetching a source, parsing a portal CSV or merging tables.
///
/// Every variant names what it is about: the URL or file, the line and column, the table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The source string is not an `http://`, `https://` or `file:` URL we can use.
    #[error("{url}: {message}")]
    BadUrl {
        /// The source as written.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// An `http(s)://` source, but this build of esteira-download has no `http` feature.
    #[error("{url}: this build cannot fetch over HTTP (esteira-download was built without its `http` feature)")]
    HttpDisabled {
        /// The URL.
        url: String,
    },
    /// The server answered with a status we do not retry (a 4xx, or 5xx after the last retry).
    #[error("{url}: HTTP {status} (after {attempts} attempt(s))")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// How many requests were made.
        attempts: u32,
    },
    /// The transfer failed (connect error, timeout, reset, short body) on every attempt.
    #[error("{url}: {message} (after {attempts} attempt(s))")]
    Transfer {
        /// The URL.
        url: String,
        /// What went wrong on the last attempt.
        message: String,
        /// How many requests were made.
        attempts: u32,
    },
    /// The body does not hash to the pinned checksum.
    #[error("{url}: checksum mismatch: expected blake3 {expected}, downloaded {bytes} bytes hashing to {actual}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// The pinned BLAKE3 hex digest.
        expected: String,
        /// The digest of what was received.
        actual: String,
        /// Bytes received.
        bytes: u64,
    },
    /// The body is larger than the configured cap.
    #[error("{url}: larger than max_bytes = {limit} ({what})")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
        /// How the size was found out (declared length, or bytes received so far).
        what: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("building the HTTP client: {message}")]
    Client {
        /// What failed.
        message: String,
    },
    /// `--offline` and nothing fetched before.
    #[error("offline and no previous fetch of {url}")]
    Offline {
        /// The URL.
        url: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (or sink) involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a CSV table at all (empty, an HTML page, a JSON document).
    #[error("{source_name}: not a CSV table: {message}")]
    NotCsv {
        /// The file, URL or input name.
        source_name: String,
        /// What was found instead.
        message: String,
    },
    /// A malformed record (unterminated quote, stray bytes after a closing quote, bad header).
    #[error("{source_name}: line {line}: {message}")]
    Csv {
        /// The file, URL or input name.
        source_name: String,
        /// The physical line (1-based) where the record starts.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A record has a different number of fields than the header.
    #[error("{source_name}: line {line}: ragged row: {found} field(s), but the header has {expected} column(s)")]
    Ragged {
        /// The file, URL or input name.
        source_name: String,
        /// The physical line (1-based) where the record starts.
        line: u64,
        /// Columns in the header.
        expected: usize,
        /// Fields in this record.
        found: usize,
    },
    /// A byte that is not UTF-8 in a file read with `encoding = "utf-8"`.
    #[error(
        "{source_name}: line {line}, column {column}{}: invalid UTF-8 at byte offset {offset} (byte 0x{byte:02X}); \
         if the file is Windows-1252, set the merge param encoding = \"windows-1252\" (or \"auto\")",
        column_name.as_ref().map(|n| format!(" (`{n}`)")).unwrap_or_default()
    )]
    InvalidUtf8 {
        /// The file, URL or input name.
        source_name: String,
        /// The physical line (1-based) of the byte.
        line: u64,
        /// The field (1-based) of the record holding it.
        column: usize,
        /// That column's header name (none when the byte is in the header).
        column_name: Option<String>,
        /// The byte's offset in the file (0-based).
        offset: u64,
        /// The byte.
        byte: u8,
    },
    /// A column named in a join, selection or rename does not exist.
    #[error(
        "{table}: no column `{}` (columns: {})",
        excerpt(column, MAX_EXCERPT_CHARS),
        excerpt(available, 4 * MAX_EXCERPT_CHARS)
    )]
    MissingColumn {
        /// The table (input name).
        table: String,
        /// The missing column.
        column: String,
        /// The columns the table does have.
        available: String,
    },
    /// A join or selection is inconsistent (key types differ, a name clash, a bad rename).
    #[error("{context}: {message}")]
    Join {
        /// Which join or table.
        context: String,
        /// What is wrong.
        message: String,
    },
    /// An Arrow kernel failed.
    #[error("{what}: arrow: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// The store or the stage contract failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl DownloadError {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io { path: path.to_string(), source }
    }

    pub(crate) fn arrow(what: impl Into<String>, source: arrow::error::ArrowError) -> Self {
        Self::Arrow { what: what.into(), source }
    }
}
