//! The API key check: `Authorization: Bearer <pulse api_key>` on every public route but `/health`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::{PulseError, WrapErrors};
use crate::defects::Defect;
use crate::pulse::Ctx;

/// Proof that the request carried the Pulse API key. Handlers take it as
/// their first argument, so the key is checked before the body is read.
#[derive(Debug, Clone, Copy)]
pub struct Authorized;

impl FromRequestParts<Ctx> for Authorized {
    type Rejection = PulseError;

    async fn from_request_parts(parts: &mut Parts, state: &Ctx) -> Result<Self, PulseError> {
        // The first extractor with the server's state decides the error shape
        // of the whole request (see `WrapErrors`).
        if let Some(wrap) = parts.extensions.get::<WrapErrors>() {
            wrap.set(state.config.defects.contains(Defect::ErrorShapeWrapped));
        }
        check(&parts.headers, state)?;
        Ok(Self)
    }
}

/// Whether `headers` carry the Pulse API key; `no-auth` accepts anything.
pub fn check(headers: &HeaderMap, state: &Ctx) -> Result<(), PulseError> {
    if state.config.defects.contains(Defect::NoAuth) {
        return Ok(());
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(PulseError::unauthorized(
            "missing API key: send Authorization: Bearer <api key>",
        ));
    };
    // The scheme is case-insensitive (RFC 9110 §11.1); the key is not.
    let key = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    match key {
        Some(key) if key == state.config.pulse.api_key => Ok(()),
        Some(_) => Err(PulseError::unauthorized("invalid API key")),
        None => Err(PulseError::unauthorized(
            "the Authorization header must be Bearer <api key>",
        )),
    }
}
