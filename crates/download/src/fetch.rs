//! Fetching a source (an `http(s)://` URL or a local `file:`) into a sink, streaming and hashing.
//!
//! HTTP transfers retry with exponential backoff and jitter on connect errors, timeouts, resets,
//! short bodies, 408 and 5xx; a 429 or 503 waits as long as its `Retry-After` says (up to a cap).
//! An interrupted body resumes with a `Range` request (guarded by `If-Range` so a changed
//! resource is sent whole): a `206` continues where the body stopped, a `200` means the server
//! ignored the range, and the sink is restarted from scratch. The declared `Content-Length` is
//! checked, a size cap and a pinned BLAKE3 checksum are enforced, and conditional requests
//! (`If-None-Match` / `If-Modified-Since`) turn an unchanged resource into
//! [`FetchOutcome::NotModified`] without a body.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use esteira_core::{ContentHash, NoProgress, Progress};
use serde::{Deserialize, Serialize};

use crate::DownloadError;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
pub use http::{fetch_http, http_client};

/// Where bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `http://` or `https://` URL.
    Http(String),
    /// A local file.
    File(PathBuf),
}

impl Source {
    /// Parses `https://…`, `http://…`, `file:///absolute/path` or `file:relative/path`;
    /// `resolve` turns a relative file path into a usable one (e.g. against the pipeline file's
    /// directory).
    pub fn parse(url: &str, resolve: impl FnOnce(&Path) -> PathBuf) -> Result<Self, DownloadError> {
        let bad = |message: &str| DownloadError::BadUrl { url: url.to_owned(), message: message.to_owned() };
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad("no host in the URL"));
            }
            return Ok(Self::Http(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("file:") {
            if let Some(abs) = rest.strip_prefix("//") {
                if !abs.starts_with('/') {
                    return Err(bad(
                        "a file URL with a host is not supported: use file:///absolute/path or file:relative/path",
                    ));
                }
                return Ok(Self::File(PathBuf::from(abs)));
            }
            if rest.is_empty() {
                return Err(bad("no path after `file:`"));
            }
            return Ok(Self::File(resolve(Path::new(rest))));
        }
        Err(bad("unsupported source: expected an https://, http:// or file: URL"))
    }
}

/// HTTP validators of a stored copy: sent back to ask "has it changed?".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` date the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is anything to send.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Connect timeout, and the longest wait for any read (an idle timeout, so a large body
    /// that keeps flowing is never cut).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay; doubled per retry, with jitter.
    pub backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one fails instead of waiting.
    pub max_retry_after: Duration,
    /// Size cap in bytes.
    pub max_bytes: Option<u64>,
    /// Pinned BLAKE3 checksum (64 hex digits) the body must hash to.
    pub checksum: Option<String>,
    /// Validators of a stored copy: makes the request conditional.
    pub validators: Option<Validators>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            max_bytes: None,
            checksum: None,
            validators: None,
            user_agent: concat!("esteira/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// What a completed transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Final HTTP status (`None` for files).
    pub status: Option<u16>,
    /// Bytes in the sink.
    pub bytes: u64,
    /// Requests made (1 for files).
    pub attempts: u32,
    /// How many times the body was resumed with a range request.
    pub resumed: u32,
    /// How many times the body started over because the server ignored the range.
    pub restarted: u32,
    /// BLAKE3 of the bytes.
    pub hash: ContentHash,
    /// The validators of what was fetched (for the next conditional request).
    pub validators: Validators,
}

/// The end of a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A body was written to the sink.
    Fetched(FetchReport),
    /// The server said `304 Not Modified`: nothing was written.
    NotModified {
        /// Validators to keep (the server may have sent fresh ones).
        validators: Validators,
        /// Requests made.
        attempts: u32,
    },
}

/// Where fetched bytes go. Besides writing, a sink can start over (when a server ignores a
/// range request the body comes again from byte 0) and reports progress.
pub trait DownloadSink: Write {
    /// Discards everything written so far.
    fn restart(&mut self) -> std::io::Result<()>;

    /// Where to report progress (bytes).
    fn progress(&self) -> &dyn Progress {
        &NoProgress
    }
}

impl DownloadSink for Vec<u8> {
    fn restart(&mut self) -> std::io::Result<()> {
        self.clear();
        Ok(())
    }
}

impl DownloadSink for std::fs::File {
    fn restart(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        self.set_len(0)?;
        self.rewind()
    }
}

/// Fetches `source` into `sink`, blocking (an HTTP fetch runs on its own current-thread tokio
/// runtime, so this may be called from a blocking thread of another runtime).
pub fn fetch(
    source: &Source,
    options: &FetchOptions,
    sink: &mut dyn DownloadSink,
) -> Result<FetchOutcome, DownloadError> {
    match source {
        Source::File(path) => copy_file(path, options, sink).map(FetchOutcome::Fetched),
        #[cfg(feature = "http")]
        Source::Http(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| DownloadError::io("starting the download runtime", e))?;
            let client = http_client(options)?;
            runtime.block_on(fetch_http(&client, url, options, sink))
        }
        #[cfg(not(feature = "http"))]
        Source::Http(url) => Err(DownloadError::HttpDisabled { url: url.clone() }),
    }
}

/// Fetches a URL (`http(s)://` or `file:`) into memory. Convenient for small bodies; use
/// [`fetch`] with a file sink for large ones.
pub fn fetch_to_vec(url: &str, options: &FetchOptions) -> Result<(Vec<u8>, FetchOutcome), DownloadError> {
    let source = Source::parse(url, Path::to_path_buf)?;
    let mut body = Vec::new();
    let outcome = fetch(&source, options, &mut body)?;
    Ok((body, outcome))
}

/// Fetches a URL into a file (created or truncated).
pub fn fetch_to_file(url: &str, path: &Path, options: &FetchOptions) -> Result<FetchOutcome, DownloadError> {
    let source = Source::parse(url, Path::to_path_buf)?;
    let mut file = std::fs::File::create(path).map_err(|e| DownloadError::io(path.display(), e))?;
    let outcome = fetch(&source, options, &mut file)?;
    file.sync_all().map_err(|e| DownloadError::io(path.display(), e))?;
    Ok(outcome)
}

/// Copies a local file into the sink, hashing it and enforcing the cap and checksum. Files of
/// [`HASH_ASIDE_BYTES`] or more are hashed on a second thread while they are copied (the sink,
/// an object of the store, hashes what it is given too).
pub fn copy_file(
    path: &Path,
    options: &FetchOptions,
    sink: &mut dyn DownloadSink,
) -> Result<FetchReport, DownloadError> {
    let name = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| DownloadError::io(&name, e))?;
    let len = file.metadata().map_err(|e| DownloadError::io(&name, e))?.len();
    if let Some(max) = options.max_bytes
        && len > max
    {
        return Err(DownloadError::TooLarge { url: name, limit: max, what: format!("the file has {len} bytes") });
    }
    sink.progress().set_length(len);
    let (written, hasher) = if len >= HASH_ASIDE_BYTES {
        copy_hashing_aside(&mut file, &name, options.max_bytes, sink)?
    } else {
        let mut hasher = blake3::Hasher::new();
        let written = copy_blocks(&mut file, &name, options.max_bytes, sink, |block, n| {
            hasher.update(&block[..n]);
            block
        })?;
        (written, hasher)
    };
    let hash = finish_hash(&name, &hasher, written, options.checksum.as_deref())?;
    Ok(FetchReport {
        status: None,
        bytes: written,
        attempts: 1,
        resumed: 0,
        restarted: 0,
        hash,
        validators: Validators::default(),
    })
}

/// Files at least this large are hashed on a second thread while they are copied.
pub const HASH_ASIDE_BYTES: u64 = 8 << 20;

/// Bytes read from a local file at a time.
const COPY_BLOCK: usize = 1 << 20;

/// Copies `file` into `sink` block by block, handing each block (and its length) to `hash`,
/// which gives back a block to read into next. Returns the bytes copied.
fn copy_blocks(
    file: &mut std::fs::File,
    name: &str,
    max_bytes: Option<u64>,
    sink: &mut dyn DownloadSink,
    mut hash: impl FnMut(Vec<u8>, usize) -> Vec<u8>,
) -> Result<u64, DownloadError> {
    use std::io::Read;
    let mut block = vec![0u8; COPY_BLOCK];
    let mut written = 0u64;
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DownloadError::io(name, e)),
        };
        written += n as u64;
        if let Some(max) = max_bytes
            && written > max
        {
            return Err(DownloadError::TooLarge {
                url: name.to_owned(),
                limit: max,
                what: "the file grew while copying".into(),
            });
        }
        sink.write_all(&block[..n]).map_err(|e| DownloadError::io("the download sink", e))?;
        sink.progress().inc(n as u64);
        block = hash(block, n);
        if block.len() < COPY_BLOCK {
            block.resize(COPY_BLOCK, 0);
        }
    }
    Ok(written)
}

/// [`copy_blocks`] with the hashing on a second thread: blocks go to it in order and come back
/// to be read into again (a few are in flight at most).
fn copy_hashing_aside(
    file: &mut std::fs::File,
    name: &str,
    max_bytes: Option<u64>,
    sink: &mut dyn DownloadSink,
) -> Result<(u64, blake3::Hasher), DownloadError> {
    std::thread::scope(|s| {
        let (to_hash, blocks) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
        let (give_back, returned) = std::sync::mpsc::channel::<Vec<u8>>();
        let hashing = s.spawn(move || {
            let mut hasher = blake3::Hasher::new();
            for (block, n) in blocks {
                hasher.update(&block[..n]);
                // The copy may have ended (an error): then the block is dropped here.
                let _ = give_back.send(block);
            }
            hasher
        });
        let copied = copy_blocks(file, name, max_bytes, sink, |block, n| match to_hash.send((block, n)) {
            Ok(()) => returned.try_recv().unwrap_or_default(),
            // The hashing thread is gone (it panicked): its join below reports it.
            Err(std::sync::mpsc::SendError((block, _))) => block,
        });
        drop(to_hash);
        let hasher = hashing
            .join()
            .map_err(|_| DownloadError::io(name, std::io::Error::other("the thread hashing the file failed")))?;
        Ok((copied?, hasher))
    })
}

pub(crate) fn finish_hash(
    url: &str,
    hasher: &blake3::Hasher,
    bytes: u64,
    checksum: Option<&str>,
) -> Result<ContentHash, DownloadError> {
    let actual = hasher.finalize().to_hex().to_string();
    if let Some(expected) = checksum
        && !expected.eq_ignore_ascii_case(&actual)
    {
        return Err(DownloadError::ChecksumMismatch {
            url: url.to_owned(),
            expected: expected.to_ascii_lowercase(),
            actual,
            bytes,
        });
    }
    Ok(actual.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_is_copied_whole_and_hashed_aside_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        // Not a multiple of the block size, and different in every block.
        let bytes: Vec<u8> = (0..u32::try_from(HASH_ASIDE_BYTES).unwrap() + 3 * 1_048_576 + 12_345)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut sink = Vec::new();
        let report = copy_file(&path, &FetchOptions::default(), &mut sink).unwrap();
        assert!(sink == bytes, "the copy differs");
        assert_eq!(report.bytes, bytes.len() as u64);
        assert_eq!(report.hash.to_hex(), blake3::hash(&bytes).to_hex().to_string());
        // A wrong pin fails, and a cap below the size refuses the file, as for small files.
        let pinned = FetchOptions { checksum: Some("0".repeat(64)), ..FetchOptions::default() };
        assert!(matches!(copy_file(&path, &pinned, &mut Vec::new()), Err(DownloadError::ChecksumMismatch { .. })));
        let capped = FetchOptions { max_bytes: Some(1 << 20), ..FetchOptions::default() };
        assert!(matches!(copy_file(&path, &capped, &mut Vec::new()), Err(DownloadError::TooLarge { .. })));
        let small = dir.path().join("small.csv");
        std::fs::write(&small, &bytes[..1000]).unwrap();
        let mut sink = Vec::new();
        assert_eq!(
            copy_file(&small, &FetchOptions::default(), &mut sink).unwrap().hash,
            ContentHash::of_bytes(&bytes[..1000])
        );
        assert_eq!(sink, &bytes[..1000]);
    }

    #[test]
    fn parses_sources() {
        let base = |p: &Path| Path::new("/pipelines").join(p);
        assert_eq!(
            Source::parse("https://dados.ufrn.br/x.csv", base).unwrap(),
            Source::Http("https://dados.ufrn.br/x.csv".into())
        );
        assert_eq!(Source::parse("file:data/a.csv", base).unwrap(), Source::File("/pipelines/data/a.csv".into()));
        assert_eq!(Source::parse("file:///tmp/a.csv", base).unwrap(), Source::File("/tmp/a.csv".into()));
        let err = Source::parse("ftp://x/y", base).unwrap_err().to_string();
        assert!(err.starts_with("ftp://x/y: unsupported source"), "{err}");
        assert!(Source::parse("file://host/a", base).is_err());
        assert!(Source::parse("https:///nohost", base).is_err());
    }
}
