//! The remote options `run`, `status`, `push` and `pull` share, and the stores they open.
//!
//! Which remote: `--remote`, else `ESTEIRA_REMOTE`, else `[pipeline] remote` of the pipeline
//! file; an empty value means none. Credentials, endpoint and region come from the standard
//! `AWS_*` variables (esteira-remote's `RemoteOptions`).

use std::sync::Arc;

use esteira_core::LocalStore;
use esteira_core::store::{CacheStore, Traffic};
use esteira_remote::{LayeredStore, RemoteStore};

use super::Global;
use crate::OrchestratorError;
use crate::pipeline::Pipeline;

/// `--remote` and `--remote-read-only`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemoteArgs {
    /// A shared cache under the local store: s3://BUCKET/PREFIX (credentials, endpoint and
    /// region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ALLOW_HTTP). Wins over ESTEIRA_REMOTE, which wins over the pipeline file's `remote`.
    #[arg(long, value_name = "URL", env = "ESTEIRA_REMOTE")]
    pub(super) remote: Option<String>,
    /// Read cache records and objects from the remote, never write to it (CI, untrusted users).
    #[arg(long, env = "ESTEIRA_REMOTE_READ_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) remote_read_only: bool,
}

impl RemoteArgs {
    /// The remote URL to use, if any (see the module docs for the order).
    pub(super) fn url(&self, pipeline: Option<&Pipeline>) -> Option<String> {
        // clap already gave the flag precedence over the environment variable.
        let url = self.remote.clone().or_else(|| pipeline.and_then(|p| p.remote.clone()))?;
        let url = url.trim().to_owned();
        (!url.is_empty()).then_some(url)
    }
}

/// The store a run or `status` works against: the local store, with the remote under it when
/// one is configured. A remote that cannot be reached is a warning and a local-only run; a bad
/// URL, refused credentials or a missing bucket are errors (a configuration to fix).
pub(super) fn open_layers(
    g: &Global,
    pipeline: &Pipeline,
    args: &RemoteArgs,
) -> Result<Arc<dyn CacheStore>, OrchestratorError> {
    let local = super::open_local(g, Some(pipeline))?;
    let Some(url) = args.url(Some(pipeline)) else { return Ok(Arc::new(local)) };
    let remote = RemoteStore::from_env(&url)?;
    tracing::info!("remote {url}{}", if args.remote_read_only { " (read-only)" } else { "" });
    Ok(Arc::new(LayeredStore::connect(local, Some(remote), args.remote_read_only)?))
}

/// The local store and the remote for `push`/`pull` (the pipeline file, when there is one,
/// names the store and may name the remote).
pub(super) fn open_pair(
    g: &Global,
    args: &RemoteArgs,
    command: &'static str,
) -> Result<(LocalStore, RemoteStore), OrchestratorError> {
    let pipeline = if g.config.is_file() { Some(Pipeline::load(&g.config)?) } else { None };
    let url =
        args.url(pipeline.as_ref()).ok_or_else(|| OrchestratorError::NoRemote { command, config: g.config.clone() })?;
    let local = super::open_local(g, pipeline.as_ref())?;
    let remote = RemoteStore::from_env(&url)?;
    // A clear answer up front (unreachable, refused, no such bucket) rather than mid-transfer.
    remote.ping()?;
    Ok((local, remote))
}

/// One line saying what a run moved to and from the remote, when it has one.
pub(super) fn traffic_line(layers: &dyn CacheStore) -> Option<String> {
    let url = layers.remote_url()?;
    let Traffic { objects_down, bytes_down, objects_up, bytes_up, records_up } = layers.traffic();
    Some(format!(
        "remote {url}: downloaded {objects_down} object(s), {}; uploaded {objects_up} object(s), {}, and {records_up} \
         cache record(s)\n",
        bytes(bytes_down),
        bytes(bytes_up)
    ))
}

/// A byte count for people: `6.81 MB (6812345 bytes)`.
pub(super) fn bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a rounded figure for display")]
    let x = n as f64;
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.1} kB ({n} bytes)", x / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} MB ({n} bytes)", x / 1e6),
        _ => format!("{:.2} GB ({n} bytes)", x / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(bytes(6_812_345), "6.81 MB (6812345 bytes)");
    }
}
