//! `com.atproto.repo.*`: record writes (one signed commit each) and `getRecord`.
//!
//! As on the PDS: `repo` is the caller's DID or handle; a record without
//! `$type` gets the collection, one with another `$type` is refused; an
//! absent `rkey` becomes a TID; deleting a missing record is a no-op without
//! a commit. `swapRecord` is refused as not supported (it would need the
//! record compared under the writer lock); `swapCommit` is honoured.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use wire::cbor::{DecodeLimits, Value, decode};
use wire::cbor::{record_from_atproto_json, to_atproto_json};

use super::account::{is_nsid, is_record_key};
use super::repo::{Applied, Write};
use super::server_api::caller;
use super::tid::tid;
use super::writer::State as Atproto;
use super::xrpc::{Input, XrpcError, input};
use crate::atproto::Ctx;
use crate::core::now_micros;

/// A TID for a new record key, later than every one handed out before.
fn next_tid() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_micros();
    let micros = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .map_or(now, |last| now.max(last + 1));
    tid(micros, 0)
}

/// The DID `repo` names, which must be the caller's.
async fn own_repo(state: &Ctx, headers: &HeaderMap, repo: &str) -> Result<String, XrpcError> {
    let did = caller(state, headers)?;
    let repos = state.api.repos.lock().await;
    let named = repos.find(repo).map(|a| a.did().to_owned());
    match named {
        Some(named) if named == did => Ok(did),
        Some(_) => Err(XrpcError::auth_required(
            "Cannot write to another repository",
        )),
        None => Err(XrpcError::invalid(format!("Could not find repo: {repo}"))),
    }
}

fn path(collection: &str, rkey: &str) -> Result<String, XrpcError> {
    if !is_nsid(collection) {
        return Err(XrpcError::invalid(format!(
            "Invalid collection: {collection}"
        )));
    }
    if !is_record_key(rkey) {
        return Err(XrpcError::invalid(format!("Invalid record key: {rkey}")));
    }
    Ok(format!("{collection}/{rkey}"))
}

/// The record as DAG-CBOR, with `$type` checked against (or set to) the collection.
fn record(collection: &str, json: &JsonValue) -> Result<Value, XrpcError> {
    let mut value = record_from_atproto_json(json)
        .map_err(|e| XrpcError::invalid(format!("Invalid record: {e}")))?;
    if let Value::Map(fields) = &mut value {
        match fields.get("$type") {
            None => {
                fields.insert("$type".to_owned(), Value::String(collection.to_owned()));
            }
            Some(Value::String(t)) if t == collection => {}
            Some(other) => {
                return Err(XrpcError::invalid(format!(
                    "Invalid $type: expected {collection}, got {}",
                    to_atproto_json(other)
                )));
            }
        }
    }
    Ok(value)
}

fn refuse_swap_record(swap: Option<&JsonValue>) -> Result<(), XrpcError> {
    match swap {
        None | Some(JsonValue::Null) => Ok(()),
        Some(_) => Err(XrpcError::invalid(
            "swapRecord is not supported by the reference server",
        )),
    }
}

fn commit_meta(applied: &Applied) -> JsonValue {
    json!({"cid": applied.commit.to_string(), "rev": applied.rev})
}

async fn write(
    state: &Ctx,
    did: &str,
    writes: &[Write],
    swap_commit: Option<&str>,
) -> Result<Applied, XrpcError> {
    Atproto::commit(
        &state.api,
        &state.log,
        did,
        writes,
        swap_commit,
        now_micros(),
    )
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordInput {
    repo: String,
    collection: String,
    rkey: Option<String>,
    record: Option<JsonValue>,
    swap_commit: Option<String>,
    swap_record: Option<JsonValue>,
}

pub async fn create_record(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    write_record(&state, &headers, &body, false).await
}

pub async fn put_record(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    write_record(&state, &headers, &body, true).await
}

/// `createRecord` (a new record; the rkey defaults to a TID) or `putRecord` (create or update).
async fn write_record(
    state: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    put: bool,
) -> Result<Json<JsonValue>, XrpcError> {
    let request: RecordInput = input(headers, body)?;
    refuse_swap_record(request.swap_record.as_ref())?;
    let did = own_repo(state, headers, &request.repo).await?;
    let rkey = match request.rkey {
        Some(rkey) => rkey,
        None if put => return Err(XrpcError::invalid("Input must have the property \"rkey\"")),
        None => next_tid(),
    };
    let path = path(&request.collection, &rkey)?;
    let json = request
        .record
        .ok_or_else(|| XrpcError::invalid("Input must have the property \"record\""))?;
    let record = record(&request.collection, &json)?;
    let write = if put {
        Write::Put {
            path: path.clone(),
            record,
        }
    } else {
        Write::Create {
            path: path.clone(),
            record,
        }
    };
    let applied = self::write(state, &did, &[write], request.swap_commit.as_deref()).await?;
    Ok(Json(json!({
        "uri": format!("at://{did}/{path}"),
        "cid": applied.ops[0].cid.map(|c| c.to_string()),
        "commit": commit_meta(&applied),
        "validationStatus": "unknown",
    })))
}

pub async fn delete_record(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let request: RecordInput = input(&headers, &body)?;
    refuse_swap_record(request.swap_record.as_ref())?;
    let did = own_repo(&state, &headers, &request.repo).await?;
    let rkey = request
        .rkey
        .ok_or_else(|| XrpcError::invalid("Input must have the property \"rkey\""))?;
    let path = path(&request.collection, &rkey)?;
    let exists = {
        let repos = state.api.repos.lock().await;
        repos
            .repos
            .get(&did)
            .and_then(|r| r.record(&path))
            .is_some()
    };
    if !exists {
        return Ok(Json(json!({})));
    }
    let writes = [Write::Delete { path }];
    match write(&state, &did, &writes, request.swap_commit.as_deref()).await {
        Ok(applied) => Ok(Json(json!({"commit": commit_meta(&applied)}))),
        // Deleted by another request in between: still a no-op.
        Err(e) if e.message.ends_with("does not exist") => Ok(Json(json!({}))),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyWrites {
    repo: String,
    writes: Vec<JsonValue>,
    swap_commit: Option<String>,
}

pub async fn apply_writes(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let request: ApplyWrites = input(&headers, &body)?;
    let did = own_repo(&state, &headers, &request.repo).await?;
    let mut writes = Vec::with_capacity(request.writes.len());
    let mut kinds = Vec::with_capacity(request.writes.len());
    for item in &request.writes {
        let kind = item["$type"].as_str().unwrap_or_default();
        let collection = item["collection"].as_str().unwrap_or_default();
        let rkey = item["rkey"].as_str().map(str::to_owned);
        let write = match kind {
            "com.atproto.repo.applyWrites#create" => {
                let path = path(collection, &rkey.unwrap_or_else(next_tid))?;
                Write::Create {
                    record: record(collection, &item["value"])?,
                    path,
                }
            }
            "com.atproto.repo.applyWrites#update" => {
                let rkey = rkey.ok_or_else(|| XrpcError::invalid("An update needs an rkey"))?;
                Write::Update {
                    path: path(collection, &rkey)?,
                    record: record(collection, &item["value"])?,
                }
            }
            "com.atproto.repo.applyWrites#delete" => {
                let rkey = rkey.ok_or_else(|| XrpcError::invalid("A delete needs an rkey"))?;
                Write::Delete {
                    path: path(collection, &rkey)?,
                }
            }
            other => {
                return Err(XrpcError::invalid(format!(
                    "Invalid write $type: {other:?}"
                )));
            }
        };
        kinds.push(kind.rsplit_once('#').map_or("", |(_, k)| k));
        writes.push(write);
    }
    let applied = write(&state, &did, &writes, request.swap_commit.as_deref()).await?;
    let results: Vec<JsonValue> = writes
        .iter()
        .zip(&kinds)
        .map(|(write, kind)| {
            let cid = applied
                .ops
                .iter()
                .find(|op| op.path == write.path())
                .and_then(|op| op.cid);
            match *kind {
                "delete" => json!({"$type": "com.atproto.repo.applyWrites#deleteResult"}),
                kind => json!({
                    "$type": format!("com.atproto.repo.applyWrites#{kind}Result"),
                    "uri": format!("at://{did}/{}", write.path()),
                    "cid": cid.map(|c| c.to_string()),
                    "validationStatus": "unknown",
                }),
            }
        })
        .collect();
    Ok(Json(
        json!({"commit": commit_meta(&applied), "results": results}),
    ))
}

#[derive(Deserialize)]
pub struct GetRecord {
    repo: String,
    collection: String,
    rkey: String,
}

pub async fn get_record(
    State(state): State<Ctx>,
    Query(query): Query<GetRecord>,
) -> Result<Json<JsonValue>, XrpcError> {
    let path = path(&query.collection, &query.rkey)?;
    let did = {
        let repos = state.api.repos.lock().await;
        repos
            .find(&query.repo)
            .map(|a| a.did().to_owned())
            .ok_or_else(|| XrpcError::invalid(format!("Could not find repo: {}", query.repo)))?
    };
    let not_found = || {
        XrpcError::new(
            StatusCode::BAD_REQUEST,
            "RecordNotFound",
            format!("Could not locate record: at://{did}/{path}"),
        )
    };
    let block = Atproto::record_block(&state.log, &did, &path)?.ok_or_else(not_found)?;
    let value = decode(&block, &DecodeLimits::default()).map_err(|_| not_found())?;
    Ok(Json(json!({
        "uri": format!("at://{did}/{path}"),
        "cid": wire::cid::Cid::for_dag_cbor(&block).to_string(),
        "value": to_atproto_json(&value),
    })))
}
