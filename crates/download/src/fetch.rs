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
use std::time::{Duration, SystemTime};

use esteira_core::{ContentHash, NoProgress, Progress};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde::{Deserialize, Serialize};

use crate::DownloadError;

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
    fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { etag: get(header::ETAG), last_modified: get(header::LAST_MODIFIED) }
    }

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
        Source::Http(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| DownloadError::io("starting the download runtime", e))?;
            let client = http_client(options)?;
            runtime.block_on(fetch_http(&client, url, options, sink))
        }
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

/// An HTTP client for `options`: rustls with the ring provider, connect and read timeouts.
pub fn http_client(options: &FetchOptions) -> Result<reqwest::Client, DownloadError> {
    // Another part of the program may have installed a provider first; that one is fine too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(options.user_agent.clone())
        .connect_timeout(options.timeout)
        .read_timeout(options.timeout)
        .build()
        .map_err(|e| DownloadError::Client { message: e.to_string() })
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

fn finish_hash(
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

/// Fetches an HTTP URL into `sink` with `client` (see the module docs for the behaviour).
pub async fn fetch_http(
    client: &reqwest::Client,
    url: &str,
    options: &FetchOptions,
    sink: &mut dyn DownloadSink,
) -> Result<FetchOutcome, DownloadError> {
    let mut t = Transfer {
        url,
        options,
        written: 0,
        hasher: blake3::Hasher::new(),
        total: None,
        validators: Validators::default(),
        status: 0,
        attempts: 0,
        resumed: 0,
        restarted: 0,
    };
    loop {
        t.attempts += 1;
        match t.attempt(client, sink).await {
            Ok(Step::Done) => break,
            Ok(Step::NotModified(validators)) => {
                return Ok(FetchOutcome::NotModified { validators, attempts: t.attempts });
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry { reason, wait }) => {
                if t.attempts > options.retries {
                    return Err(DownloadError::Transfer { url: url.to_owned(), message: reason, attempts: t.attempts });
                }
                let wait = wait.unwrap_or_else(|| backoff(options, t.attempts, url));
                tracing::warn!(url, attempt = t.attempts, wait_ms = wait.as_millis() as u64, %reason, "retrying");
                sink.progress().set_message(&format!("retrying in {:.1}s: {reason}", wait.as_secs_f64()));
                tokio::time::sleep(wait).await;
            }
        }
    }
    let hash = finish_hash(url, &t.hasher, t.written, options.checksum.as_deref())?;
    Ok(FetchOutcome::Fetched(FetchReport {
        status: Some(t.status),
        bytes: t.written,
        attempts: t.attempts,
        resumed: t.resumed,
        restarted: t.restarted,
        hash,
        validators: t.validators,
    }))
}

enum Step {
    Done,
    NotModified(Validators),
}

enum Failure {
    /// Worth another attempt, after `wait` (or the backoff).
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fatal(DownloadError),
}

struct Transfer<'a> {
    url: &'a str,
    options: &'a FetchOptions,
    /// Bytes of the current body already in the sink.
    written: u64,
    hasher: blake3::Hasher,
    /// The full body length, when the server declared it.
    total: Option<u64>,
    /// Validators of the response the current body comes from.
    validators: Validators,
    status: u16,
    attempts: u32,
    resumed: u32,
    restarted: u32,
}

impl Transfer<'_> {
    fn restart(&mut self, sink: &mut dyn DownloadSink) -> Result<(), Failure> {
        sink.restart().map_err(|e| Failure::Fatal(DownloadError::io("the download sink", e)))?;
        self.written = 0;
        self.hasher.reset();
        self.total = None;
        self.restarted += 1;
        Ok(())
    }

    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut req = client.get(self.url);
        if self.written == 0 {
            if let Some(v) = &self.options.validators {
                if let Some(etag) = &v.etag {
                    req = req.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &v.last_modified {
                    req = req.header(header::IF_MODIFIED_SINCE, lm);
                }
            }
        } else {
            req = req.header(header::RANGE, format!("bytes={}-", self.written));
            // Only a strong ETag or a date may guard a range; otherwise the server sends it all.
            let strong = self.validators.etag.as_ref().filter(|e| !e.starts_with("W/"));
            if let Some(guard) = strong.or(self.validators.last_modified.as_ref()) {
                req = req.header(header::IF_RANGE, guard);
            }
        }
        req
    }

    async fn attempt(&mut self, client: &reqwest::Client, sink: &mut dyn DownloadSink) -> Result<Step, Failure> {
        let mut resp = match self.request(client).send().await {
            Ok(r) => r,
            Err(e) => return Err(Failure::Retry { reason: describe(&e), wait: None }),
        };
        let status = resp.status();
        self.status = status.as_u16();
        match status {
            StatusCode::NOT_MODIFIED if self.written == 0 && self.options.validators.is_some() => {
                let mut validators = Validators::from_headers(resp.headers());
                if validators.is_empty() {
                    validators = self.options.validators.clone().unwrap_or_default();
                }
                return Ok(Step::NotModified(validators));
            }
            StatusCode::OK => {
                if self.written > 0 {
                    tracing::info!(url = self.url, "server ignored the range request: starting over");
                    self.restart(sink)?;
                }
                self.validators = Validators::from_headers(resp.headers());
                self.total = header_u64(resp.headers(), header::CONTENT_LENGTH);
            }
            StatusCode::PARTIAL_CONTENT => {
                let range = resp.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok());
                match range.and_then(parse_content_range) {
                    Some((start, total)) if start == self.written => {
                        if self.written > 0 {
                            self.resumed += 1;
                        }
                        self.total = total.or(self.total);
                    }
                    _ => {
                        self.restart(sink)?;
                        return Err(Failure::Retry {
                            reason: format!("206 with an unexpected Content-Range {range:?}"),
                            wait: Some(Duration::ZERO),
                        });
                    }
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE if self.written > 0 => {
                if self.total == Some(self.written) {
                    return Ok(Step::Done);
                }
                self.restart(sink)?;
                return Err(Failure::Retry { reason: "416 for a resume request".into(), wait: Some(Duration::ZERO) });
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let wait = retry_after(resp.headers());
                if let Some(w) = wait
                    && w > self.options.max_retry_after
                {
                    return Err(Failure::Fatal(DownloadError::Transfer {
                        url: self.url.to_owned(),
                        message: format!(
                            "HTTP {} asks to retry after {} s, longer than the {} s limit",
                            status.as_u16(),
                            w.as_secs(),
                            self.options.max_retry_after.as_secs()
                        ),
                        attempts: self.attempts,
                    }));
                }
                return Err(Failure::Retry { reason: format!("HTTP {}", status.as_u16()), wait });
            }
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                return Err(Failure::Retry { reason: format!("HTTP {}", s.as_u16()), wait: None });
            }
            s => {
                return Err(Failure::Fatal(DownloadError::HttpStatus {
                    url: self.url.to_owned(),
                    status: s.as_u16(),
                    attempts: self.attempts,
                }));
            }
        }
        if let (Some(max), Some(total)) = (self.options.max_bytes, self.total)
            && total > max
        {
            return Err(Failure::Fatal(DownloadError::TooLarge {
                url: self.url.to_owned(),
                limit: max,
                what: format!("Content-Length says {total} bytes"),
            }));
        }
        let progress = sink.progress();
        progress.set_length(self.total.unwrap_or(0));
        if self.written > 0 {
            progress.set_message(&format!("resuming at byte {}", self.written));
        }
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let of = self.total.map(|t| format!(" of {t}")).unwrap_or_default();
                    return Err(Failure::Retry {
                        reason: format!("body interrupted after {}{of} bytes: {}", self.written, describe(&e)),
                        wait: None,
                    });
                }
            };
            let n = chunk.len() as u64;
            if let Some(max) = self.options.max_bytes
                && self.written + n > max
            {
                return Err(Failure::Fatal(DownloadError::TooLarge {
                    url: self.url.to_owned(),
                    limit: max,
                    what: format!("more than {max} bytes received"),
                }));
            }
            sink.write_all(&chunk).map_err(|e| Failure::Fatal(DownloadError::io("the download sink", e)))?;
            self.hasher.update(&chunk);
            self.written += n;
            sink.progress().inc(n);
        }
        match self.total {
            Some(total) if self.written < total => Err(Failure::Retry {
                reason: format!("body ended after {} of {total} bytes (Content-Length)", self.written),
                wait: None,
            }),
            Some(total) if self.written > total => Err(Failure::Fatal(DownloadError::Transfer {
                url: self.url.to_owned(),
                message: format!("received {} bytes but Content-Length said {total}", self.written),
                attempts: self.attempts,
            })),
            _ => Ok(Step::Done),
        }
    }
}

/// A reqwest error with its causes: reqwest's own message rarely says what happened.
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() { format!("timed out: {e}") } else { e.to_string() };
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

fn header_u64(headers: &HeaderMap, name: header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `bytes 100-999/1000` -> (100, Some(1000)); `bytes 100-999/*` -> (100, None).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    Some((start.trim().parse().ok()?, total))
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with "equal jitter": half the delay fixed, half random, so that many
/// clients failing together do not retry in lockstep.
fn backoff(options: &FetchOptions, attempt: u32, url: &str) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    let base = options.backoff.saturating_mul(factor).min(options.max_backoff);
    base.mul_f64(0.5 + 0.5 * jitter(url, attempt))
}

/// A number in [0, 1) that differs between processes and attempts. It only spreads retry times,
/// so it needs no cryptographic randomness (and no RNG dependency).
fn jitter(url: &str, attempt: u32) -> f64 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let h = blake3::hash(format!("{url}|{attempt}|{nanos}|{}", std::process::id()).as_bytes());
    let mut w = [0u8; 8];
    w.copy_from_slice(&h.as_bytes()[..8]);
    (u64::from_le_bytes(w) >> 11) as f64 / (1u64 << 53) as f64
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

    #[test]
    fn content_range_and_retry_after() {
        assert_eq!(parse_content_range("bytes 100-999/1000"), Some((100, Some(1000))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(100));
        h.insert(header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(90) && d <= Duration::from_secs(100), "{d:?}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let o = FetchOptions {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..FetchOptions::default()
        };
        let d1 = backoff(&o, 1, "u");
        let d3 = backoff(&o, 3, "u");
        let d9 = backoff(&o, 9, "u");
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400), "{d3:?}");
        assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_secs(1), "{d9:?}");
    }
}
