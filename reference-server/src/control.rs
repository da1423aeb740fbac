//! The `/_control/` API: what the seeds give no write path for, behind a bearer token.
//!
//! This module holds the parts that belong to no single API: server info, the
//! defects switched on, and a scratch log (streams named `scratch.*`) that
//! exercises the store end to end, which is what the crash test uses. Each
//! API adds its own control routes in its own module.

use axum::extract::{Path, Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Storage;
use crate::core::{Core, now_micros};
use crate::error::{ApiError, JsonBody};
use crate::store::{NewRecord, ReadLimit, WriteBatch};

/// Streams the scratch log may touch; the APIs' own streams are off limits.
pub const SCRATCH_PREFIX: &str = "scratch.";
/// The most records one scratch read returns.
pub const MAX_SCRATCH_READ: usize = 1000;
/// The most records one scratch append takes.
pub const MAX_SCRATCH_BATCH: usize = 1000;

/// The control routes, with each API's own under `/<api>`, all behind the token.
pub fn routes(core: Core, apis: Vec<(&'static str, Router<Core>)>) -> Router<Core> {
    let mut router = Router::new()
        .route("/info", get(info))
        .route("/defects", get(defects))
        .route("/stats", get(stats))
        .route("/disconnect", post(disconnect))
        .route("/log/{stream}", get(read_scratch).post(append_scratch));
    for (api, routes) in apis {
        router = router.nest(&format!("/{api}"), routes);
    }
    router.layer(middleware::from_fn_with_state(core, require_token))
}

/// Checks `Authorization: Bearer <control token>` on every control route.
async fn require_token(
    State(state): State<Core>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if token == state.config.control_token => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized("wrong control token")),
        None => Err(ApiError::unauthorized(
            "the control API needs Authorization: Bearer <control token>",
        )),
    }
}

async fn info(State(state): State<Core>) -> Json<Value> {
    let storage = match &state.config.storage {
        Storage::Memory => "memory",
        Storage::Durable(_) => "durable",
    };
    Json(json!({
        "server": "reference-server",
        "version": env!("CARGO_PKG_VERSION"),
        "storage": storage,
    }))
}

async fn defects(State(state): State<Core>) -> Json<Value> {
    let names: Vec<&str> = state.config.defects.iter().map(|d| d.name()).collect();
    Json(json!({ "defects": names }))
}

async fn stats(State(state): State<Core>) -> Json<Value> {
    Json(json!({ "subscribers": state.hub.stats() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectBody {
    /// One API, or every API when absent.
    api: Option<String>,
}

/// The APIs whose streams `POST /_control/disconnect` can end.
const STREAMING_APIS: &[&str] = &["fibric", "pulse", "actyx", "fauna", "atproto"];

/// Ends the open streams of one API (or all), as a deploy would; clients reconnect.
async fn disconnect(
    State(state): State<Core>,
    JsonBody(body): JsonBody<DisconnectBody>,
) -> Result<Json<Value>, ApiError> {
    let apis: Vec<&'static str> = match body.api.as_deref() {
        None => STREAMING_APIS.to_vec(),
        Some(name) => match STREAMING_APIS.iter().find(|api| **api == name) {
            Some(api) => vec![*api],
            None => {
                return Err(ApiError::bad_request(format!(
                    "api must be one of {}",
                    STREAMING_APIS.join(", ")
                )));
            }
        },
    };
    for api in &apis {
        state.hub.disconnect(api);
    }
    Ok(Json(json!({ "disconnected": apis })))
}

fn scratch_stream(stream: &str) -> Result<(), ApiError> {
    if stream.starts_with(SCRATCH_PREFIX) && stream.len() > SCRATCH_PREFIX.len() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "the scratch log only takes streams named {SCRATCH_PREFIX}<name>, not {stream:?}"
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendBody {
    records: Vec<Value>,
}

async fn append_scratch(
    State(state): State<Core>,
    Path(stream): Path<String>,
    JsonBody(body): JsonBody<AppendBody>,
) -> Result<Json<Value>, ApiError> {
    scratch_stream(&stream)?;
    if body.records.is_empty() || body.records.len() > MAX_SCRATCH_BATCH {
        return Err(ApiError::bad_request(format!(
            "records must hold 1 to {MAX_SCRATCH_BATCH} values"
        )));
    }
    let now = now_micros();
    let mut batch = WriteBatch::new();
    for record in &body.records {
        batch.append(
            &stream,
            NewRecord {
                timestamp_micros: now,
                payload: record.to_string().into_bytes(),
            },
        );
    }
    let committed = state.log.commit(batch).await?;
    Ok(Json(json!({ "positions": committed.positions })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

async fn read_scratch(
    State(state): State<Core>,
    Path(stream): Path<String>,
    query: Result<Query<ReadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    scratch_stream(&stream)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query
        .limit
        .unwrap_or(MAX_SCRATCH_READ)
        .clamp(1, MAX_SCRATCH_READ);
    let batch = state
        .log
        .read_after(
            &stream,
            query.after,
            ReadLimit::records(limit),
            Box::new(|_| true),
        )
        .await?;
    let bounds = state.log.bounds(&stream)?;
    let records: Vec<Value> = batch
        .records
        .iter()
        .map(|r| {
            let payload = serde_json::from_slice::<Value>(&r.payload).unwrap_or(Value::Null);
            json!({"position": r.position, "timestamp_micros": r.timestamp_micros, "payload": payload})
        })
        .collect();
    Ok(Json(json!({
        "records": records,
        "scanned_to": batch.scanned_to,
        "reached_end": batch.reached_end,
        "bounds": {"first": bounds.first, "last": bounds.last, "next": bounds.next},
    })))
}
