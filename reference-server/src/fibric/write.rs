//! Fibric's write path: envelopes into a tenant's log with their id index, and retention.
//!
//! Every write of Fibric goes through here, and through [`crate::log::Log`]:
//! the control API's appends, and the retention that reads run first.

use std::collections::{BTreeSet, HashMap, HashSet};

use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use super::envelope::EnvelopeInput;
use super::{ids_namespace, stream_name};
use crate::core::now_micros;
use crate::error::ApiError;
use crate::fibric::Ctx;
use crate::store::{NewRecord, Position, StreamBounds, WriteBatch};

/// The most envelopes one request appends.
pub const MAX_BATCH: usize = 1000;

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

/// Appends `inputs` in one commit, each to its tenant's log, and answers
/// (tenant, event id, position) for each, in order.
pub async fn append(
    state: &Ctx,
    inputs: Vec<EnvelopeInput>,
) -> Result<Vec<(String, String, Position)>, ApiError> {
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "append 1 to {MAX_BATCH} envelopes at a time"
        )));
    }
    let tenants: BTreeSet<&String> = state.config.fibric.keys.values().collect();
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
    let mut next: HashMap<String, Position> = HashMap::new();
    let mut batch = WriteBatch::new();
    let mut planned = Vec::with_capacity(inputs.len());
    let mut ids_in_batch = HashSet::new();
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
            || state.log.kv_get(&namespace, &event_id)?.is_some()
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
        enforce_retention(state, &stream_name(tenant)).await?;
    }
    Ok(planned)
}

/// Removes what retention no longer keeps before a read, so that an expired
/// cursor is refused even when nothing has been appended for a while.
pub async fn enforce_retention(state: &Ctx, stream: &str) -> Result<StreamBounds, ApiError> {
    let retention = state.config.fibric.retention;
    let bounds = state.log.bounds(stream)?;
    let (Some(first), Some(last)) = (bounds.first, bounds.last) else {
        return Ok(bounds);
    };
    let now = now_micros();
    let too_many = retention
        .max_records
        .is_some_and(|max| last - first + 1 > max);
    let too_old = match retention.max_age_micros {
        Some(age) => state
            .log
            .get(stream, first)?
            .is_some_and(|oldest| oldest.timestamp_micros < now.saturating_sub(age)),
        None => false,
    };
    if too_many || too_old {
        Ok(state.log.trim(stream, retention, now).await?.bounds)
    } else {
        Ok(bounds)
    }
}
