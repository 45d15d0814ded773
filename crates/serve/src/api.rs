//! The JSON API: predict (JSON and CSV), the model card and the health check.

use std::borrow::Cow;
use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeMap as _;
use serde_json::{Value, json};

use crate::body::LimitedBytes;
use crate::json::{api_error, json_response, json_response_sized};
use crate::rows::{Blank, ErrorList, FieldError, MAX_ERRORS, RowsError, refused_value, rows_from_json};
use crate::state::AppState;
use crate::{ServeError, batch};

/// Bodies up to this size are parsed and scored on the async worker; larger ones on the
/// blocking pool.
const INLINE_BYTES: usize = 16 * 1024;

/// `" (the first 100 are listed)"` when not every error is.
fn listed_note(listed: usize, total: usize) -> String {
    if total > listed { format!(" (the first {MAX_ERRORS} are listed)") } else { String::new() }
}

/// 422 with the first errors and their count: `{"error": "validation", "errors": [...], "error_count": n}`.
fn validation_error(errors: &ErrorList<FieldError>) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "error": "validation",
            "message": format!(
                "{} invalid field(s); nothing was scored{}",
                errors.total,
                listed_note(errors.listed.len(), errors.total)
            ),
            "errors": errors.listed,
            "error_count": errors.total,
        }),
    )
}

fn one_error(row: usize, field: &str, message: String) -> ErrorList<FieldError> {
    let mut errors = ErrorList::new();
    errors.push_with(|| FieldError { row, field: field.to_owned(), message, mensagem: String::new() });
    errors
}

/// 413 for a request with more rows than the server takes.
fn too_many_rows(message: &str, limit: usize) -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({ "error": "too_many_rows", "message": message, "max_rows": limit, "errors": [] }),
    )
}

pub(crate) async fn model(State(st): State<AppState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], st.inner.card.clone())
        .into_response()
}

pub(crate) async fn healthz(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok", "model_hash": st.inner.loaded.hash.to_hex() }))
}

/// `{"APROVADO": p, "FALHOU": 1 - p}`, keys in order (as a JSON object built by serde_json).
struct Probabilities<'a> {
    positive: &'a str,
    negative: &'a str,
    p: f64,
}

impl Serialize for Probabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        let (pos, neg) = ((self.positive, self.p), (self.negative, 1.0 - self.p));
        let (a, b) = if self.positive <= self.negative { (pos, neg) } else { (neg, pos) };
        m.serialize_entry(a.0, &a.1)?;
        m.serialize_entry(b.0, &b.1)?;
        m.end()
    }
}

/// One scored row (fields in key order, as before).
#[derive(Serialize)]
struct Prediction<'a> {
    /// P(positive class) through the run's calibrator; `null` without one (see `calibration`).
    calibrated_probability: Option<f64>,
    decision: &'a str,
    notes: Vec<Cow<'a, str>>,
    probabilities: Probabilities<'a>,
}

/// The answer of `POST /api/predict`, serialised without an intermediate JSON tree.
#[derive(Serialize)]
struct Answer<'a> {
    /// Where the calibrated probabilities come from, or why there are none.
    calibration: &'a Value,
    ignored_fields: BTreeSet<&'a str>,
    model_hash: String,
    negative_class: &'a str,
    positive_class: &'a str,
    predictions: Vec<Prediction<'a>>,
    run_id: Option<&'a str>,
    threshold: f64,
}

/// Validates and scores rows; the JSON answer or the 422 error.
fn score(st: &AppState, rows: &[Value]) -> Response {
    let inner = &st.inner;
    let parsed = match inner.inputs.parse(rows, Blank::Impute) {
        Ok(p) => p,
        Err(errors) => return validation_error(&errors),
    };
    let probabilities = match esteira_train::predict(&inner.loaded.model, &[parsed.batch]) {
        Ok(p) => p,
        Err(e) => {
            if let Some((row, field, value, message)) = refused_value(&e) {
                return validation_error(&one_error(row, field, format!("{value}: {message}")));
            }
            tracing::error!(error = %e, "scoring validated rows failed");
            return api_error(StatusCode::INTERNAL_SERVER_ERROR, "predict_failed", &e.to_string(), &[]);
        }
    };
    let m = &inner.loaded.model;
    let (pos, neg, threshold) = (m.positive_class(), m.negative_class(), m.threshold());
    let predictions: Vec<Prediction<'_>> = probabilities
        .iter()
        .zip(parsed.notes)
        .map(|(&p, notes)| Prediction {
            calibrated_probability: inner.loaded.calibration.apply(p),
            decision: if p >= threshold { pos } else { neg },
            notes,
            probabilities: Probabilities { positive: pos, negative: neg, p },
        })
        .collect();
    // About 160 bytes per prediction besides its notes.
    let capacity =
        512 + predictions.iter().map(|p| 160 + p.notes.iter().map(|n| n.len() + 3).sum::<usize>()).sum::<usize>();
    let known: BTreeSet<&str> = inner.inputs.columns.iter().map(|c| c.name.as_str()).collect();
    let ignored_fields = rows
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    json_response_sized(
        StatusCode::OK,
        &Answer {
            calibration: &inner.calibration_card,
            ignored_fields,
            model_hash: inner.loaded.hash.to_hex(),
            negative_class: neg,
            positive_class: pos,
            predictions,
            run_id: inner.loaded.run_id.as_deref(),
            threshold,
        },
        capacity,
    )
}

/// Reads the rows of a predict body (at most the row limit) and scores them.
pub(crate) fn predict_body(st: &AppState, bytes: &[u8]) -> Response {
    let limit = st.max_rows();
    match rows_from_json(bytes, limit) {
        Ok(rows) => score(st, &rows),
        Err(RowsError::Json(e)) => api_error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            &format!("the body is not valid JSON (line {}, column {}): {e}", e.line(), e.column()),
            &[],
        ),
        Err(RowsError::TooMany { limit }) => too_many_rows(
            &format!(
                "the request has more than {limit} rows; send at most {limit} per request \
                 (`esteira predict` scores files of any size)"
            ),
            limit,
        ),
        Err(RowsError::NotRows(kind)) => validation_error(&one_error(
            0,
            "",
            format!("expected a JSON object (one row) or an array of objects, got a JSON {kind}"),
        )),
    }
}

pub(crate) async fn predict(State(st): State<AppState>, LimitedBytes(bytes): LimitedBytes) -> Response {
    if bytes.len() <= INLINE_BYTES {
        return predict_body(&st, &bytes);
    }
    match tokio::task::spawn_blocking(move || predict_body(&st, &bytes)).await {
        Ok(r) => r,
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string(), &[]),
    }
}

pub(crate) async fn predict_csv(State(st): State<AppState>, LimitedBytes(bytes): LimitedBytes) -> Response {
    let max_rows = st.max_rows();
    let job = move || {
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2);
        let loaded = &st.inner.loaded;
        let platt = loaded.calibration.platt();
        batch::predict_csv_named(&loaded.model, platt, &bytes[..], &mut out, "request body", Some(max_rows))
            .map(|_| out)
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(out)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))], out)
                .into_response()
        }
        Ok(Err(e)) => csv_error(&e),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string(), &[]),
    }
}

/// The answer to a CSV that could not be scored: 422 naming the line (and column) of the first
/// problem, with every invalid value (the first [`MAX_ERRORS`]) and their count; 413 for too
/// many rows.
fn csv_error(e: &ServeError) -> Response {
    match e {
        ServeError::TooManyRows { limit, .. } => too_many_rows(&e.to_string(), *limit),
        ServeError::CsvValues { errors, total, .. } => {
            let first = errors.first();
            let message = match first {
                Some(f) => {
                    format!("{total} invalid value(s); nothing was scored; {f}{}", listed_note(errors.len(), *total))
                }
                None => e.to_string(),
            };
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({
                    "error": "csv",
                    "message": message,
                    "line": first.map(|f| f.line),
                    "field": first.map(|f| f.column.as_str()),
                    "errors": errors,
                    "error_count": total,
                }),
            )
        }
        ServeError::Csv { line, .. } => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({ "error": "csv", "message": e.to_string(), "line": line, "field": null }),
        ),
        ServeError::CsvColumns { .. } => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({ "error": "csv", "message": e.to_string(), "line": null, "field": null }),
        ),
        _ => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": "csv", "message": e.to_string(), "line": null, "field": null }),
        ),
    }
}
