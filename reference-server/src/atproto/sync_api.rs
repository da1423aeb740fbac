//! `com.atproto.sync.getLatestCommit` and `getRepo`, the directory `GET /_plc/{did}`, and unknown XRPC methods.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use wire::car::write_car;
use wire::cid::Cid;

use super::server_api::endpoint;
use super::writer::State as Atproto;
use super::xrpc::XrpcError;
use crate::atproto::Ctx;

#[derive(Deserialize)]
pub struct DidQuery {
    did: Option<String>,
}

fn repo_not_found(did: &str) -> XrpcError {
    XrpcError::new(
        StatusCode::BAD_REQUEST,
        "RepoNotFound",
        format!("Could not find repo for DID: {did}"),
    )
}

fn did_param(query: DidQuery) -> Result<String, XrpcError> {
    query
        .did
        .ok_or_else(|| XrpcError::invalid("Params must have the property \"did\""))
}

pub async fn get_latest_commit(
    State(state): State<Ctx>,
    Query(query): Query<DidQuery>,
) -> Result<Json<JsonValue>, XrpcError> {
    let did = did_param(query)?;
    let repos = state.api.repos.lock().await;
    let (cid, _) = repos
        .repos
        .get(&did)
        .and_then(|r| r.commit())
        .ok_or_else(|| repo_not_found(&did))?;
    let rev = repos.repos[&did].rev().unwrap_or_default();
    Ok(Json(json!({"cid": cid.to_string(), "rev": rev})))
}

/// The whole repository as a CAR: the commit (root), every MST node, every record.
pub async fn get_repo(
    State(state): State<Ctx>,
    Query(query): Query<DidQuery>,
) -> Result<Response, XrpcError> {
    let did = did_param(query)?;
    // Read under the writer lock, so that the records are the ones the tree names.
    let (commit, blocks) = {
        let repos = state.api.repos.lock().await;
        let repo = repos.repos.get(&did).ok_or_else(|| repo_not_found(&did))?;
        let (cid, block) = repo.commit().ok_or_else(|| repo_not_found(&did))?;
        let mut blocks: Vec<(Cid, Vec<u8>)> = vec![(*cid, block.to_vec())];
        blocks.extend(repo.tree_blocks());
        for path in repo.records().keys() {
            let block = Atproto::record_block(&state.log, &did, path)?.ok_or_else(|| {
                XrpcError::from(crate::store::StoreError::Engine(format!(
                    "record {path} of {did} is missing"
                )))
            })?;
            blocks.push((Cid::for_dag_cbor(&block), block));
        }
        (*cid, blocks)
    };
    let car = write_car(&[commit], &blocks);
    Ok(([(header::CONTENT_TYPE, "application/vnd.ipld.car")], car).into_response())
}

/// `GET /_plc/{did}`: the DID document, as a PLC directory serves it.
pub async fn did_document(
    State(state): State<Ctx>,
    Path(did): Path<String>,
    headers: HeaderMap,
) -> Response {
    let endpoint = endpoint(&headers);
    if did == state.api.labeler.did {
        return Json(state.api.labeler.document(&endpoint, true)).into_response();
    }
    let repos = state.api.repos.lock().await;
    match repos.accounts.get(&did) {
        Some(account) => Json(account.identity.document(&endpoint, false)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("DID not registered: {did}")})),
        )
            .into_response(),
    }
}

/// `GET /{did}`: the same, at the root, because `@atproto/identity` resolves
/// `/{did}` against its `plcUrl` and so drops any path the URL has. Other
/// single-segment paths stay unknown.
pub async fn did_document_at_root(
    state: State<Ctx>,
    Path(did): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if did.starts_with("did:plc:") {
        did_document(state, Path(did), headers).await
    } else {
        crate::error::not_found(uri).await.into_response()
    }
}

pub async fn unknown() -> XrpcError {
    XrpcError::new(
        StatusCode::NOT_IMPLEMENTED,
        "MethodNotImplemented",
        "Method Not Implemented",
    )
}
