//! Pulse's control routes (`/_control/pulse/...`): declaring models and changing rows, which the seed gives no way to do.
//!
//! These stand in for the database whose changes Pulse captures. Their
//! errors take Pulse's shape; the control token itself is checked by
//! [`crate::control`], whose `401` has the server's generic shape.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::{PulseError, PulseJson};
use super::rows::RowRequest;
use super::write;
use crate::config::ModelDecl;
use crate::pulse::Ctx;

/// `POST /_control/pulse/models {name, primary_key, replica_identity?}`:
/// `201` declared, `200` already declared the same way, `409 model_exists`.
pub async fn declare_model(
    State(state): State<Ctx>,
    PulseJson(decl): PulseJson<ModelDecl>,
) -> Result<(StatusCode, Json<ModelDecl>), PulseError> {
    let status = write::declare_model(&state, decl.clone()).await?;
    Ok((status, Json(decl)))
}

/// `GET /_control/pulse/models`: every declared model, sorted by name.
pub async fn list_models(State(state): State<Ctx>) -> Json<Value> {
    Json(json!({ "data": state.api.models() }))
}

/// `POST /_control/pulse/models/{model}/rows {action, row}`: `201 {"id"}`
/// with the id of the event the change produced.
pub async fn change_row(
    State(state): State<Ctx>,
    model: Result<Path<String>, PathRejection>,
    PulseJson(request): PulseJson<RowRequest>,
) -> Result<(StatusCode, Json<Value>), PulseError> {
    let Path(model) = model?;
    let event = write::row(&state, &model, request).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": event.id }))))
}
