//! `com.atproto.identity.updateHandle`, `com.atproto.server.deactivateAccount` and `activateAccount`: the writes that announce `#identity` and `#account`.
//!
//! As on the PDS: `updateHandle {handle}` takes a handle under `.test`
//! (this server's user domain) and answers an empty 200 after the
//! `#identity` frame with the new handle is committed; `deactivateAccount
//! {deleteAfter?}` emits `#account {active: false, status: "deactivated"}`
//! and refuses the account's writes until `activateAccount` (no input)
//! emits `#account {active: true}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::account::is_handle;
use super::server_api::caller;
use super::xrpc::{Input, XrpcError, input};
use crate::atproto::Ctx;
use crate::core::now_micros;

#[derive(Deserialize)]
pub struct UpdateHandle {
    handle: String,
}

pub async fn update_handle(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let did = caller(&state, &headers)?;
    let request: UpdateHandle = input(&headers, &body)?;
    let handle = request.handle.to_ascii_lowercase();
    if !is_handle(&handle) || !handle.ends_with(".test") {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidHandle",
            "Input/handle must be a valid handle under .test",
        ));
    }
    state
        .api
        .set_handle(&state.log, &did, &handle, now_micros())
        .await?;
    Ok(Json(json!({})))
}

/// `deactivateAccount`'s input: `deleteAfter` is accepted and not acted on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deactivate {
    #[serde(rename = "deleteAfter")]
    _delete_after: Option<String>,
}

pub async fn deactivate_account(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let did = caller(&state, &headers)?;
    if !body.is_empty() {
        let _: Deactivate = input(&headers, &body)?;
    }
    let status = Some("deactivated".to_owned());
    state
        .api
        .set_status(&state.log, &did, false, status, now_micros())
        .await?;
    Ok(Json(json!({})))
}

pub async fn activate_account(
    State(state): State<Ctx>,
    headers: HeaderMap,
) -> Result<Json<JsonValue>, XrpcError> {
    let did = caller(&state, &headers)?;
    state
        .api
        .set_status(&state.log, &did, true, None, now_micros())
        .await?;
    Ok(Json(json!({})))
}
