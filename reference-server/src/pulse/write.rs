//! Pulse's write path: row changes with their events, model declarations, stream definitions and acknowledgements.
//!
//! Every Pulse write is here, and each is one commit through [`crate::log::Log`]
//! under the writer lock of [`super::State`]: a row read before its change is
//! still the stored row at commit, event ids go out in log order, and a stream
//! cannot be deleted between a consumer's checks and its acknowledgement.

use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::MutexGuard;

use super::error::PulseError;
use super::events::{Event, INDEX_NS, STREAM};
use super::model::{MODELS_NS, rows_namespace, validate};
use super::rows::{RowOp, RowRequest, change, row_key};
use super::streams::{CreateRequest, STREAMS_NS, StreamDef, cursor_name, load, not_found};
use super::ulid::Generator;
use crate::config::ModelDecl;
use crate::core::now_micros;
use crate::defects::Defect;
use crate::pulse::Ctx;
use crate::store::{NewRecord, Position, WriteBatch};

/// Proof that the caller holds the writer lock.
pub type Writer<'a> = MutexGuard<'a, Generator>;

/// Applies one row change and appends its event; returns the event.
pub async fn row(state: &Ctx, model_name: &str, request: RowRequest) -> Result<Event, PulseError> {
    let Some(model) = state.api.model(model_name) else {
        return Err(PulseError::not_found(
            "model_not_found",
            format!("no model named {model_name}"),
        )
        .with_meta("model", model_name));
    };
    let Value::Object(row) = request.row else {
        return Err(PulseError::invalid_request("row must be a JSON object"));
    };
    let key = row_key(&model, &row)?;
    let namespace = rows_namespace(&model.name);
    // One writer at a time: the stored row read here is still the stored row
    // at commit, and the next position of the log is the one this event gets.
    let mut ulids = state.api.writer.lock().await;
    let store = &state.log;
    let stored = match store.kv_get(&namespace, &key)? {
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(row)) => Some(row),
            _ => {
                return Err(PulseError::internal(format!(
                    "the stored row {key} is corrupt"
                )));
            }
        },
        None => None,
    };
    let defects = &state.config.defects;
    let (op, mut event) = change(&model, request.action, row, stored, &key)?;
    if defects.contains(Defect::UpdateWithoutBefore) {
        event.before = None;
    }
    let expected = state.log.bounds(STREAM)?.next;
    let now = now_micros();
    let id = if defects.contains(Defect::EventIdsCollide) {
        Some(super::ulid::Ulid::from_parts(now / 1000, 0))
    } else if defects.contains(Defect::UlidNotMonotonic) {
        ulids.next_unordered(now / 1000)
    } else {
        ulids.next(now / 1000)
    };
    let Some(id) = id else {
        return Err(PulseError::internal("the event id space is exhausted"));
    };
    event.id = id.to_string();
    let payload = serde_json::to_vec(&event)
        .map_err(|error| PulseError::internal(format!("encoding an event: {error}")))?;
    let mut batch = WriteBatch::new();
    match op {
        RowOp::Put(row) => {
            let value = serde_json::to_vec(&row)
                .map_err(|error| PulseError::internal(format!("encoding a row: {error}")))?;
            batch.put(&namespace, &key, value)
        }
        RowOp::Delete => batch.delete(&namespace, &key),
    };
    batch.append(
        STREAM,
        NewRecord {
            timestamp_micros: now,
            payload,
        },
    );
    batch.put(INDEX_NS, &event.id, expected.to_string().into_bytes());
    let committed = state.log.commit(batch).await?;
    if committed.positions != [expected] {
        // Only this module appends to the stream, under the lock held here.
        tracing::error!(?committed.positions, expected, "pulse: an event got an unexpected position; its index entry is wrong");
        return Err(PulseError::internal(
            "the event was stored at an unexpected position",
        ));
    }
    Ok(event)
}

/// Declares a model: `201` when new, `200` when the same declaration exists,
/// `409 model_exists` when a different one does.
pub async fn declare_model(state: &Ctx, decl: ModelDecl) -> Result<StatusCode, PulseError> {
    validate(&decl).map_err(PulseError::invalid_request)?;
    // The writer lock orders this against other declarations of the same name.
    let _writer = state.api.writer.lock().await;
    if let Some(existing) = state.api.model(&decl.name) {
        if existing == decl {
            return Ok(StatusCode::OK);
        }
        return Err(PulseError::conflict(
            "model_exists",
            format!("the model {} is already declared differently", decl.name),
        )
        .with_meta("model", decl.name)
        .with_meta(
            "existing",
            serde_json::to_value(&existing).unwrap_or_default(),
        ));
    }
    let value = serde_json::to_vec(&decl)
        .map_err(|error| PulseError::internal(format!("encoding a model: {error}")))?;
    let mut batch = WriteBatch::new();
    batch.put(MODELS_NS, &decl.name, value);
    state.log.commit(batch).await?;
    state.api.insert_model(decl);
    Ok(StatusCode::CREATED)
}

/// Stores a new stream definition with its cursor at the log head: `409
/// stream_exists` for a taken name (replaced under `duplicate-stream-created`).
pub async fn create_stream(
    state: &Ctx,
    key: &str,
    request: CreateRequest,
) -> Result<StreamDef, PulseError> {
    let _writer = state.api.writer.lock().await;
    let store = &state.log;
    if load(store, key)?.is_some()
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
    batch.put(STREAMS_NS, key, value);
    batch.set_cursor(&cursor_name(key), def.start);
    state.log.commit(batch).await?;
    Ok(def)
}

/// Forgets a stream's definition and cursor, and ends its consumer (not
/// under `delete-keeps-consumer`); `404 stream_not_found` for an unknown name.
/// `key` is the stream's [`super::streams::Environment::key`].
pub async fn delete_stream(state: &Ctx, key: &str, name: &str) -> Result<(), PulseError> {
    let _writer = state.api.writer.lock().await;
    if load(&state.log, key)?.is_none() {
        return Err(not_found(name));
    }
    let mut batch = WriteBatch::new();
    batch.delete(STREAMS_NS, key);
    batch.delete_cursor(&cursor_name(key));
    state.log.commit(batch).await?;
    if !state.config.defects.contains(Defect::DeleteKeepsConsumer) {
        state.api.claims.end(key);
    }
    Ok(())
}

/// Saves `position` as the acknowledged position of the stream whose cursor is `cursor`.
pub async fn acknowledge(
    state: &Ctx,
    _held: &Writer<'_>,
    cursor: &str,
    position: Position,
) -> Result<(), PulseError> {
    let mut batch = WriteBatch::new();
    batch.set_cursor(cursor, position);
    state.log.commit(batch).await?;
    Ok(())
}
