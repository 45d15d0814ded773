//! The `fetch` stage: one source into the store, revalidated rather than re-downloaded.
//!
//! ```toml
//! [stages.fetch_cursos]
//! kind = "fetch"
//! [stages.fetch_cursos.params]
//! url = "https://dados.ufrn.br/dataset/…/download/cursos-de-graduacao.csv"  # or "file:data/cursos.csv"
//! checksum = "…64 hex digits…"   # optional: BLAKE3 the body must hash to
//! max_bytes = 500_000_000        # optional size cap
//! timeout_secs = 30              # connect and idle-read timeout (default 30)
//! retries = 4                    # default 4
//! backoff_ms = 500               # first backoff delay (default 500)
//! ext = "csv"                    # extension of the `data` output (default "csv")
//! ```
//!
//! Each run sends the previous run's validators (`If-None-Match`, `If-Modified-Since`); a `304`
//! reuses the stored object and the stage counts as cached. A `file:` source is revalidated by
//! its (size, mtime). With a pinned checksum whose object is already stored, no request is
//! made at all. Offline, the previous object is reused, or the stage fails with
//! "offline and no previous fetch of URL".
//!
//! The stage does not sniff content: it stores what the server sent (an HTML error page served
//! with `200` included) and the CSV reader in the merge stage rejects it with a clear error.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use esteira_core::{
    CacheRecord, ContentHash, CoreError, OutputSpec, OutputWriter, Params, Progress, Stage, StageContext, StageError,
    parse_params,
};
use serde::{Deserialize, Serialize};

use crate::DownloadError;
use crate::fetch::{DownloadSink, FetchOptions, FetchOutcome, FetchReport, Source, Validators, copy_file, fetch};

/// Params of the `fetch` stage.
///
/// Upper bounds, checked when the params are parsed (the error names the key, and the pipeline
/// file's line):
///
/// | param | default | at most | constant |
/// | --- | --- | --- | --- |
/// | `timeout_secs` | 30 | 3 600 (one hour) | [`MAX_TIMEOUT_SECS`] |
/// | `retries` | 4 | 100 | [`MAX_RETRIES`] |
/// | `backoff_ms` | 500 | 60 000 (one minute; each wait is capped at 30 s anyway) | [`MAX_BACKOFF_MS`] |
/// | `max_bytes` | none | 2^40 (1 TiB) | [`MAX_FETCH_BYTES`] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchParams {
    /// `https://…`, `http://…`, `file:///absolute/path` or `file:path/relative/to/the/pipeline/file`.
    pub url: String,
    /// Pinned BLAKE3 checksum (64 hex digits): the download must match it, and a stored copy
    /// that matches it is reused without asking the server.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Size cap in bytes.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Connect and idle-read timeout, seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Retries after the first attempt.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff delay in milliseconds (doubled per retry, with jitter).
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// File extension of the `data` output when materialised.
    #[serde(default = "default_ext")]
    pub ext: String,
}

/// The longest `timeout_secs`: one hour without a byte is a dead connection.
pub const MAX_TIMEOUT_SECS: f64 = 3_600.0;
/// The most `retries`.
pub const MAX_RETRIES: u32 = 100;
/// The longest first backoff delay, `backoff_ms`.
pub const MAX_BACKOFF_MS: u64 = 60_000;
/// The largest `max_bytes` cap (1 TiB); leave `max_bytes` out for no cap.
pub const MAX_FETCH_BYTES: u64 = 1 << 40;

fn default_timeout() -> f64 {
    30.0
}
fn default_retries() -> u32 {
    4
}
fn default_backoff() -> u64 {
    500
}
fn default_ext() -> String {
    "csv".into()
}

/// What the stage remembers between runs, in its cache record's `state`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FetchState {
    #[serde(flatten)]
    validators: Validators,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_mtime_ns: Option<u64>,
}

impl FetchState {
    fn of(record: &CacheRecord) -> Self {
        serde_json::from_value(record.state.clone()).unwrap_or_default()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Downloads one source (HTTP(S) or a local file) into the `data` output.
///
/// Volatile: it runs on every pipeline run, but an unchanged source costs one conditional
/// request (or one `stat` for a file) and reuses the stored object, counting as cached.
#[derive(Debug, Clone)]
pub struct FetchStage {
    params: Params<FetchParams>,
}

impl FetchStage {
    /// Builds the stage from pipeline-file params.
    pub fn from_params(value: serde_json::Value) -> Result<Self, CoreError> {
        let mut params: FetchParams = parse_params("fetch", value)?;
        let bad = |key: &str, message: String| CoreError::Param { kind: "fetch".into(), key: key.into(), message };
        Source::parse(&params.url, Path::to_path_buf).map_err(|e| bad("url", e.to_string()))?;
        if let Some(c) = &mut params.checksum {
            if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("checksum", format!("{c:?} is not a BLAKE3 digest (64 hex digits)")));
            }
            *c = c.to_ascii_lowercase();
        }
        // Written so that NaN fails too; above the bound, `Duration::from_secs_f64` would panic.
        if !(params.timeout_secs > 0.0 && params.timeout_secs <= MAX_TIMEOUT_SECS) {
            return Err(bad(
                "timeout_secs",
                format!(
                    "must be a positive number of seconds, at most {MAX_TIMEOUT_SECS}, not {}",
                    params.timeout_secs
                ),
            ));
        }
        let limit = |key: &str, value: u64, max: u64| {
            if value > max { Err(bad(key, format!("{value} is more than the limit of {max}"))) } else { Ok(()) }
        };
        limit("retries", u64::from(params.retries), u64::from(MAX_RETRIES))?;
        limit("backoff_ms", params.backoff_ms, MAX_BACKOFF_MS)?;
        if let Some(max_bytes) = params.max_bytes {
            limit("max_bytes", max_bytes, MAX_FETCH_BYTES)?;
        }
        if params.ext.is_empty() || !params.ext.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err(bad("ext", format!("{:?} is not a file extension (letters, digits and dots)", params.ext)));
        }
        Ok(Self { params: Params::new("fetch", params)? })
    }

    /// The typed params.
    pub fn params_typed(&self) -> &FetchParams {
        &self.params
    }

    fn options(&self) -> FetchOptions {
        FetchOptions {
            timeout: Duration::from_secs_f64(self.params.timeout_secs),
            retries: self.params.retries,
            backoff: Duration::from_millis(self.params.backoff_ms),
            max_bytes: self.params.max_bytes,
            checksum: self.params.checksum.clone(),
            ..FetchOptions::default()
        }
    }

    /// Whether the previous record's object is the pinned checksum (or nothing is pinned).
    fn matches_pin(&self, previous: &CacheRecord) -> bool {
        match &self.params.checksum {
            Some(c) => previous.outputs.get("data").is_some_and(|h| h.to_hex() == *c),
            None => true,
        }
    }

    fn run_file(&self, ctx: &mut StageContext, path: &Path) -> Result<(), DownloadError> {
        let meta = std::fs::metadata(path).map_err(|e| DownloadError::io(path.display(), e))?;
        let state = FetchState {
            file_size: Some(meta.len()),
            file_mtime_ns: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| u64::try_from(d.as_nanos()).ok()),
            ..FetchState::default()
        };
        if let Some(prev) = ctx.previous()
            && state.file_mtime_ns.is_some()
            && FetchState::of(prev) == state
            && self.matches_pin(prev)
        {
            ctx.set_state(state.to_json());
            match ctx.reuse_previous() {
                Ok(()) => return Ok(()),
                Err(e) => tracing::info!(path = %path.display(), error = %e, "previous copy unusable: copying again"),
            }
        }
        let mut sink = OutputSink::new(ctx);
        let report = copy_file(path, &self.options(), &mut sink)?;
        let ctx = sink.commit()?;
        record(ctx, &report);
        ctx.set_state(state.to_json());
        Ok(())
    }

    fn run_http(&self, ctx: &mut StageContext, url: &str) -> Result<(), DownloadError> {
        if let Some(prev) = ctx.previous()
            && self.params.checksum.is_some()
            && self.matches_pin(prev)
        {
            ctx.set_state(prev.state.clone());
            if ctx.reuse_previous().is_ok() {
                tracing::debug!(url, "pinned checksum already in the store: no request");
                return Ok(());
            }
        }
        if ctx.offline() {
            let Some(prev) = ctx.previous() else {
                return Err(DownloadError::Offline { url: url.to_owned() });
            };
            ctx.set_state(prev.state.clone());
            return ctx.reuse_previous().map_err(|e| DownloadError::Transfer {
                url: url.to_owned(),
                message: format!("offline, and the previous fetch cannot be reused: {e}"),
                attempts: 0,
            });
        }
        let mut options = self.options();
        options.validators = ctx.previous().map(|p| FetchState::of(p).validators).filter(|v| !v.is_empty());
        let conditional = options.validators.is_some();
        let source = Source::Http(url.to_owned());
        let mut sink = OutputSink::new(ctx);
        match fetch(&source, &options, &mut sink)? {
            FetchOutcome::Fetched(report) => {
                let ctx = sink.commit()?;
                record(ctx, &report);
                ctx.set_state(FetchState { validators: report.validators, ..FetchState::default() }.to_json());
            }
            FetchOutcome::NotModified { validators, attempts } => {
                let ctx = sink.discard();
                ctx.metric("http_status", 304);
                ctx.metric("attempts", attempts);
                ctx.set_state(FetchState { validators, ..FetchState::default() }.to_json());
                if let Err(e) = ctx.reuse_previous() {
                    // 304 but the object was garbage-collected: ask again without validators.
                    tracing::info!(url, error = %e, "not modified, but the stored copy is gone: fetching again");
                    options.validators = None;
                    let mut sink = OutputSink::new(ctx);
                    let FetchOutcome::Fetched(report) = fetch(&source, &options, &mut sink)? else {
                        return Err(DownloadError::Transfer {
                            url: url.to_owned(),
                            message: "304 Not Modified to an unconditional request".into(),
                            attempts,
                        });
                    };
                    let ctx = sink.commit()?;
                    record(ctx, &report);
                    ctx.set_state(FetchState { validators: report.validators, ..FetchState::default() }.to_json());
                }
            }
        }
        tracing::debug!(url, conditional, "fetched");
        Ok(())
    }
}

fn record(ctx: &mut StageContext, report: &FetchReport) {
    ctx.metric("bytes", report.bytes);
    if let Some(status) = report.status {
        ctx.metric("http_status", status);
    }
    ctx.metric("attempts", report.attempts);
    ctx.metric("resumed", report.resumed);
    ctx.metric("restarted", report.restarted);
}

impl Stage for FetchStage {
    fn kind(&self) -> &'static str {
        "fetch"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn inputs(&self) -> Vec<String> {
        Vec::new()
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("data", self.params.ext.clone())]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn volatile(&self) -> bool {
        true
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let source = Source::parse(&self.params.url, |p| ctx.resolve_path(p))?;
        match source {
            Source::File(path) => {
                // The pipeline's path policy: no file outside its directory unless opted in.
                let path = ctx.resolve_local_file(&path).map_err(StageError::msg)?;
                self.run_file(ctx, &path)?;
            }
            Source::Http(url) => self.run_http(ctx, &url)?,
        }
        Ok(())
    }
}

/// The `data` output as a restartable download sink: restarting drops the partial object (the
/// store discards uncommitted objects) and the next write begins a fresh one.
struct OutputSink<'a> {
    ctx: &'a mut StageContext,
    writer: Option<OutputWriter>,
}

impl<'a> OutputSink<'a> {
    fn new(ctx: &'a mut StageContext) -> Self {
        Self { ctx, writer: None }
    }

    fn writer(&mut self) -> std::io::Result<&mut OutputWriter> {
        if self.writer.is_none() {
            self.writer = Some(self.ctx.create_output("data").map_err(std::io::Error::other)?);
        }
        self.writer.as_mut().ok_or_else(|| std::io::Error::other("no output writer"))
    }

    /// Commits the output and gives the context back.
    fn commit(mut self) -> Result<&'a mut StageContext, DownloadError> {
        let writer = match self.writer.take() {
            Some(w) => w,
            None => self.ctx.create_output("data")?,
        };
        let hash: ContentHash = self.ctx.commit_output(writer)?;
        tracing::debug!(%hash, "fetched object committed");
        Ok(self.ctx)
    }

    /// Drops any partial output and gives the context back.
    fn discard(self) -> &'a mut StageContext {
        self.ctx
    }
}

impl Write for OutputSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl DownloadSink for OutputSink<'_> {
    fn restart(&mut self) -> std::io::Result<()> {
        self.writer = None;
        Ok(())
    }

    fn progress(&self) -> &dyn Progress {
        self.ctx.progress()
    }
}
