//! Reading request bodies under the size limit.
//!
//! A body over the limit gets 413. The rest of it is still read (and thrown away, up to
//! [`DRAIN_LIMIT`] bytes or [`DRAIN_TIME`]) before answering: a server that answers and closes
//! while the client is still sending makes the client's kernel reset the connection, and the
//! client often never sees the 413.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;

use crate::json::api_error;
use crate::state::AppState;

/// Bytes beyond the limit that are read and discarded before answering 413.
pub(crate) const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// The longest time spent discarding an oversize body.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// The connection failed mid-body.
    Broken(String),
}

impl BodyError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn message(&self, limit: usize) -> String {
        match self {
            Self::TooLarge => format!("the request body is larger than the limit of {limit} bytes"),
            Self::Broken(e) => format!("the request body could not be read: {e}"),
        }
    }
}

async fn next_chunk(body: &mut Body) -> Option<Result<Option<Bytes>, BodyError>> {
    let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
    Some(frame.map(|f| f.into_data().ok()).map_err(|e| BodyError::Broken(e.to_string())))
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    if body.size_hint().lower() > (limit as u64).saturating_add(DRAIN_LIMIT as u64) {
        // Declared far too large: not worth draining.
        return Err(BodyError::TooLarge);
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        let Some(data) = chunk? else { continue };
        if buf.len() + data.len() > limit {
            let mut seen = buf.len() + data.len();
            drop(buf);
            let drain = async {
                while let Some(Ok(chunk)) = next_chunk(&mut body).await {
                    seen += chunk.map_or(0, |c| c.len());
                    if seen > limit.saturating_add(DRAIN_LIMIT) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

/// The request body as bytes, under the state's limit; errors are JSON (for the API).
pub(crate) struct LimitedBytes(pub(crate) Bytes);

impl FromRequest<AppState> for LimitedBytes {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.body_limit();
        read_limited(req.into_body(), limit).await.map(LimitedBytes).map_err(|e| {
            let code = if matches!(e, BodyError::TooLarge) { "too_large" } else { "bad_body" };
            api_error(e.status(), code, &e.message(limit), &[])
        })
    }
}
