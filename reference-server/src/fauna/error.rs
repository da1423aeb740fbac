//! Fauna's error answers: protocol errors `{error: {code, message}}`, query errors with `summary`, `txn_ts` and `stats`, and stream error events.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::store::StoreError;

/// A protocol error: the request itself was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaunaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl FaunaError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A body axum could not take: over the size limit (`413 request_size_exceeded`) or unreadable.
    pub fn body(rejection: &axum::extract::rejection::BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_size_exceeded",
                "The request body is larger than this server accepts.",
            )
        } else {
            Self::invalid_request(rejection.body_text())
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The reference server's store failed; see its log.",
        )
    }

    pub fn to_json(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for FaunaError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, Json(self.to_json())).into_response();
        if unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for FaunaError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "fauna: storage failure");
        FaunaError::internal()
    }
}

/// The stats of a stream or feed event; this server's costs are nominal.
pub fn event_stats(read_ops: u64, bytes: u64) -> Value {
    json!({
        "read_ops": read_ops,
        "storage_bytes_read": bytes,
        "compute_ops": 1,
        "processing_time_ms": 0,
        "rate_limits_hit": [],
    })
}

/// The stats of a query answer.
pub fn query_stats(read_ops: u64, write_ops: u64) -> Value {
    json!({
        "compute_ops": 1,
        "read_ops": read_ops,
        "write_ops": write_ops,
        "query_time_ms": 0,
        "contention_retries": 0,
        "storage_bytes_read": 0,
        "storage_bytes_write": 0,
        "rate_limits_hit": [],
    })
}

/// A query error: always `400`, with `summary`, `txn_ts` and `stats`, as Fauna answers.
pub fn query_error(code: &str, message: &str, txn_ts: u64) -> Response {
    let body = json!({
        "error": {"code": code, "message": message},
        "summary": format!("error: {message}"),
        "txn_ts": txn_ts,
        "stats": query_stats(0, 0),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// A stream or feed error event; the stream ends after it.
pub fn error_event(code: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"code": code, "message": message}, "stats": event_stats(0, 0)})
}
