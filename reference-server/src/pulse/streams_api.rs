//! Named streams over HTTP: `POST /streams`, `GET /streams`, `DELETE /streams/{name}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::Authorized;
use super::error::{PulseError, SeedJson};
use super::streams::{
    CreateRequest, STREAMS_NS, StreamDef, check_model_and_filter, info, not_found, validate_name,
};
use super::write;
use crate::pulse::Ctx;

/// `POST /streams`: `201` StreamInfo, `400`, `409 stream_exists` (under the
/// `duplicate-stream-created` defect, `201` and the stream is replaced).
pub async fn create(
    Authorized(environment): Authorized,
    State(state): State<Ctx>,
    SeedJson(request): SeedJson<CreateRequest>,
) -> Result<Response, PulseError> {
    validate_name(&request.name)?;
    check_model_and_filter(&state, &request.model, request.filter.as_ref())?;
    let key = environment
        .key(&request.name)
        .ok_or_else(|| PulseError::internal("a valid stream name has no '/'"))?;
    let def = write::create_stream(&state, &key, request).await?;
    let info = info(&state, &key, &def)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /streams`: every stream of the key's environment, sorted by name.
pub async fn list(
    Authorized(environment): Authorized,
    State(state): State<Ctx>,
) -> Result<Json<Value>, PulseError> {
    let mut data = Vec::new();
    for (key, bytes) in state.log.kv_scan(STREAMS_NS)? {
        if !environment.owns(&key) {
            continue;
        }
        let def: StreamDef = serde_json::from_slice(&bytes)
            .map_err(|error| PulseError::internal(format!("stored stream {key:?}: {error}")))?;
        data.push(info(&state, &key, &def)?);
    }
    data.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(serde_json::json!({ "data": data })))
}

/// `DELETE /streams/{name}`: `204`, or `404 stream_not_found` (also for a
/// stream of another environment). Ends the
/// stream's consumer (not under `delete-keeps-consumer`) and forgets its
/// cursor, so the name starts fresh when reused.
pub async fn delete(
    Authorized(environment): Authorized,
    State(state): State<Ctx>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, PulseError> {
    let Path(name) = name?;
    let key = environment.key(&name).ok_or_else(|| not_found(&name))?;
    write::delete_stream(&state, &key, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
