//! `/_control/atproto`: account status and labels.
//!
//! - `POST /accounts/{did}/status {active, status?}` → `{seq}`: `#account`
//!   (`status` is `deactivated`, `suspended`, `takendown` or `deleted`).
//! - `POST /labels {uri, val, cid?, neg?, exp?, src?}` → `{seq, label}`: a
//!   `#labels` frame with the label signed by `src`'s label key (an account's
//!   DID, or the server's labeler when absent).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use wire::cbor::Value;
use wire::cbor::to_atproto_json;
use wire::cid::Cid;

use super::events;
use super::xrpc::XrpcError;
use crate::atproto::Ctx;
use crate::core::now_micros;
use crate::error::{ApiError, JsonBody};

fn api_error(error: XrpcError) -> ApiError {
    ApiError::new(error.status, "invalid_request", error.message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    active: bool,
    status: Option<String>,
}

pub async fn set_status(
    State(state): State<Ctx>,
    Path(did): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<JsonValue>, ApiError> {
    const STATUSES: [&str; 4] = ["deactivated", "suspended", "takendown", "deleted"];
    let status = match (body.active, body.status) {
        (true, _) => None,
        (false, None) => Some("deactivated".to_owned()),
        (false, Some(s)) if STATUSES.contains(&s.as_str()) => Some(s),
        (false, Some(s)) => {
            return Err(ApiError::bad_request(format!(
                "status {s:?} is not one of {}",
                STATUSES.join(", ")
            )));
        }
    };
    let seq = state
        .api
        .set_status(&state.log, &did, body.active, status, now_micros())
        .await
        .map_err(api_error)?;
    Ok(Json(json!({"seq": seq})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    uri: String,
    val: String,
    cid: Option<String>,
    #[serde(default)]
    neg: bool,
    exp: Option<String>,
    src: Option<String>,
}

pub async fn create_label(
    State(state): State<Ctx>,
    JsonBody(body): JsonBody<LabelBody>,
) -> Result<Json<JsonValue>, ApiError> {
    if body.val.is_empty() || body.val.len() > 128 {
        return Err(ApiError::bad_request("val must be 1 to 128 bytes"));
    }
    if !(body.uri.starts_with("at://") || body.uri.starts_with("did:")) {
        return Err(ApiError::bad_request("uri must be an at:// URI or a DID"));
    }
    let (src, key) = match &body.src {
        None => (
            state.api.labeler.did.clone(),
            state.api.label_key(&state.api.labeler),
        ),
        Some(did) => {
            let repos = state.api.repos.lock().await;
            let account = repos
                .accounts
                .get(did)
                .ok_or_else(|| ApiError::not_found(format!("no account {did}")))?;
            (did.clone(), state.api.label_key(&account.identity))
        }
    };
    let now = now_micros();
    let mut label = BTreeMap::from([
        ("ver".to_owned(), Value::Integer(1)),
        ("src".to_owned(), Value::String(src)),
        ("uri".to_owned(), Value::String(body.uri)),
        ("val".to_owned(), Value::String(body.val)),
        ("cts".to_owned(), Value::String(events::time(now))),
    ]);
    if let Some(cid) = body.cid {
        let cid =
            Cid::parse_any_base(&cid).map_err(|e| ApiError::bad_request(format!("cid: {e}")))?;
        label.insert("cid".to_owned(), Value::String(cid.to_string()));
    }
    if body.neg {
        label.insert("neg".to_owned(), Value::Bool(true));
    }
    if let Some(exp) = body.exp {
        label.insert("exp".to_owned(), Value::String(exp));
    }
    let (seq, label) = state
        .api
        .label(&state.log, label, &key, now)
        .await
        .map_err(api_error)?;
    Ok(Json(json!({"seq": seq, "label": to_atproto_json(&label)})))
}
