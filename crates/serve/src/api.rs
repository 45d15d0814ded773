//! The JSON API: predict (JSON and CSV), the model card and the health check.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use esteira_train::{InputColumn, InputKind};
use serde_json::{Value, json};

use crate::body::LimitedBytes;
use crate::load::LoadedModel;
use crate::rows::{Blank, FieldError};
use crate::state::AppState;
use crate::{ServeError, batch, form};

/// Requests with more rows than this are scored on the blocking pool, off the async workers.
const INLINE_ROWS: usize = 64;

/// A JSON response with a status.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
}

/// A JSON error body: `{"error": code, "message": ..., "errors": [...]}`.
pub(crate) fn api_error(status: StatusCode, code: &str, message: &str, errors: &[FieldError]) -> Response {
    json_response(status, &json!({ "error": code, "message": message, "errors": errors }))
}

fn validation_error(errors: &[FieldError]) -> Response {
    api_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        &format!("{} invalid field(s); nothing was scored", errors.len()),
        errors,
    )
}

/// The model card served at `GET /api/model`.
pub(crate) fn model_card(loaded: &LoadedModel, columns: &[InputColumn]) -> Vec<u8> {
    let m = &loaded.model;
    let inputs: Vec<Value> = columns
        .iter()
        .map(|c| match &c.kind {
            InputKind::Numeric { min, max, median } => json!({
                "name": c.name, "label": form::label(&c.name), "kind": "numeric",
                "min": min, "max": max, "median": median,
            }),
            InputKind::Categorical { categories } => json!({
                "name": c.name, "label": form::label(&c.name), "kind": "categorical", "categories": categories,
            }),
        })
        .collect();
    let evaluation = loaded.evaluation.as_ref().map(|e| {
        json!({
            "stage": e.stage,
            "metrics_hash": e.metrics_hash.map(|h| h.to_hex()),
            "report_hash": e.report_hash.map(|h| h.to_hex()),
        })
    });
    let card = json!({
        "model_hash": loaded.hash.to_hex(),
        "run_id": loaded.run_id,
        "train_stage": loaded.train_stage,
        "algorithm": m.algorithm(),
        "target": m.target(),
        "positive_class": m.positive_class(),
        "negative_class": m.negative_class(),
        "threshold": m.threshold(),
        "threshold_rule": m.threshold_rule(),
        "group": m.group(),
        "inputs": inputs,
        "feature_names": m.feature_names(),
        "feature_effects": m.feature_effects(),
        "training": m.training(),
        "test_metrics": loaded.evaluation.as_ref().map(|e| &e.metrics),
        "evaluation": evaluation,
        "caveat": "A statistical model of UFRN's 2020.5 remote semester: it shows associations between a profile \
                   and the outcome, not causes, and it is often wrong; do not use it to decide about a person.",
    });
    let mut v = serde_json::to_vec_pretty(&card).unwrap_or_default();
    v.push(b'\n');
    v
}

pub(crate) async fn model(State(st): State<AppState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], st.inner.card.clone())
        .into_response()
}

pub(crate) async fn healthz(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok", "model_hash": st.inner.loaded.hash.to_hex() }))
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
            tracing::error!(error = %e, "scoring validated rows failed");
            return api_error(StatusCode::INTERNAL_SERVER_ERROR, "predict_failed", &e.to_string(), &[]);
        }
    };
    let m = &inner.loaded.model;
    let (pos, neg, threshold) = (m.positive_class(), m.negative_class(), m.threshold());
    let predictions: Vec<Value> = probabilities
        .iter()
        .zip(parsed.notes)
        .map(|(&p, notes)| {
            let mut probs = serde_json::Map::new();
            probs.insert(pos.to_owned(), json!(p));
            probs.insert(neg.to_owned(), json!(1.0 - p));
            json!({
                "probabilities": probs,
                "decision": if p >= threshold { pos } else { neg },
                "notes": notes,
            })
        })
        .collect();
    let known: BTreeSet<&str> = inner.inputs.columns.iter().map(|c| c.name.as_str()).collect();
    let ignored: BTreeSet<&str> = rows
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "model_hash": inner.loaded.hash.to_hex(),
            "run_id": inner.loaded.run_id,
            "positive_class": pos,
            "negative_class": neg,
            "threshold": threshold,
            "predictions": predictions,
            "ignored_fields": ignored,
        }),
    )
}

pub(crate) async fn predict(State(st): State<AppState>, LimitedBytes(bytes): LimitedBytes) -> Response {
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("the body is not valid JSON (line {}, column {}): {e}", e.line(), e.column()),
                &[],
            );
        }
    };
    let rows = match value {
        Value::Array(rows) => rows,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return validation_error(&[FieldError {
                row: 0,
                field: String::new(),
                message: "expected a JSON object (one row) or an array of objects".into(),
                mensagem: String::new(),
            }]);
        }
    };
    if rows.len() <= INLINE_ROWS {
        return score(&st, &rows);
    }
    match tokio::task::spawn_blocking(move || score(&st, &rows)).await {
        Ok(r) => r,
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string(), &[]),
    }
}

pub(crate) async fn predict_csv(State(st): State<AppState>, LimitedBytes(bytes): LimitedBytes) -> Response {
    let job = move || {
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2);
        batch::predict_csv_named(&st.inner.loaded.model, &bytes[..], &mut out, "request body").map(|_| out)
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(out)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))], out)
                .into_response()
        }
        Ok(Err(e)) => {
            let (line, field) = match &e {
                ServeError::Csv { line, .. } => (Some(*line), None),
                ServeError::CsvValue { line, column, .. } => (Some(*line), Some(column.clone())),
                _ => (None, None),
            };
            let status = match e {
                ServeError::Csv { .. } | ServeError::CsvColumns { .. } | ServeError::CsvValue { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            json_response(status, &json!({ "error": "csv", "message": e.to_string(), "line": line, "field": field }))
        }
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string(), &[]),
    }
}
