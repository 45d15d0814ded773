//! `esteira serve`.

use std::net::SocketAddr;

use super::{Global, open_store};
use crate::{OrchestratorError, exit};

/// Options of `esteira serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve the model of this run (id, prefix or `latest`); default: the newest succeeded run.
    #[arg(long, conflicts_with = "model")]
    run: Option<String>,
    /// Serve this model object (hash or unique prefix).
    #[arg(long)]
    model: Option<String>,
    /// Address to listen on (loopback unless told otherwise; any other address is reachable
    /// from other machines, without authentication, and gets a warning).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = esteira_serve::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Most rows one request to /api/predict or /api/predict.csv may carry (more: 413).
    #[arg(long, default_value_t = esteira_serve::DEFAULT_MAX_ROWS)]
    max_rows: usize,
    /// Do not read the evaluate stage's calibrator: show the model's probability alone (the way
    /// past a calibration file that cannot be used).
    #[arg(long)]
    no_calibration: bool,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let opts = esteira_serve::ServeOptions {
        run: a.run.clone(),
        model: a.model.clone(),
        addr: a.addr,
        body_limit: a.body_limit,
        max_rows: a.max_rows,
        calibration: !a.no_calibration,
        ..esteira_serve::ServeOptions::new(store.root().to_path_buf())
    };
    esteira_serve::serve_blocking(opts, |url, m| {
        eprintln!(
            "serving model {} (run {}) at {url}  (Ctrl-C stops)",
            m.hash.short(),
            m.run_id.as_deref().unwrap_or("-")
        );
        if let Some(reason) = m.calibration.reason() {
            eprintln!("no calibrated probability ({reason}); the form and API show the model's probability only");
        }
    })?;
    Ok(exit::OK)
}
