//! The API key check: `Authorization: Bearer <pulse api key>` on every public route but `/health`.
//!
//! An API key names an environment (`[pulse] api_key` the `default` one,
//! `[pulse.keys]` more); named streams are scoped to it.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::{PulseError, WrapErrors};
use crate::config::PULSE_DEFAULT_ENVIRONMENT;
use crate::defects::Defect;
use crate::pulse::Ctx;

/// Proof that the request carried a Pulse API key, and the environment it
/// names. Handlers take it as their first argument, so the key is checked
/// before the body is read.
#[derive(Debug, Clone)]
pub struct Authorized(pub Environment);

impl FromRequestParts<Ctx> for Authorized {
    type Rejection = PulseError;

    async fn from_request_parts(parts: &mut Parts, state: &Ctx) -> Result<Self, PulseError> {
        // The first extractor with the server's state decides the error shape
        // of the whole request (see `WrapErrors`).
        if let Some(wrap) = parts.extensions.get::<WrapErrors>() {
            wrap.set(state.config.defects.contains(Defect::ErrorShapeWrapped));
        }
        check(&parts.headers, state).map(Self)
    }
}

/// The environment of the Pulse API key `headers` carry; `no-auth` accepts
/// anything (an unknown key as the default environment), and under
/// `streams-ignore-environment` every key is of the default environment.
pub fn check(headers: &HeaderMap, state: &Ctx) -> Result<Environment, PulseError> {
    let defects = &state.config.defects;
    let no_auth = defects.contains(Defect::NoAuth);
    let environment = match bearer(headers) {
        Ok(key) => state.config.pulse.environment(key),
        Err(error) if !no_auth => return Err(error),
        Err(_) => None,
    };
    let environment = match environment {
        Some(environment) => environment,
        None if no_auth => PULSE_DEFAULT_ENVIRONMENT,
        None => return Err(PulseError::unauthorized("invalid API key")),
    };
    if defects.contains(Defect::StreamsIgnoreEnvironment) {
        return Ok(Environment::new(PULSE_DEFAULT_ENVIRONMENT));
    }
    Ok(Environment::new(environment))
}

/// The key of a well-formed `Authorization: Bearer <key>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, PulseError> {
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
    key.ok_or_else(|| PulseError::unauthorized("the Authorization header must be Bearer <api key>"))
}

/// The environment an API key names. A named stream is its environment's
/// own: another environment neither lists, consumes nor deletes it, and may
/// have a stream of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment(String);

impl Environment {
    pub fn new(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The key of stream `name` of this environment (in the streams' namespace, in
    /// the cursor's name and among the consumers): the name itself in the
    /// default environment, so streams stored before environments existed
    /// stay its own, and `<environment>/<name>` in another. `None` for a name
    /// with `/`, which no stream has.
    pub fn key(&self, name: &str) -> Option<String> {
        if name.contains('/') {
            None
        } else if self.0 == PULSE_DEFAULT_ENVIRONMENT {
            Some(name.to_owned())
        } else {
            Some(format!("{}/{name}", self.0))
        }
    }

    /// Whether the stored stream `key` is of this environment.
    pub fn owns(&self, key: &str) -> bool {
        match key.split_once('/') {
            None => self.0 == PULSE_DEFAULT_ENVIRONMENT,
            Some((environment, _)) => environment == self.0,
        }
    }
}
