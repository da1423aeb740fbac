//! The `/_control/fibric` handlers: append one envelope or a batch (through [`super::write`]) and answer each one's event id and cursor; trim a tenant's log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::cursor::Cursor;
use super::envelope::EnvelopeInput;
use super::filter::FilterSet;
use super::stream_name;
use super::write;
use crate::core::now_micros;
use crate::error::{ApiError, JsonBody};
use crate::fibric::Ctx;

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

/// `POST /_control/fibric/envelopes`.
pub async fn append(
    State(state): State<Ctx>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let planned = write::append(&state, inputs(body)?).await?;
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
