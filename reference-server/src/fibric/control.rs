//! `POST /_control/fibric/envelopes`: append one envelope or a batch, and answer each one's event id and cursor.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::cursor::Cursor;
use super::envelope::EnvelopeInput;
use super::filter::FilterSet;
use super::{ids_namespace, stream_name};
use crate::core::now_micros;
use crate::error::{ApiError, JsonBody};
use crate::fibric::Ctx;
use crate::store::{NewRecord, Position, WriteBatch};

/// The most envelopes one request appends.
pub const MAX_BATCH: usize = 1000;

/// A body is either one envelope or `{"envelopes": [...]}`.
fn inputs(body: Value) -> Result<Vec<EnvelopeInput>, ApiError> {
    let decode = |value: Value| {
        serde_json::from_value::<EnvelopeInput>(value)
            .map_err(|e| ApiError::bad_request(format!("bad envelope: {e}")))
    };
    match body {
        Value::Object(mut map) if map.contains_key("envelopes") => {
            if map.len() > 1 {
                return Err(ApiError::bad_request(
                    "a batch body holds only \"envelopes\"",
                ));
            }
            match map.remove("envelopes") {
                Some(Value::Array(items)) => items.into_iter().map(decode).collect(),
                _ => Err(ApiError::bad_request("envelopes must be an array")),
            }
        }
        single @ Value::Object(_) => Ok(vec![decode(single)?]),
        _ => Err(ApiError::bad_request(
            "the body must be an envelope or {\"envelopes\": [...]}",
        )),
    }
}

/// A fresh event id: unique because the position in the tenant's log is never reused.
fn new_event_id(tenant: &str, position: Position, now: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_bytes());
    hasher.update(position.to_le_bytes());
    hasher.update(now.to_le_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ev_{hex}")
}

pub async fn append(
    State(state): State<Ctx>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let inputs = inputs(body)?;
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "append 1 to {MAX_BATCH} envelopes at a time"
        )));
    }
    let tenants: std::collections::BTreeSet<&String> = state.config.fibric.keys.values().collect();
    for (index, input) in inputs.iter().enumerate() {
        if let Some(problem) = input.problem() {
            return Err(ApiError::bad_request(format!(
                "envelope {index}: {problem}"
            )));
        }
        if !tenants.contains(&input.tenant_id) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_tenant",
                format!(
                    "envelope {index}: no API key maps to tenant {:?}",
                    input.tenant_id
                ),
            ));
        }
    }
    let now = now_micros();
    // Positions must be known before the commit, because the id index is
    // written in the same commit; appends are serialised to make that true.
    let _guard = state.api.append_lock.lock().await;
    let mut next: std::collections::HashMap<String, Position> = std::collections::HashMap::new();
    let mut batch = WriteBatch::new();
    let mut planned = Vec::with_capacity(inputs.len());
    let mut ids_in_batch = std::collections::HashSet::new();
    for input in inputs {
        let tenant = input.tenant_id.clone();
        let stream = stream_name(&tenant);
        let position = match next.get(&tenant) {
            Some(position) => *position,
            None => state.log.bounds(&stream)?.next,
        };
        next.insert(tenant.clone(), position + 1);
        let event_id = match &input.event_id {
            Some(id) => id.clone(),
            None => new_event_id(&tenant, position, now),
        };
        let namespace = ids_namespace(&tenant);
        if !ids_in_batch.insert((tenant.clone(), event_id.clone()))
            || state.log.store().kv_get(&namespace, &event_id)?.is_some()
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_event_id",
                format!("event_id {event_id:?} already exists for tenant {tenant}"),
            ));
        }
        let stored = input.into_stored(event_id.clone());
        let payload = serde_json::to_vec(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
        batch.append(
            &stream,
            NewRecord {
                timestamp_micros: now,
                payload,
            },
        );
        batch.put(&namespace, &event_id, position.to_le_bytes().to_vec());
        planned.push((tenant, event_id, position));
    }
    let committed = state.log.commit(batch).await?;
    let assigned: Vec<Position> = planned.iter().map(|(_, _, p)| *p).collect();
    if committed.positions != assigned {
        tracing::error!(?assigned, got = ?committed.positions, "fibric positions moved under the append lock");
        return Err(ApiError::internal("positions changed during the append"));
    }
    for tenant in next.keys() {
        super::api::enforce_retention(&state, &stream_name(tenant)).await?;
    }
    let answers: Vec<Value> = planned
        .iter()
        .map(|(tenant, event_id, position)| {
            let cursor = Cursor {
                position: *position,
                binding: FilterSet::default().binding(tenant),
            };
            json!({"event_id": event_id, "tenant_id": tenant, "cursor": cursor.encode()})
        })
        .collect();
    Ok((StatusCode::CREATED, Json(json!({ "envelopes": answers }))))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimBody {
    tenant_id: String,
    keep_last: u64,
}

/// `POST /_control/fibric/trim {tenant_id, keep_last}`: retention now, keeping
/// only the newest `keep_last` envelopes of a tenant; the way to age a log on
/// purpose (an expired-cursor test).
pub async fn trim(
    State(state): State<Ctx>,
    JsonBody(body): JsonBody<TrimBody>,
) -> Result<Json<Value>, ApiError> {
    if !state
        .config
        .fibric
        .keys
        .values()
        .any(|t| *t == body.tenant_id)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_tenant",
            format!("no API key maps to tenant {:?}", body.tenant_id),
        ));
    }
    let retention = crate::store::Retention {
        max_age_micros: None,
        max_records: Some(body.keep_last),
    };
    let trimmed = state
        .log
        .trim(&stream_name(&body.tenant_id), retention, now_micros())
        .await?;
    Ok(Json(json!({"removed": trimmed.removed})))
}
