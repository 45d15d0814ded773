//! Where the remote is and how to talk to it: the `s3://BUCKET/PREFIX` URL, the S3 settings
//! (the standard `AWS_*` environment variables, then explicit ones) and the retry policy.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};

use crate::RemoteError;

/// A parsed `s3://BUCKET/PREFIX` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing `/` (empty for the bucket's root).
    pub prefix: String,
}

impl RemoteUrl {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX` (`s3a://` is accepted too). The prefix's
    /// segments must be valid object_store path segments (no `.`/`..`, no empty segments).
    pub fn parse(url: &str) -> Result<Self, RemoteError> {
        let bad = |message: String| RemoteError::Config { url: url.to_owned(), message };
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| bad("not an s3://BUCKET/PREFIX URL".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(bad(format!(
                "bucket {:?}: 3-63 lowercase letters, digits, `-` and `.`",
                esteira_core::excerpt(bucket, 80)
            )));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            Path::parse(prefix).map_err(|e| bad(format!("prefix: {e}")))?;
        }
        Ok(Self { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }
}

impl std::fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// How [`crate::RemoteStore`] connects: S3 settings, timeouts, retries, upload parts.
///
/// Settings are applied in this order, later ones winning: the defaults below, then every
/// `AWS_*` environment variable object_store knows (when [`Self::from_env`] is set:
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ALLOW_HTTP`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, …), then
/// [`Self::settings`]. Requests are path-style (`ENDPOINT/BUCKET/KEY`) unless
/// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`: Ceph RGW, MinIO and Garage want path style, AWS
/// accepts both. Plain `http://` endpoints need `AWS_ALLOW_HTTP=true`.
///
/// Without credentials in the settings object_store falls back to the instance metadata
/// service (EC2/ECS roles), which is what AWS users expect and why tests always set keys.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Read the `AWS_*` environment variables (default `true`).
    pub from_env: bool,
    /// Explicit settings by object_store's key names (`aws_endpoint`, `aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_region`, `aws_allow_http`, …), applied last.
    pub settings: Vec<(String, String)>,
    /// object_store's retry policy, applied to every request: exponential backoff with jitter
    /// on connection errors, timeouts of idempotent requests, 5xx, 429 and 408 answers.
    pub retry: RetryConfig,
    /// Connecting to the endpoint (default 5 s).
    pub connect_timeout: Duration,
    /// Between two reads of a response body (default 30 s): a stalled transfer fails.
    pub read_timeout: Duration,
    /// One whole request (default 10 min: one upload part, one small PUT, one GET of an object,
    /// which object_store resumes with a range request when the stream breaks).
    pub request_timeout: Duration,
    /// Objects up to this size are uploaded with one PUT, larger ones as a multipart upload
    /// of parts of this size (default 16 MiB; S3 wants parts of at least 5 MiB).
    pub part_size: usize,
    /// Parts of one multipart upload in flight at once (default 4).
    pub upload_concurrency: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            from_env: true,
            settings: Vec::new(),
            retry: default_retry(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(600),
            part_size: 16 << 20,
            upload_concurrency: 4,
        }
    }
}

/// esteira's retry policy: at most 5 retries, backoff from 100 ms doubling (with jitter) up to
/// 3 s, and no retry started after 30 s. A remote that is down answers `Unavailable` after
/// about 6 attempts and a few seconds, not object_store's default 10 retries over 3 minutes;
/// the layered store then stops asking it for the rest of the process.
pub fn default_retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(3),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
    }
}

impl RemoteOptions {
    /// Options that ignore the environment and use only `settings` (tests, explicit set-ups).
    pub fn without_env(settings: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { from_env: false, settings: settings.into_iter().collect(), ..Self::default() }
    }

    /// Adds (or overrides) one setting.
    #[must_use]
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Builds the S3 client for `url`.
    pub(crate) fn build(&self, url: &RemoteUrl) -> Result<AmazonS3, RemoteError> {
        let bad = |message: String| RemoteError::Config { url: url.to_string(), message };
        let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
        let client = |k: ClientConfigKey| AmazonS3ConfigKey::Client(k);
        let mut b = AmazonS3Builder::new()
            .with_config(client(ClientConfigKey::ConnectTimeout), ms(self.connect_timeout))
            .with_config(client(ClientConfigKey::ReadTimeout), ms(self.read_timeout))
            .with_config(client(ClientConfigKey::Timeout), ms(self.request_timeout));
        if self.from_env {
            for (key, value) in std::env::vars_os() {
                if let (Some(key), Some(value)) = (key.to_str(), value.to_str())
                    && key.starts_with("AWS_")
                    && let Ok(k) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
                {
                    b = b.with_config(k, value);
                }
            }
        }
        for (key, value) in &self.settings {
            let k = key
                .to_ascii_lowercase()
                .parse::<AmazonS3ConfigKey>()
                .map_err(|e| bad(format!("setting {key}: {e}")))?;
            b = b.with_config(k, value);
        }
        b.with_url(format!("s3://{}", url.bucket))
            .with_retry(self.retry.clone())
            // PutMode::Create as `If-None-Match: *`: atomic on AWS S3, Ceph RGW, MinIO, Garage.
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .build()
            .map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = RemoteUrl::parse("s3://esteira-cache/team/a").unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("esteira-cache", "team/a"));
        assert_eq!(u.to_string(), "s3://esteira-cache/team/a");
        let u = RemoteUrl::parse("s3://bucket/").unwrap();
        assert_eq!(u.prefix, "");
        assert_eq!(u.to_string(), "s3://bucket");
        for bad in ["http://bucket/x", "s3://", "s3://B", "s3://a", "s3://bucket/a//b", "s3://bucket/../x"] {
            assert!(RemoteUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_settings_are_errors() {
        let url = RemoteUrl::parse("s3://bucket").unwrap();
        let opts = RemoteOptions::without_env([("aws_no_such_thing".to_owned(), "1".to_owned())]);
        let err = opts.build(&url).unwrap_err();
        assert!(err.to_string().contains("aws_no_such_thing"), "{err}");
    }
}
