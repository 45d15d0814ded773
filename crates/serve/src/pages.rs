//! Handlers of the HTML pages and of artifact downloads.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::Form;
use axum::body::Body;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use esteira_core::{ArtifactStore, ContentHash, CoreError};

use crate::body::read_limited;
use crate::form::{self, Outcome};
use crate::html::{Nav, esc, page};
use crate::json::api_error;
use crate::rows::{Blank, FieldError, refused_value};
use crate::runs;
use crate::state::AppState;

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        page(
            "Error",
            Nav::None,
            &format!("<h1>{}</h1><div class=\"card\"><pre class=\"error\">{}</pre></div>", status, esc(message)),
        ),
    )
}

pub(crate) async fn form_page(State(st): State<AppState>) -> Response {
    html(StatusCode::OK, st.inner.form_page.clone())
}

/// The submitted form fields, read under the body limit; errors are HTML pages.
pub(crate) struct LimitedForm(Vec<(String, String)>);

impl FromRequest<AppState> for LimitedForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let limit = state.body_limit();
        let bytes = read_limited(body, limit).await.map_err(|e| error_page(e.status(), &e.message(limit)))?;
        let req = Request::from_parts(parts, Body::from(bytes));
        match Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(Form(pairs)) => Ok(Self(pairs)),
            Err(r) => Err(error_page(r.status(), &r.body_text())),
        }
    }
}

pub(crate) async fn form_submit(State(st): State<AppState>, LimitedForm(pairs): LimitedForm) -> Response {
    let inner = &st.inner;
    let values: BTreeMap<String, String> = pairs.into_iter().collect();
    let row = serde_json::Value::Object(
        values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
    );
    let columns = &inner.inputs.columns;
    let parsed = match inner.inputs.parse(std::slice::from_ref(&row), Blank::Required) {
        Ok(p) => p,
        Err(errors) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                form::render(&inner.loaded, columns, &values, &errors.listed, None),
            );
        }
    };
    match esteira_train::predict(&inner.loaded.model, &[parsed.batch]) {
        Ok(p) if p.len() == 1 => {
            let outcome =
                Outcome { probability: p[0], notes: parsed.notes.into_iter().flatten().map(Cow::into_owned).collect() };
            html(StatusCode::OK, form::render(&inner.loaded, columns, &values, &[], Some(&outcome)))
        }
        Ok(p) => {
            error_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("the model returned {} scores for one row", p.len()))
        }
        Err(e) => match refused_value(&e) {
            Some((_, field, value, message)) => {
                let error = FieldError {
                    row: 0,
                    field: field.to_owned(),
                    message: format!("{value}: {message}"),
                    mensagem: format!("{value}: valor fora do alcance do modelo"),
                };
                html(StatusCode::UNPROCESSABLE_ENTITY, form::render(&inner.loaded, columns, &values, &[error], None))
            }
            None => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
    }
}

/// Runs a store read on the blocking pool.
async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&dyn ArtifactStore) -> Result<T, CoreError> + Send + 'static,
) -> Result<Result<T, CoreError>, Response> {
    let store = st.inner.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

pub(crate) async fn runs_page(State(st): State<AppState>) -> Response {
    match blocking(&st, |s| s.run_list()).await {
        Ok(Ok(list)) => html(StatusCode::OK, runs::list_page(&list, st.inner.loaded.run_id.as_deref())),
        Ok(Err(e)) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => r,
    }
}

pub(crate) async fn run_page(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let lookup = id.clone();
    match blocking(&st, move |s| s.run_get(&lookup)).await {
        Ok(Ok(run)) => html(StatusCode::OK, runs::run_page(&run, Some(&st.inner.loaded.hash.to_hex()))),
        Ok(Err(CoreError::Run(msg))) => html(StatusCode::NOT_FOUND, runs::not_found_page(&format!("Run {msg}"))),
        Ok(Err(e)) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => r,
    }
}

/// `/sweeps/NAME`: the comparison of a sweep's variants, with its charts.
pub(crate) async fn sweep_page(State(st): State<AppState>, Path(name): Path<String>) -> Response {
    let wanted = name.clone();
    match blocking(&st, move |s| s.run_list()).await {
        Ok(Ok(list)) => {
            let runs = esteira_core::compare::sweep_variants(list, &wanted);
            if runs.is_empty() {
                return html(StatusCode::NOT_FOUND, runs::not_found_page(&format!("Sweep {name}")));
            }
            let cmp = esteira_core::compare::Comparison::of(&runs);
            let page = cmp.render_html(&format!("sweep {name}"), &[]);
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
        }
        Ok(Err(e)) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => r,
    }
}

/// The name of an object a recorded stage *produced*: an output in a run record (newest run
/// first, `stage-file`), else in a cache record (`stage-output`); `None` otherwise.
///
/// Only produced objects are served. An object known only as a stage's input came from outside
/// the pipeline (a `file:` input can name any file, e.g. `/etc/passwd`) and is never served.
fn artifact_name(store: &dyn ArtifactStore, hash: &ContentHash) -> Result<Option<String>, CoreError> {
    let runs = store.run_list()?;
    for run in runs.iter().rev() {
        for (stage, s) in &run.stages {
            for (out, h) in &s.outputs {
                if h == hash {
                    let file = s.output_files.get(out).cloned().unwrap_or_else(|| out.clone());
                    return Ok(Some(format!("{stage}-{file}")));
                }
            }
        }
    }
    // Cache records outlive the run records `gc` removes; their outputs were produced too.
    for rec in store.cache_list()? {
        if let Some((out, _)) = rec.outputs.iter().find(|(_, h)| *h == hash) {
            return Ok(Some(format!("{}-{out}", rec.stage)));
        }
    }
    Ok(None)
}

fn content_type(file: &str) -> &'static str {
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e).to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "csv" => "text/csv; charset=utf-8",
        "txt" | "toml" => "text/plain; charset=utf-8",
        "parquet" => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

/// `Content-Disposition` with an ASCII-only file name (RFC 6266 `filename=`).
fn disposition(download: bool, file: &str) -> String {
    let safe: String =
        file.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    format!("{}; filename=\"{safe}\"", if download { "attachment" } else { "inline" })
}

pub(crate) async fn artifact(State(st): State<AppState>, Path(hex): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Ok(hash) = hex.parse::<ContentHash>() else {
        return html(StatusCode::NOT_FOUND, runs::not_found_page(&format!("{hex:?} is not an artifact hash")));
    };
    let download = q.is_some_and(|q| q.split('&').any(|kv| kv == "download" || kv == "download=1"));
    let served = st.inner.loaded.hash;
    let job = move |s: &dyn ArtifactStore| -> Result<Option<(String, Vec<u8>)>, CoreError> {
        let name = match artifact_name(s, &hash)? {
            None if hash == served => Some("model.json".to_owned()),
            name => name,
        };
        let Some(name) = name else { return Ok(None) };
        let path = s.object_path(&hash)?;
        let bytes = std::fs::read(&path).map_err(|e| CoreError::io(&path, e))?;
        let actual = ContentHash::of_bytes(&bytes);
        if actual != hash {
            return Err(CoreError::Corrupt { expected: hash.to_hex(), actual: actual.to_hex() });
        }
        Ok(Some((name, bytes)))
    };
    match blocking(&st, job).await {
        Ok(Ok(Some((name, bytes)))) => {
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type(&name))),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&disposition(download, &name))
                        .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
                ),
                // Reports are shown inside the app: no scripts, no requests anywhere.
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
                    ),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ];
            (StatusCode::OK, headers, bytes).into_response()
        }
        Ok(Ok(None) | Err(CoreError::MissingObject(_))) => {
            html(StatusCode::NOT_FOUND, runs::not_found_page(&format!("No recorded stage produced an artifact {hash}")))
        }
        Ok(Err(e)) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => r,
    }
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        api_error(StatusCode::NOT_FOUND, "not_found", &format!("no endpoint {}", uri.path()), &[])
    } else {
        html(StatusCode::NOT_FOUND, runs::not_found_page(&format!("No page at {}", uri.path())))
    }
}
