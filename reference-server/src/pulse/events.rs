//! Change events: their JSON form, the index from id to log position, `GET /events/{id}` and `GET /health`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{self, Authorized};
use super::error::PulseError;
use super::ulid;
use crate::core::now_micros;
use crate::defects::Defect;
use crate::log::Log;
use crate::pulse::Ctx;
use crate::store::{Position, StoreError};

/// The one log stream every Pulse event goes to, whatever its model.
pub const STREAM: &str = "pulse";
/// KV namespace: event id → decimal log position.
pub const INDEX_NS: &str = "pulse.events";

/// The operation behind an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// A change event exactly as it is stored in the log and sent to clients.
///
/// Which of `created`, `after` (+ `before`) and `deleted` is present depends
/// on `action`; `before` only with full replica identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub action: Action,
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Value>,
}

impl Event {
    /// The row an action-specific filter looks at: `created`, `after` or `deleted`.
    pub fn filtered_row(&self) -> Option<&Value> {
        match self.action {
            Action::Create => self.created.as_ref(),
            Action::Update => self.after.as_ref(),
            Action::Delete => self.deleted.as_ref(),
        }
    }
}

/// The log position of the event with id `id`, if there is one.
pub fn position_of(store: &Log, id: &str) -> Result<Option<Position>, StoreError> {
    let Some(value) = store.kv_get(INDEX_NS, id)? else {
        return Ok(None);
    };
    let position = std::str::from_utf8(&value)
        .ok()
        .and_then(|text| text.parse::<Position>().ok());
    match position {
        Some(position) => Ok(Some(position)),
        None => Err(StoreError::Corrupt {
            stream: INDEX_NS.to_owned(),
            position: 0,
            reason: "an event index entry is not a decimal position",
        }),
    }
}

/// The id of the event at `position`, if it is still in the log.
pub fn id_at(store: &Log, position: Position) -> Result<Option<String>, StoreError> {
    let Some(record) = store.get(STREAM, position)? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Event>(&record.payload) {
        Ok(event) => Ok(Some(event.id)),
        Err(_) => Err(StoreError::Corrupt {
            stream: STREAM.to_owned(),
            position,
            reason: "a pulse record is not an event",
        }),
    }
}

/// `GET /events/{id}`: `200` the event, or `404 event_not_found`, also for
/// a malformed id: the seed documents no other client error for this
/// operation, and no event has such an id. (`lookup-malformed-400` answers
/// `400 invalid_event_id` instead.)
pub async fn lookup(
    _auth: Authorized,
    State(state): State<Ctx>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PulseError> {
    let Path(id) = id?;
    let not_found = |id: String| {
        PulseError::not_found("event_not_found", format!("no event with id {id}"))
            .with_meta("eventId", id)
    };
    if !ulid::is_well_formed(&id) {
        if state.config.defects.contains(Defect::LookupMalformed400) {
            return Err(PulseError::bad_request(
                "invalid_event_id",
                "an event id is a ULID: 26 characters of upper-case Crockford base32",
            )
            .with_meta("eventId", id));
        }
        return Err(not_found(id));
    }
    let store = &state.log;
    let record = match position_of(store, &id)? {
        Some(position) => store.get(STREAM, position)?,
        None => None,
    };
    let Some(record) = record else {
        return Err(not_found(id));
    };
    // The payload is the event's JSON already; send it as stored.
    let mut response = record.payload.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `GET /health`, without authentication: `200` while the log store answers, `503` when it does not.
/// The `health-needs-auth` defect asks for the API key.
pub async fn health(State(state): State<Ctx>, headers: HeaderMap) -> Response {
    if state.config.defects.contains(Defect::HealthNeedsAuth)
        && let Err(error) = auth::check(&headers, &state)
    {
        return error.into_response();
    }
    let timestamp = super::rfc3339(now_micros());
    let replication = if state
        .config
        .defects
        .contains(Defect::HealthReplicationUnknown)
    {
        "streaming"
    } else {
        "connected"
    };
    match state.log.bounds(STREAM) {
        Ok(_) => Json(json!({
            "status": "healthy",
            "replicationStatus": replication,
            "timestamp": timestamp,
        }))
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "pulse health: the log store failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "replicationStatus": "disconnected",
                    "timestamp": timestamp,
                })),
            )
                .into_response()
        }
    }
}
