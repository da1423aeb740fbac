//! Auth: app manifests to tokens, tokens back to apps, and the `Accept` / `Content-Type` / body checks every route shares.
//!
//! A token is standard base64 of `u32 length ‖ JSON claims ‖ 0x01 ‖ node id ‖
//! HMAC-SHA256(secret, claims)`, the same layout as the node's signed CBOR
//! with a MAC in place of the signature. The claims name the app, when the
//! token was made, for how long it is valid, and the node's start ("cycle"):
//! a token from before a restart is expired, as on the real node.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::ActyxError;
use crate::actyx::Ctx;
use crate::core::now_micros;
use crate::defects::Defect;
use crate::hmac::hmac_sha256;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// Microseconds since the epoch.
    pub created: u64,
    pub app_id: String,
    pub cycles: u64,
    pub app_version: String,
    /// Seconds.
    pub validity: u64,
    pub app_mode: String,
}

/// The app a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub app_id: String,
}

/// Makes a token for `claims`.
pub fn issue(state: &Ctx, claims: &Claims) -> String {
    let node = &state.api.node;
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let mut bytes = Vec::with_capacity(json.len() + 69);
    bytes.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_be_bytes());
    bytes.extend_from_slice(&json);
    bytes.push(1);
    bytes.extend_from_slice(&node.id.0);
    bytes.extend_from_slice(&hmac_sha256(&node.secret, &json));
    STANDARD.encode(bytes)
}

/// Checks a token: the node's answers for each way it can be wrong.
pub fn verify(state: &Ctx, token: &str, now_micros: u64) -> Result<Claims, ActyxError> {
    if token.is_empty() {
        return Err(ActyxError::token_invalid(token, "Missing token bytes."));
    }
    let bytes = STANDARD
        .decode(token)
        .map_err(|_| ActyxError::token_invalid(token, "Cannot parse token bytes."))?;
    let not_signed = || ActyxError::token_invalid(token, "Not a signed token.");
    let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(not_signed)?;
    let length = usize::try_from(u32::from_be_bytes(*length)).map_err(|_| not_signed())?;
    if rest.len() != length + 65 || rest[length] != 1 {
        return Err(not_signed());
    }
    let (json, tail) = rest.split_at(length);
    let (node_id, mac) = tail[1..].split_at(32);
    let node = &state.api.node;
    if node_id != node.id.0 || mac != hmac_sha256(&node.secret, json) {
        return Err(ActyxError::token_unauthorized());
    }
    let claims: Claims = serde_json::from_slice(json)
        .map_err(|_| ActyxError::token_invalid(token, "Cannot parse CBOR."))?;
    let expires = claims
        .created
        .saturating_add(claims.validity.saturating_mul(1_000_000));
    if claims.cycles != state.api.cycle || now_micros > expires {
        return Err(ActyxError::token_expired());
    }
    Ok(claims)
}

/// The caller of a request: the `access_token` query parameter (taken
/// verbatim, and winning over the header, as on the node), else
/// `Authorization: Bearer <token>`.
pub fn authorize(state: &Ctx, headers: &HeaderMap, uri: &Uri) -> Result<Caller, ActyxError> {
    let defects = &state.config.defects;
    let from_query = uri
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|part| part.strip_prefix("access_token="))
        })
        .filter(|_| !defects.contains(Defect::AccessTokenIgnored));
    let token = match from_query {
        Some(token) => token.to_owned(),
        None => {
            if headers.get(header::AUTHORIZATION).is_none()
                && defects.contains(Defect::ActyxAuthOptional)
            {
                return Ok(Caller {
                    app_id: "com.example.anonymous".to_owned(),
                });
            }
            let header = headers
                .get(header::AUTHORIZATION)
                .ok_or_else(ActyxError::missing_auth_header)?;
            let header = String::from_utf8_lossy(header.as_bytes());
            let mut words = header.split_whitespace();
            let scheme = words.next().unwrap_or("");
            if scheme != "Bearer" {
                return Err(ActyxError::unsupported_auth_type(scheme));
            }
            words.next().unwrap_or("").to_owned()
        }
    };
    let claims = verify(state, &token, now_micros()).map_err(|error| {
        if error.code == "ERR_TOKEN_INVALID" && defects.contains(Defect::TokenInvalid401) {
            ActyxError::token_unauthorized()
        } else {
            error
        }
    })?;
    Ok(Caller {
        app_id: claims.app_id,
    })
}

/// `Accept`: absent, or one of its comma-separated parts is exactly `*/*` or `produces`.
pub fn accept(headers: &HeaderMap, produces: &str) -> Result<(), ActyxError> {
    let Some(value) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let ok = text
        .split(',')
        .map(|part| part.trim().to_ascii_lowercase())
        .any(|part| part == "*/*" || part == produces);
    if ok {
        Ok(())
    } else {
        Err(ActyxError::not_acceptable(
            &text,
            &format!("*/*, {produces}"),
        ))
    }
}

/// [`accept`], skipped under the `accept-ignored` defect.
pub fn accept_unless_defective(
    state: &Ctx,
    headers: &HeaderMap,
    produces: &str,
) -> Result<(), ActyxError> {
    if state.config.defects.contains(Defect::AcceptIgnored) {
        return Ok(());
    }
    accept(headers, produces)
}

/// `Content-Type`: absent, or `application/json` with any parameters.
pub fn content_type(headers: &HeaderMap) -> Result<(), ActyxError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ActyxError::unsupported_media_type())
    }
}

/// A JSON body; serde's message becomes the `Invalid request.` cause, as on the node.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ActyxError> {
    serde_json::from_slice(bytes).map_err(ActyxError::bad_request)
}

/// Everything a JSON-in route checks before its own work, in the node's order.
pub fn request<T: DeserializeOwned>(
    state: &Ctx,
    headers: &HeaderMap,
    uri: &Uri,
    produces: &str,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(Caller, T), ActyxError> {
    let caller = authorize(state, headers, uri)?;
    accept_unless_defective(state, headers, produces)?;
    if !state.config.defects.contains(Defect::ContentTypeIgnored) {
        content_type(headers)?;
    }
    if state.config.defects.contains(Defect::ContentTypeRequired)
        && !headers.contains_key(header::CONTENT_TYPE)
    {
        return Err(ActyxError::unsupported_media_type());
    }
    let bytes = super::error::bytes(state, bytes)?;
    Ok((caller, body(&bytes)?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    app_id: String,
    display_name: String,
    version: String,
    #[serde(default)]
    signature: Option<String>,
}

/// Whether `id` is an app id as the node defines it: `[a-z0-9-]` parts joined by single dots.
pub fn valid_app_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("expected non-empty string".to_owned());
    }
    let parts_ok = id.split('.').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if parts_ok {
        Ok(())
    } else {
        Err("appId needs to be a valid DNS name".to_owned())
    }
}

/// `POST /api/v2/auth`.
pub async fn login(
    State(state): State<Ctx>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    let result = (|| {
        accept(&headers, "application/json")?;
        content_type(&headers)?;
        let bytes = super::error::bytes(&state, bytes)?;
        let manifest: Manifest = body(&bytes)?;
        let _ = manifest.display_name;
        valid_app_id(&manifest.app_id).map_err(ActyxError::bad_request)?;
        if manifest.signature.is_some() {
            return Err(ActyxError::invalid_manifest(
                "This reference node holds no Actyx license key and cannot verify signed manifests; use a com.example.* app id without a signature.",
            ));
        }
        if !manifest.app_id.starts_with("com.example.") {
            return Err(ActyxError::bad_request(format!(
                "Trial app id needs to start with 'com.example.'. Got '{}'.",
                manifest.app_id
            )));
        }
        let claims = Claims {
            created: now_micros(),
            app_id: manifest.app_id,
            cycles: state.api.cycle,
            app_version: manifest.version,
            validity: state.api.config.token_validity.as_secs(),
            app_mode: "trial".to_owned(),
        };
        Ok(issue(&state, &claims))
    })();
    match result {
        Ok(token) => Json(serde_json::json!({ "token": token })).into_response(),
        Err(error) => error.into_response(),
    }
}
