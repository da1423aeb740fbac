//! Actyx's error answers: `{code, message}` with the node's codes, statuses and message texts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// The body, or the node's 413 when it is over the server's limit.
pub fn bytes(
    state: &crate::actyx::Ctx,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ActyxError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ActyxError::length_unknown(state.config.max_body_bytes)
        } else {
            ActyxError::bad_request(rejection.body_text())
        }
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActyxError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ActyxError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ERR_NOT_FOUND",
            "The requested resource could not be found.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "ERR_METHOD_NOT_ALLOWED",
            "Method not supported.",
        )
    }

    pub fn not_acceptable(requested: &str, supported: &str) -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "ERR_NOT_ACCEPTABLE",
            format!(
                "Content with type '{requested}' was requested but the resource is only capable of generating content of the following type(s): {supported}."
            ),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ERR_UNSUPPORTED_MEDIA_TYPE",
            "The request's content-type is not supported.",
        )
    }

    pub fn missing_auth_header() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERR_MISSING_AUTH_HEADER",
            "\"Authorization\" header is missing.",
        )
    }

    pub fn unsupported_auth_type(requested: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERR_UNSUPPORTED_AUTH_TYPE",
            format!("Unsupported authentication type '{requested}'. Only \"Bearer\" is supported."),
        )
    }

    pub fn token_invalid(token: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_TOKEN_INVALID",
            format!("Invalid token: '{token}'. {why} Please provide a valid bearer token."),
        )
    }

    pub fn token_unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERR_TOKEN_UNAUTHORIZED",
            "Unauthorized token.",
        )
    }

    pub fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERR_TOKEN_EXPIRED",
            "Expired token.",
        )
    }

    pub fn invalid_manifest(why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_MANIFEST_INVALID",
            format!("Invalid manifest. {why}"),
        )
    }

    pub fn app_unauthorized(app_id: &str, why: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERR_APP_UNAUTHORIZED",
            format!(
                "App '{app_id}' is not authorized: {why}. Provide a valid app license in the node settings."
            ),
        )
    }

    pub fn bad_request(cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
            format!("Invalid request. {cause}"),
        )
    }

    /// Over the body limit; like the node's, the answer does not know the size.
    pub fn length_unknown(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ERR_PAYLOAD_TOO_LARGE",
            format!("Payload length unknown. Limit is {limit}"),
        )
    }

    pub fn unsupported_feature(feature: &str, endpoint: &str) -> Self {
        Self::new(
            StatusCode::IM_A_TEAPOT,
            "ERR_UNSUPPORTED_FEATURE",
            format!("Feature `{feature}` is not supported on endpoint `{endpoint}`."),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR_INTERNAL",
            "Internal server error.",
        )
    }

    /// The JSON object, also used as the last line of a stream that fails.
    pub fn body(&self) -> serde_json::Value {
        json!({"code": self.code, "message": self.message})
    }
}

impl IntoResponse for ActyxError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<StoreError> for ActyxError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "actyx: storage failure");
        ActyxError::internal()
    }
}
