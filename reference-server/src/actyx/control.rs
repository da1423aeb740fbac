//! `/_control/actyx`: simulated replication from other nodes.
//!
//! `POST /replicate {stream, events: [{offset, lamport, tags?, appId?,
//! payload?, timestamp?}], announce?}` stores events of another node's
//! stream as if the swarm had delivered them (offsets must continue the
//! stream and lamports must grow along it, else `409 offset_conflict`), and `announce` raises the offset the swarm claims for it, which
//! `toReplicate` reports until the events arrive. The answer is the node's
//! offsets and its Lamport clock.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::StreamId;
use super::node::{ForeignEvent, WriteError};
use crate::actyx::Ctx;
use crate::core::now_micros;
use crate::error::{ApiError, JsonBody};

/// The most events one replicate call takes.
pub const MAX_REPLICATE_BATCH: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replicate {
    stream: String,
    #[serde(default)]
    events: Vec<ForeignEvent>,
    #[serde(default)]
    announce: Option<u64>,
}

pub async fn replicate(
    State(state): State<Ctx>,
    JsonBody(request): JsonBody<Replicate>,
) -> Result<Json<Value>, ApiError> {
    let stream: StreamId = request.stream.parse().map_err(ApiError::bad_request)?;
    if request.events.len() > MAX_REPLICATE_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_REPLICATE_BATCH} events per call"
        )));
    }
    for event in &request.events {
        if event.tags.iter().any(String::is_empty) {
            return Err(ApiError::bad_request("tags must not be empty"));
        }
        super::auth::valid_app_id(&event.app_id)
            .map_err(|e| ApiError::bad_request(format!("appId {:?}: {e}", event.app_id)))?;
    }
    let node = &state.api.node;
    node.replicate(
        &state.log,
        stream,
        request.events,
        request.announce,
        now_micros(),
    )
    .await
    .map_err(|error| match error {
        WriteError::Invalid(message) => ApiError::bad_request(message),
        WriteError::Conflict(message) => {
            ApiError::new(StatusCode::CONFLICT, "offset_conflict", message)
        }
        WriteError::Store(error) => ApiError::from(error),
    })?;
    let present: serde_json::Map<String, Value> = node
        .present()
        .iter()
        .map(|(s, o)| (s.to_string(), json!(o)))
        .collect();
    Ok(Json(
        json!({"present": present, "lamport": node.lamport().await}),
    ))
}
