//! JSON responses: a body with its content type, and the API's error body (shared by the API,
//! the body limits, the pages and the server, none of which depend on each other for it).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::rows::FieldError;

/// A JSON response with a status.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    json_response_sized(status, body, 128)
}

/// [`json_response`] into a buffer of about the expected size (a large answer is not copied
/// over and over as it grows).
pub(crate) fn json_response_sized(status: StatusCode, body: &impl Serialize, capacity: usize) -> Response {
    let mut bytes = Vec::with_capacity(capacity);
    if serde_json::to_writer(&mut bytes, body).is_err() {
        bytes.clear();
    }
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
}

/// A JSON error body: `{"error": code, "message": ..., "errors": [...]}`.
pub(crate) fn api_error(status: StatusCode, code: &str, message: &str, errors: &[FieldError]) -> Response {
    json_response(status, &json!({ "error": code, "message": message, "errors": errors }))
}
