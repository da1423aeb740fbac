//! Pulse's error shape (`{code, message, meta?}`), and extractors whose rejections take that shape.
//!
//! Axum's own rejections (bad JSON, a missing content type, a bad path) answer
//! in plain text, and the server's generic errors nest under `"error"`; every
//! answer of a Pulse route goes through [`PulseError`] instead.
//!
//! The `error-shape-wrapped` defect nests Pulse's bodies under `"error"` as
//! well. An error does not know the server's state, so the Pulse routes'
//! layer [`reshape`] wraps after the fact: it puts a [`WrapErrors`] switch in
//! the request, the API key extractor (the first code with the state to run;
//! `/health` and the `405` fallback have none, and keep their shape) turns it
//! on, and the layer rewrites the body of any [`PulseError`] answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::store::StoreError;

/// An error answer of a Pulse route.
#[derive(Debug, Clone, PartialEq)]
pub struct PulseError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub meta: Option<Map<String, Value>>,
}

impl PulseError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            meta: None,
        }
    }

    /// Adds one entry to `meta`.
    pub fn with_meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.meta
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `400 invalid_request`: the body or a parameter is not what the route takes.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

impl IntoResponse for PulseError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".to_owned(), Value::from(self.code));
        body.insert("message".to_owned(), Value::from(self.message));
        if let Some(meta) = self.meta {
            body.insert("meta".to_owned(), Value::Object(meta));
        }
        let mut response = (self.status, Json(Value::Object(body.clone()))).into_response();
        response.extensions_mut().insert(ErrorBody(body));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pulse\""),
            );
        }
        response
    }
}

impl From<StoreError> for PulseError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "pulse: storage failure");
        match error {
            StoreError::InvalidName { .. } => Self::invalid_request(error.to_string()),
            _ => Self::internal("the log store failed; see the server log"),
        }
    }
}

impl From<JsonRejection> for PulseError {
    /// A body over the server's limit is `413 payload_too_large` (the seed's
    /// operations take [`SeedJson`], which makes it `400`); anything else the
    /// JSON extractor refuses (a syntax error, a content type other than
    /// `application/json`) is `400 invalid_request`, the only client error
    /// the seed lists for request bodies.
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(status, "payload_too_large", rejection.body_text());
        }
        let message = match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "the body must be JSON with Content-Type: application/json".to_owned()
            }
            other => format!("the body is not valid JSON: {}", other.body_text()),
        };
        Self::invalid_request(message)
    }
}

impl From<PathRejection> for PulseError {
    /// A path segment that is not UTF-8 once decoded names nothing: `404`,
    /// the only client error the seed documents for the operations with a
    /// path parameter besides `401`.
    fn from(rejection: PathRejection) -> Self {
        Self::not_found("not_found", rejection.body_text())
    }
}

/// The body of a [`PulseError`] answer, kept beside it for [`reshape`].
#[derive(Debug, Clone)]
struct ErrorBody(Map<String, Value>);

/// Whether this request's error bodies are wrapped (`error-shape-wrapped`).
#[derive(Debug, Clone, Default)]
pub struct WrapErrors(Arc<AtomicBool>);

impl WrapErrors {
    pub fn set(&self, wrap: bool) {
        self.0.store(wrap, Ordering::Relaxed);
    }
}

/// The Pulse routes' layer: wraps error bodies in `{"error": …}` when the
/// request's [`WrapErrors`] was switched on; otherwise passes answers through.
pub async fn reshape(mut request: Request, next: Next) -> Response {
    let wrap = WrapErrors::default();
    request.extensions_mut().insert(wrap.clone());
    let response = next.run(request).await;
    if !wrap.0.load(Ordering::Relaxed) {
        return response;
    }
    let Some(ErrorBody(body)) = response.extensions().get::<ErrorBody>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let wrapped = serde_json::json!({ "error": body }).to_string();
    Response::from_parts(parts, Body::from(wrapped))
}

/// A JSON object body, deserialised into `T`, whose every rejection is a [`PulseError`].
#[derive(Debug, Clone)]
pub struct PulseJson<T>(pub T);

impl<S, T> FromRequest<S> for PulseJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PulseError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PulseError> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        // Serde would also read a struct from an array of its fields.
        if !value.is_object() {
            return Err(PulseError::invalid_request(
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(PulseJson)
            .map_err(|error| PulseError::invalid_request(format!("invalid request body: {error}")))
    }
}

/// The body of one of the seed's operations: as [`PulseJson`], but a body
/// over the server's limit is `400 payload_too_large`, because the seed
/// documents `400` for a bad request and no `413`. (The control API keeps
/// its `413`.)
#[derive(Debug, Clone)]
pub struct SeedJson<T>(pub T);

impl<S, T> FromRequest<S> for SeedJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PulseError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PulseError> {
        match PulseJson::<T>::from_request(req, state).await {
            Ok(PulseJson(value)) => Ok(SeedJson(value)),
            Err(error) if error.status == StatusCode::PAYLOAD_TOO_LARGE => Err(PulseError {
                status: StatusCode::BAD_REQUEST,
                ..error
            }),
            Err(error) => Err(error),
        }
    }
}

/// The answer for a Pulse path with a method it does not serve.
pub async fn method_not_allowed(method: Method, uri: Uri) -> PulseError {
    PulseError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
