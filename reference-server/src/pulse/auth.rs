//! The API key check: `Authorization: Bearer <pulse api_key>` on every public route but `/health`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::PulseError;
use crate::app::AppState;

/// Proof that the request carried the Pulse API key. Handlers take it as
/// their first argument, so the key is checked before the body is read.
#[derive(Debug, Clone, Copy)]
pub struct Authorized;

impl FromRequestParts<AppState> for Authorized {
    type Rejection = PulseError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PulseError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
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
            Some(key) if key == state.config.pulse.api_key => Ok(Self),
            Some(_) => Err(PulseError::unauthorized("invalid API key")),
            None => Err(PulseError::unauthorized(
                "the Authorization header must be Bearer <api key>",
            )),
        }
    }
}
