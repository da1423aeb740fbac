//! Named streams: `POST /streams`, `GET /streams`, `DELETE /streams/{name}`, and how a stream is stored.
//!
//! A definition lives in the KV namespace `pulse.streams`, its saved cursor
//! (the log position of the last acknowledged event) in the named cursor
//! `pulse.stream.<name>`. Creating a stream sets that cursor to the log head,
//! so the stream holds every event committed after the creation was
//! acknowledged, whether or not a consumer is connected.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Authorized;
use super::error::{PulseError, PulseJson};
use super::events::{self, STREAM};
use super::filter::EventFilter;
use crate::core::now_micros;
use crate::defects::Defect;
use crate::log::Log;
use crate::pulse::Ctx;
use crate::store::{Position, StoreError, WriteBatch};

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

/// The named cursor holding a stream's acknowledged position.
pub fn cursor_name(stream: &str) -> String {
    format!("pulse.stream.{stream}")
}

/// The stored definition of `name`, if any.
pub fn load(store: &Log, name: &str) -> Result<Option<StreamDef>, PulseError> {
    let Some(bytes) = store.kv_get(STREAMS_NS, name)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| PulseError::internal(format!("stored stream {name:?}: {error}")))
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

fn info(state: &Ctx, def: &StreamDef) -> Result<StreamInfo, StoreError> {
    let store = &state.log;
    let saved = store.cursor(&cursor_name(&def.name))?.unwrap_or(def.start);
    let cursor = if saved > def.start {
        events::id_at(store, saved)?
    } else {
        None
    };
    let status = if state.api.claims.is_active(&def.name) {
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

fn validate_name(name: &str) -> Result<(), PulseError> {
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
        return Err(
            PulseError::bad_request("model_not_found", format!("no model named {model}"))
                .with_meta("model", model),
        );
    }
    Ok(filter)
}

/// `POST /streams`: `201` StreamInfo, `400`, `409 stream_exists` (under the
/// `duplicate-stream-created` defect, `201` and the stream is replaced).
pub async fn create(
    _auth: Authorized,
    State(state): State<Ctx>,
    PulseJson(request): PulseJson<CreateRequest>,
) -> Result<Response, PulseError> {
    validate_name(&request.name)?;
    check_model_and_filter(&state, &request.model, request.filter.as_ref())?;
    let _writer = state.api.writer.lock().await;
    let store = &state.log;
    if load(store, &request.name)?.is_some()
        && !state
            .config
            .defects
            .contains(Defect::DuplicateStreamCreated)
    {
        return Err(PulseError::conflict(
            "stream_exists",
            format!("a stream named {} already exists", request.name),
        )
        .with_meta("stream", request.name));
    }
    let def = StreamDef {
        name: request.name,
        model: request.model,
        filter: request.filter,
        created_at_micros: now_micros(),
        start: state.log.head(STREAM)?,
    };
    let value = serde_json::to_vec(&def)
        .map_err(|error| PulseError::internal(format!("encoding a stream: {error}")))?;
    let mut batch = WriteBatch::new();
    batch.put(STREAMS_NS, &def.name, value);
    batch.set_cursor(&cursor_name(&def.name), def.start);
    state.log.commit(batch).await?;
    let info = info(&state, &def)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /streams`: every stream, sorted by name.
pub async fn list(_auth: Authorized, State(state): State<Ctx>) -> Result<Json<Value>, PulseError> {
    let mut data = Vec::new();
    for (name, bytes) in state.log.kv_scan(STREAMS_NS)? {
        let def: StreamDef = serde_json::from_slice(&bytes)
            .map_err(|error| PulseError::internal(format!("stored stream {name:?}: {error}")))?;
        data.push(info(&state, &def)?);
    }
    Ok(Json(serde_json::json!({ "data": data })))
}

/// `DELETE /streams/{name}`: `204`, or `404 stream_not_found`. Ends the
/// stream's consumer (not under `delete-keeps-consumer`) and forgets its
/// cursor, so the name starts fresh when reused.
pub async fn delete(
    _auth: Authorized,
    State(state): State<Ctx>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, PulseError> {
    let Path(name) = name?;
    let _writer = state.api.writer.lock().await;
    if load(&state.log, &name)?.is_none() {
        return Err(not_found(&name));
    }
    let mut batch = WriteBatch::new();
    batch.delete(STREAMS_NS, &name);
    batch.delete_cursor(&cursor_name(&name));
    state.log.commit(batch).await?;
    if !state.config.defects.contains(Defect::DeleteKeepsConsumer) {
        state.api.claims.end(&name);
    }
    Ok(StatusCode::NO_CONTENT)
}
