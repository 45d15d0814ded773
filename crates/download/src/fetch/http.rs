//! HTTP transfers (the `http` feature): reqwest on rustls, retries with backoff and jitter,
//! `Retry-After`, ranged resumption guarded by `If-Range`, conditional requests.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use super::{DownloadSink, FetchOptions, FetchOutcome, FetchReport, Validators, finish_hash};
use crate::DownloadError;

impl Validators {
    fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { etag: get(header::ETAG), last_modified: get(header::LAST_MODIFIED) }
    }
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
