//! The router, the listening server and the one-call entry points for the CLI.
//!
//! The server runs its own accept loop (hyper's HTTP/1 connections, as `axum::serve` would) so
//! that every connection has the three timeouts of [`Timeouts`]: a request head must arrive
//! within [`HEADER_READ_TIMEOUT`], a request must be answered within [`REQUEST_TIMEOUT`] (408
//! otherwise), and a keep-alive connection with no request is closed after [`IDLE_TIMEOUT`].

use std::convert::Infallible;
use std::future::Future;
use std::io::{Seek as _, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use esteira_core::{ArtifactStore, LocalStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::calibration::Calibration;
use crate::json::api_error;
use crate::load::LoadedModel;
use crate::state::{AppState, DEFAULT_BODY_LIMIT, DEFAULT_MAX_ROWS};
use crate::{ServeError, api, batch, pages};

/// How long a client may take to send a request head: from the connection's accept, or from the
/// first byte of a later request on a keep-alive connection, to the blank line ending the
/// headers. A connection that takes longer is closed (a "slowloris" client holds nothing long).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take from its complete head to its response, reading the body and
/// scoring included. A request that takes longer is answered 408 and its connection closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a keep-alive connection may stay open with no request in progress.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The connection timeouts of a [`Server`]; [`Default`] is [`HEADER_READ_TIMEOUT`],
/// [`REQUEST_TIMEOUT`] and [`IDLE_TIMEOUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accept (or a later request's first byte) to the end of the request head.
    pub header_read: Duration,
    /// From the end of the request head to the response.
    pub request: Duration,
    /// A keep-alive connection with no request in progress.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { header_read: HEADER_READ_TIMEOUT, request: REQUEST_TIMEOUT, idle: IDLE_TIMEOUT }
    }
}

/// What `esteira serve` is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The artifact store's root directory.
    pub store_root: PathBuf,
    /// Serve this run's model (an id, a unique prefix or `latest`).
    pub run: Option<String>,
    /// Serve this model (a hash or a unique prefix).
    pub model: Option<String>,
    /// Where to listen; loopback unless told otherwise.
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The most rows one request may carry.
    pub max_rows: usize,
    /// The connection timeouts.
    pub timeouts: Timeouts,
    /// Read the evaluate stage's calibrator (default); false shows the model's probability alone.
    pub calibration: bool,
}

impl ServeOptions {
    /// Defaults: the latest succeeded run's model, `127.0.0.1:8080`, a 2 MiB body limit,
    /// [`DEFAULT_MAX_ROWS`] rows per request, the default [`Timeouts`].
    pub fn new(store_root: impl Into<PathBuf>) -> Self {
        Self {
            store_root: store_root.into(),
            run: None,
            model: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
            max_rows: DEFAULT_MAX_ROWS,
            timeouts: Timeouts::default(),
            calibration: true,
        }
    }
}

/// Whether only this machine can reach `ip` (IPv4-mapped IPv6 loopback included).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(|| v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

/// The warning for listening on `addr` when other machines can reach it; `None` on loopback.
/// [`serve_with`] logs it (`tracing::warn!`), so `esteira serve` prints it.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!is_loopback(addr.ip())).then(|| {
        format!(
            "listening on {addr}, which is not a loopback address: other machines can reach the form, the API, \
             the run browser and every artifact the recorded stages produced, with no authentication \
             (use --addr 127.0.0.1:PORT unless that is what you want)"
        )
    })
}

/// Headers for every response: no content sniffing, and pages that can load nothing from
/// anywhere else (artifact responses set their own, stricter policy).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; \
                 form-action 'self'; base-uri 'none'; frame-ancestors 'self'",
            ),
        );
    }
    res
}

/// The whole application: the form, the JSON API, the run browser and artifact downloads.
pub fn app(state: AppState) -> Router {
    let limit = state.body_limit();
    Router::new()
        .route("/", get(pages::form_page).post(pages::form_submit))
        .route("/api/predict", post(api::predict))
        .route("/api/predict.csv", post(api::predict_csv))
        .route("/api/model", get(api::model))
        .route("/healthz", get(api::healthz))
        .route("/runs", get(pages::runs_page))
        .route("/runs/{id}", get(pages::run_page))
        .route("/sweeps/{name}", get(pages::sweep_page))
        .route("/artifacts/{hash}", get(pages::artifact))
        .fallback(pages::not_found)
        // Bodies are read by crate::body under the same limit; this layer bounds any other
        // extractor too.
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// A bound server, not yet accepting connections.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
    addr: SocketAddr,
    timeouts: Timeouts,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(state: AppState, addr: SocketAddr) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr, source: e })?;
        let addr = listener.local_addr().map_err(|e| ServeError::Bind { addr, source: e })?;
        Ok(Self { listener, state, addr, timeouts: Timeouts::default() })
    }

    /// Sets the connection timeouts (default: [`Timeouts::default`]).
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish
    /// (each within the request timeout).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let Self { listener, state, addr: _, timeouts } = self;
        let router = app(state);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        connections.spawn(connection(tcp, peer, router.clone(), timeouts, stop_rx.clone()));
                    }
                    Err(e) => accept_failed(&e).await,
                },
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a connection task failed");
                    }
                }
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        while connections.join_next().await.is_some() {}
        Ok(())
    }
}

/// An accept error: per-connection ones are skipped; others (out of file descriptors …) are
/// logged and retried after a pause instead of spinning.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Where a connection is, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head (since accept, or since the first byte after an idle spell).
    Head(Instant),
    /// A request is in the service.
    Busy,
    /// The last response is ready (since it was, or since its last byte was sent) and no byte
    /// of a next request has arrived.
    Idle(Instant),
}

/// The phase of one connection, shared by its socket, its service and its task.
#[derive(Debug)]
struct Clock {
    phase: Mutex<(Phase, usize)>,
    changed: Notify,
}

impl Clock {
    fn new() -> Self {
        Self { phase: Mutex::new((Phase::Head(Instant::now()), 0)), changed: Notify::new() }
    }

    /// Changes the phase (and the count of requests in progress) under the lock; wakes the
    /// connection's task when `f` says it changed something.
    fn update(&self, f: impl FnOnce(&mut (Phase, usize)) -> bool) {
        let changed = self.phase.lock().is_ok_and(|mut p| f(&mut p));
        if changed {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts a request head.
    fn on_read(&self) {
        self.update(|p| {
            let idle = matches!(p.0, Phase::Idle(_));
            if idle {
                p.0 = Phase::Head(Instant::now());
            }
            idle
        });
    }

    fn begin(self: &Arc<Self>) -> BusyGuard {
        self.update(|p| {
            *p = (Phase::Busy, p.1 + 1);
            true
        });
        BusyGuard(self.clone())
    }

    /// Bytes of a response went out: an idle connection is idle from now (a large answer to a
    /// slow reader is not cut while it still moves).
    fn on_write(&self) {
        if let Ok(mut p) = self.phase.lock()
            && let Phase::Idle(_) = p.0
        {
            // No wake-up needed: the deadline only moves later, and the task re-checks it.
            p.0 = Phase::Idle(Instant::now());
        }
    }

    fn phase(&self) -> Phase {
        self.phase.lock().map_or(Phase::Busy, |p| p.0)
    }
}

/// Marks a request in progress; dropping it (response ready, or request abandoned) makes the
/// connection idle once no request is left.
struct BusyGuard(Arc<Clock>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.update(|p| {
            p.1 = p.1.saturating_sub(1);
            if p.1 == 0 {
                p.0 = Phase::Idle(Instant::now());
            }
            true
        });
    }
}

/// The TCP stream, telling the clock when bytes arrive or leave.
struct Watched {
    tcp: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.on_read();
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.on_write();
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.on_write();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// The answer to a request that ran out of time; the connection is closed after it.
fn timed_out(path: &str, limit: Duration) -> Response {
    let message = format!("the request was not complete and answered within {} s", limit.as_secs_f64());
    let mut res = if path.starts_with("/api/") {
        api_error(StatusCode::REQUEST_TIMEOUT, "timeout", &message, &[])
    } else {
        (StatusCode::REQUEST_TIMEOUT, message).into_response()
    };
    res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Serves one connection under its timeouts until it closes, fails, times out, or the server
/// stops (then in-flight requests finish within the request timeout).
async fn connection(tcp: TcpStream, peer: SocketAddr, router: Router, t: Timeouts, mut stop: watch::Receiver<bool>) {
    // Small responses must not wait for Nagle's algorithm (and the client's delayed ACK).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let clock = Arc::new(Clock::new());
    let io = hyper_util::rt::TokioIo::new(Watched { tcp, clock: clock.clone() });
    let service_clock = clock.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let busy = service_clock.begin();
        let router = router.clone();
        async move {
            let _busy = busy;
            let path = req.uri().path().to_owned();
            let res = match tokio::time::timeout(t.request, router.oneshot(req.map(axum::body::Body::new))).await {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::debug!(%peer, path, "request timed out");
                    timed_out(&path, t.request)
                }
            };
            Ok::<_, Infallible>(res)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    // Once closing (idle, or the server stopping): the moment the connection is dropped if it
    // has not finished its last response by then.
    let mut closing: Option<Instant> = None;
    loop {
        let phase = clock.phase();
        let deadline = match phase {
            Phase::Head(since) => Some(since + t.header_read),
            Phase::Idle(since) if closing.is_none() => Some(since + t.idle),
            Phase::Idle(_) | Phase::Busy => None,
        };
        let deadline = match (deadline, closing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = clock.changed.notified() => {}
            changed = stop.changed(), if closing.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + t.request);
                }
            }
            () = wait => {
                let now = Instant::now();
                if closing.is_some_and(|c| now >= c) {
                    tracing::debug!(%peer, "closing a connection whose last response did not finish in time");
                    return;
                }
                match clock.phase() {
                    Phase::Head(since) if now >= since + t.header_read => {
                        tracing::debug!(%peer, "closing a connection whose request head did not arrive in time");
                        return;
                    }
                    Phase::Idle(since) if now >= since + t.idle => {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(now + t.request);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn open_store(root: &Path) -> Result<Arc<dyn ArtifactStore>, ServeError> {
    // LocalStore::open would create an empty store: a typo in --store must not do that.
    if !root.join("runs").is_dir() {
        return Err(ServeError::NoModel {
            store: root.display().to_string(),
            reason: "it is not an esteira store (no runs/ directory); run `esteira run` first".into(),
        });
    }
    Ok(Arc::new(LocalStore::open(root)?))
}

/// Loads the model `opts` chooses, binds `opts.addr`, calls `on_ready(url, model)`, and serves
/// until Ctrl-C (in-flight requests finish).
pub async fn serve_with(opts: ServeOptions, on_ready: impl FnOnce(&str, &LoadedModel)) -> Result<(), ServeError> {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C; stop the server with a signal");
            std::future::pending::<()>().await;
        }
        tracing::info!("esteira serve: shutting down");
    };
    serve_until(opts, on_ready, ctrl_c).await
}

/// [`serve_with`], serving until `shutdown` completes instead of Ctrl-C. Logs a warning
/// ([`exposure_warning`]) when the address is not a loopback one.
pub async fn serve_until(
    opts: ServeOptions,
    on_ready: impl FnOnce(&str, &LoadedModel),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let load = {
        let opts = opts.clone();
        move || -> Result<AppState, ServeError> {
            let store = open_store(&opts.store_root)?;
            Ok(AppState::load_with(store, opts.run.as_deref(), opts.model.as_deref(), opts.calibration)?
                .with_body_limit(opts.body_limit)
                .with_max_rows(opts.max_rows))
        }
    };
    let state = tokio::task::spawn_blocking(load)
        .await
        .map_err(|e| ServeError::io("loading the model", std::io::Error::other(e)))??;
    let server = Server::bind(state.clone(), opts.addr).await?.with_timeouts(opts.timeouts);
    let url = format!("http://{}/", server.local_addr());
    tracing::info!(url = %url, model = %state.model().hash.short(), run = ?state.model().run_id, "esteira serve: listening");
    if let Some(warning) = exposure_warning(server.local_addr()) {
        tracing::warn!("{warning}");
    }
    on_ready(&url, state.model());
    server.run_until(shutdown).await
}

/// [`serve_with`] without a ready callback (the URL is logged with `tracing`).
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    serve_with(opts, |_, _| {}).await
}

/// [`serve_with`] on a new multi-thread runtime, for a synchronous `main`.
pub fn serve_blocking(opts: ServeOptions, on_ready: impl FnOnce(&str, &LoadedModel)) -> Result<(), ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::io("starting the async runtime", e))?
        .block_on(serve_with(opts, on_ready))
}

/// `esteira predict`: loads a model from the store at `store_root` (as [`LoadedModel::load`])
/// and scores the CSV file `input` (`-` reads standard input) into `output` with
/// [`predict_csv`](crate::predict_csv). Returns the number of rows.
///
/// With a calibrator in the model's run ([`LoadedModel::calibration`]), a column
/// `calibrated_probability_<positive>` follows `decision`; [`predict_from_store_with`] says
/// whether there was one.
///
/// A file is checked whole before anything is written, so an invalid value (a number that does
/// not parse, a category the model does not know) leaves `output` empty. Standard input can only
/// be read once: scored rows are written as they go and writing stops at the first invalid one.
pub fn predict_from_store(
    store_root: &Path,
    run: Option<&str>,
    model: Option<&str>,
    input: &Path,
    output: impl Write,
) -> Result<usize, ServeError> {
    Ok(predict_from_store_with(store_root, run, model, input, output, true)?.0)
}

/// [`predict_from_store`], reading the calibrator only when `calibrate`; returns the rows and
/// the calibration used (or why there was none), for the caller to say which.
pub fn predict_from_store_with(
    store_root: &Path,
    run: Option<&str>,
    model: Option<&str>,
    input: &Path,
    output: impl Write,
    calibrate: bool,
) -> Result<(usize, Calibration), ServeError> {
    let store = open_store(store_root)?;
    let loaded = LoadedModel::load_with(store.as_ref(), run, model, calibrate)?;
    let platt = loaded.calibration.platt();
    let name = input.display().to_string();
    let rows = if input == Path::new("-") {
        batch::predict_csv_named(&loaded.model, platt, std::io::stdin().lock(), output, "standard input", None)?
    } else {
        let mut f = std::fs::File::open(input).map_err(|e| ServeError::io(&name, e))?;
        if f.metadata().is_ok_and(|m| m.is_file()) {
            batch::check_csv_named(&loaded.model, &mut f, &name)?;
            f.rewind().map_err(|e| ServeError::io(&name, e))?;
        }
        batch::predict_csv_named(&loaded.model, platt, f, output, &name, None)?
    };
    Ok((rows, loaded.calibration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_go_without_a_warning() {
        for a in ["127.0.0.1:8080", "127.1.2.3:0", "[::1]:80", "[::ffff:127.0.0.1]:80"] {
            assert_eq!(exposure_warning(a.parse().unwrap()), None, "{a}");
        }
        for a in ["0.0.0.0:8080", "192.168.1.10:80", "[::]:80", "[::ffff:10.0.0.1]:1", "[2001:db8::1]:443"] {
            let w = exposure_warning(a.parse().unwrap()).unwrap_or_default();
            assert!(w.contains(a) && w.contains("not a loopback address"), "{a}: {w}");
        }
    }
}
