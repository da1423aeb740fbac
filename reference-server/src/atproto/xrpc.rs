//! XRPC plumbing: `{error, message}` errors, JSON input, and the bearer JWTs that `createSession` hands out.
//!
//! Tokens are HS256 JWTs shaped like the PDS's (`typ: at+jwt`, `scope`,
//! `sub`, `iat`, `exp`), so clients that read their expiry work unchanged. An
//! expired token is `400 ExpiredToken`, as on the PDS; a missing one `401
//! AuthenticationRequired`; a bad one `401 InvalidToken`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::hmac::hmac_sha256;
use crate::store::StoreError;

/// An XRPC error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrpcError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
}

impl XrpcError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    pub fn auth_required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationRequired", message)
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for XrpcError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal Server Error",
        )
    }
}

/// A procedure's raw input. A body over the server's limit is `413
/// PayloadTooLarge` in the XRPC shape (the PDS's answer), not axum's plain text.
#[derive(Debug, Clone)]
pub struct Input(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Input {
    type Rejection = XrpcError;

    async fn from_request(req: Request, state: &S) -> Result<Self, XrpcError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Input(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(XrpcError::new(
                    rejection.status(),
                    "PayloadTooLarge",
                    "request entity too large",
                ))
            }
            Err(rejection) => Err(XrpcError::invalid(rejection.body_text())),
        }
    }
}

/// Parses a procedure's JSON input.
pub fn input<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, XrpcError> {
    let json_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json_type {
        return Err(XrpcError::invalid(
            "Wrong request encoding (Content-Type): expected application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| XrpcError::invalid(format!("Invalid input: {e}")))
}

/// Which token a JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Access,
    Refresh,
}

impl Scope {
    fn text(self) -> &'static str {
        match self {
            Scope::Access => "com.atproto.access",
            Scope::Refresh => "com.atproto.refresh",
        }
    }
}

/// Makes a JWT for `did`, valid from `now` (seconds) for `validity` seconds.
pub fn issue(secret: &[u8; 32], did: &str, scope: Scope, now: u64, validity: u64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"at+jwt","alg":"HS256"}"#);
    let claims = json!({
        "scope": scope.text(),
        "sub": did,
        "iat": now,
        "exp": now + validity,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mac = hmac_sha256(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The DID a bearer token of `scope` names, checked at `now` (seconds).
pub fn authenticate(
    secret: &[u8; 32],
    headers: &HeaderMap,
    scope: Scope,
    now: u64,
) -> Result<String, XrpcError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
    let bad = || {
        XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "Token could not be verified",
        )
    };
    let (signing_input, mac) = token.rsplit_once('.').ok_or_else(bad)?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| bad())?;
    if mac != hmac_sha256(secret, signing_input.as_bytes()) {
        return Err(bad());
    }
    let (_, payload) = signing_input.split_once('.').ok_or_else(bad)?;
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(bad)?;
    if claims["scope"] != scope.text() {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "Bad token scope",
        ));
    }
    if claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has expired",
        ));
    }
    claims["sub"].as_str().map(str::to_owned).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        headers
    }

    #[test]
    fn tokens_check_mac_scope_and_expiry() {
        let secret = [7u8; 32];
        let token = issue(&secret, "did:plc:abc", Scope::Access, 1000, 60);
        let ok = authenticate(&secret, &bearer(&token), Scope::Access, 1059);
        assert_eq!(ok.unwrap(), "did:plc:abc");
        let expired = authenticate(&secret, &bearer(&token), Scope::Access, 1060).unwrap_err();
        assert_eq!(expired.error, "ExpiredToken");
        let scope = authenticate(&secret, &bearer(&token), Scope::Refresh, 1000).unwrap_err();
        assert_eq!(scope.error, "InvalidToken");
        let other = authenticate(&[8u8; 32], &bearer(&token), Scope::Access, 1000).unwrap_err();
        assert_eq!(other.error, "InvalidToken");
        let missing = authenticate(&secret, &HeaderMap::new(), Scope::Access, 1000).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    }
}
