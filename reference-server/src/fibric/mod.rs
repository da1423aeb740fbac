//! The Fibric envelope stream (seed 004): `GET /v1/events` and `GET /v1/events/stream`.
//!
//! Each tenant has its own log stream (`fibric.<tenant>`), so a tenant's
//! reads never touch another tenant's envelopes and positions are per tenant.
//! Decisions where the seed is silent (also in the README):
//!
//! - Errors are `{"error": {"code", "message"}}`: `401 unauthorized`,
//!   `400 invalid_cursor` (malformed, issued under other filters or another
//!   tenant, ahead of the log, or an unknown `Last-Event-ID`), `410
//!   cursor_expired` (retention removed envelopes after the cursor),
//!   `400 invalid_request` (unknown or repeated query parameters, a bad glob or `limit`).
//! - `Last-Event-ID` wins over the `cursor` parameter, because EventSource
//!   sends it on reconnect together with the URL it first opened. It may hold
//!   a cursor or an `event_id` (what the SSE `id` field carries); an event id
//!   resumes after that envelope under the request's filters.
//! - `GET /v1/events` without a cursor starts at the oldest envelope kept;
//!   `next_cursor` is always present and names how far the page scanned, so
//!   backfill-then-tail has no gap even when the last page is empty.
//! - The control API's `entities` (the entity keys an envelope's plans
//!   touched) feed the `entity` filter and are not part of the envelope.
//!
//! # Shape
//!
//! | part | where |
//! |---|---|
//! | state | [`State`], here |
//! | routes | [`routes`] and [`control_routes`], here |
//! | write path | `write` (appends with their id index, retention) |
//! | auth | [`authenticate`], here |
//! | errors | [`crate::error::ApiError`], Fibric's shape being the server's default |
//! | streams | `api` (`stream`, over [`crate::sse`], its frames shared per filter set by `frames`, rendered by `render`); the list in `api` too |

mod api;
mod control;
pub mod cursor;
pub mod envelope;
pub mod filter;
mod frames;
mod render;
mod write;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::{get, post};

use crate::config::FibricConfig;
use crate::defects::Defect;
use crate::error::ApiError;

/// The log stream of one tenant.
pub fn stream_name(tenant: &str) -> String {
    format!("fibric.{tenant}")
}

/// The key-value namespace that maps a tenant's event ids to positions.
pub fn ids_namespace(tenant: &str) -> String {
    format!("fibric.ids.{tenant}")
}

/// What Fibric keeps between requests.
#[derive(Debug, Default)]
pub struct State {
    /// Appends are serialised, so that positions (and the id index written
    /// in the same commit) are known before the commit.
    append_lock: tokio::sync::Mutex<()>,
    /// Stream frames, rendered once per filter set.
    frames: std::sync::Arc<frames::Frames>,
}

impl State {
    pub fn new(_config: &FibricConfig) -> Self {
        Self::default()
    }
}

/// The tenant an `Authorization: Bearer <key>` header names.
pub fn authenticate(state: &Ctx, headers: &HeaderMap) -> Result<String, ApiError> {
    let config = &state.config.fibric;
    let defects = &state.config.defects;
    // The first tenant, in key order: where the auth defects send every reader.
    let first_tenant = || {
        config
            .keys
            .values()
            .next()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("no tenant is configured"))
    };
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let tenant = key.and_then(|key| config.keys.get(key.trim()).cloned());
    match (key, tenant) {
        (_, Some(_)) if defects.contains(Defect::LeakOtherTenant) => first_tenant(),
        (_, Some(tenant)) => Ok(tenant),
        _ if defects.contains(Defect::NoAuth) => first_tenant(),
        (None, None) => Err(ApiError::unauthorized(
            "an API key is required: Authorization: Bearer <key>",
        )),
        (Some(_), None) => Err(ApiError::unauthorized("the API key is not valid")),
    }
}

/// What Fibric's handlers extract: the core and Fibric's own [`State`].
pub type Ctx = crate::core::Api<State>;

/// The public Fibric routes.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/events", get(api::list))
        .route("/v1/events/stream", get(api::stream))
}

/// Fibric's routes under `/_control/fibric`.
pub fn control_routes() -> Router<Ctx> {
    Router::new()
        .route("/envelopes", post(control::append))
        .route("/trim", post(control::trim))
}
