//! Named streams as stored: definitions, saved cursors, and what `GET /streams` shows of them.
//!
//! A definition lives in the KV namespace `pulse.streams` under its
//! environment's key ([`Environment::key`]), its saved cursor (the log
//! position of the last acknowledged event) in the named cursor
//! `pulse.stream.<key>`. Creating a stream sets that cursor to the log head,
//! so the stream holds every event committed after the creation was
//! acknowledged, whether or not a consumer is connected. The routes are in
//! `streams_api`, the writes in `write`.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::auth::Environment;
use super::error::PulseError;
use super::events::{self};
use super::filter::EventFilter;
use crate::defects::Defect;
use crate::log::Log;
use crate::pulse::Ctx;
use crate::store::{Position, StoreError};

/// KV namespace: stream name → JSON [`StreamDef`].
pub const STREAMS_NS: &str = "pulse.streams";
/// The longest stream name, in bytes (the cursor name adds a prefix to it).
pub const MAX_NAME_BYTES: usize = 200;

/// A named stream as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamDef {
    pub name: String,
    pub model: String,
    /// The filter as the client sent it; it was validated at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    pub created_at_micros: u64,
    /// The log head at creation: the stream holds the events after it.
    pub start: Position,
}

impl StreamDef {
    pub fn filter(&self) -> Result<Option<EventFilter>, PulseError> {
        self.filter
            .as_ref()
            .map(EventFilter::parse)
            .transpose()
            .map_err(|reason| PulseError::internal(format!("stored filter: {reason}")))
    }
}

/// The named cursor holding a stream's acknowledged position; `key` is the
/// stream's [`Environment::key`].
pub fn cursor_name(key: &str) -> String {
    format!("pulse.stream.{key}")
}

/// The stored definition of the stream whose [`Environment::key`] is `key`, if any.
pub fn load(store: &Log, key: &str) -> Result<Option<StreamDef>, PulseError> {
    let Some(bytes) = store.kv_get(STREAMS_NS, key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| PulseError::internal(format!("stored stream {key:?}: {error}")))
}

pub fn not_found(name: &str) -> PulseError {
    PulseError::not_found("stream_not_found", format!("no stream named {name}"))
        .with_meta("stream", name)
}

/// `StreamInfo` of the seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    pub name: String,
    pub model: String,
    /// `active` while a consumer is connected, `paused` otherwise.
    pub status: &'static str,
    /// The id of the last acknowledged event; absent until one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub created_at: String,
}

/// What `GET /streams` shows of the stream `def` stored at `key`.
pub fn info(state: &Ctx, key: &str, def: &StreamDef) -> Result<StreamInfo, StoreError> {
    let store = &state.log;
    let saved = store.cursor(&cursor_name(key))?.unwrap_or(def.start);
    let cursor = if saved <= def.start {
        None
    } else if state.config.defects.contains(Defect::CursorShowsPosition) {
        Some(saved.to_string())
    } else {
        events::id_at(store, saved)?
    };
    let status = if state.api.claims.is_active(key) {
        "active"
    } else {
        "paused"
    };
    Ok(StreamInfo {
        name: def.name.clone(),
        model: def.model.clone(),
        status,
        cursor,
        created_at: super::rfc3339(def.created_at_micros),
    })
}

/// The body of `POST /streams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub filter: Option<Value>,
}

pub fn validate_name(name: &str) -> Result<(), PulseError> {
    let reason = if name.is_empty() {
        "a stream name must not be empty".to_owned()
    } else if name.len() > MAX_NAME_BYTES {
        format!("a stream name has at most {MAX_NAME_BYTES} bytes")
    } else if name.contains('/') || name.chars().any(char::is_control) {
        "a stream name must not contain '/' or control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(PulseError::invalid_request(reason))
}

/// Checks a request's model and filter, shared with `POST /subscribe`.
pub fn check_model_and_filter(
    state: &Ctx,
    model: &str,
    filter: Option<&Value>,
) -> Result<Option<EventFilter>, PulseError> {
    let filter = filter
        .map(EventFilter::parse)
        .transpose()
        .map_err(|reason| PulseError::bad_request("invalid_filter", reason))?;
    if state.api.model(model).is_none() {
        // The seed documents 400 for a bad request here, and no 404.
        let status = if state.config.defects.contains(Defect::UnknownModel404) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        return Err(
            PulseError::new(status, "model_not_found", format!("no model named {model}"))
                .with_meta("model", model),
        );
    }
    Ok(filter)
}
