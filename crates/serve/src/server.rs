//! The router, the listening server and the one-call entry points for the CLI.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use esteira_core::{ArtifactStore, LocalStore};

use crate::load::LoadedModel;
use crate::state::{AppState, DEFAULT_BODY_LIMIT};
use crate::{ServeError, api, batch, pages};

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
}

impl ServeOptions {
    /// Defaults: the latest succeeded run's model, `127.0.0.1:8080`, a 2 MiB body limit.
    pub fn new(store_root: impl Into<PathBuf>) -> Self {
        Self {
            store_root: store_root.into(),
            run: None,
            model: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
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
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(state: AppState, addr: SocketAddr) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr, source: e })?;
        let addr = listener.local_addr().map_err(|e| ServeError::Bind { addr, source: e })?;
        Ok(Self { listener, state, addr })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        use axum::serve::ListenerExt;
        let Self { listener, state, addr } = self;
        // Small responses must not wait for Nagle's algorithm (and the client's delayed ACK).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| ServeError::io(format!("serving on {addr}"), e))
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
    let load = {
        let opts = opts.clone();
        move || -> Result<AppState, ServeError> {
            let store = open_store(&opts.store_root)?;
            Ok(AppState::load(store, opts.run.as_deref(), opts.model.as_deref())?.with_body_limit(opts.body_limit))
        }
    };
    let state = tokio::task::spawn_blocking(load)
        .await
        .map_err(|e| ServeError::io("loading the model", std::io::Error::other(e)))??;
    let server = Server::bind(state.clone(), opts.addr).await?;
    let url = format!("http://{}/", server.local_addr());
    tracing::info!(url = %url, model = %state.model().hash.short(), run = ?state.model().run_id, "esteira serve: listening");
    on_ready(&url, state.model());
    server
        .run_until(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C; stop the server with a signal");
                std::future::pending::<()>().await;
            }
            tracing::info!("esteira serve: shutting down");
        })
        .await
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
pub fn predict_from_store(
    store_root: &Path,
    run: Option<&str>,
    model: Option<&str>,
    input: &Path,
    output: impl Write,
) -> Result<usize, ServeError> {
    let store = open_store(store_root)?;
    let loaded = LoadedModel::load(store.as_ref(), run, model)?;
    let name = input.display().to_string();
    if input == Path::new("-") {
        batch::predict_csv_named(&loaded.model, std::io::stdin().lock(), output, "standard input")
    } else {
        let f = std::fs::File::open(input).map_err(|e| ServeError::io(&name, e))?;
        batch::predict_csv_named(&loaded.model, f, output, &name)
    }
}
