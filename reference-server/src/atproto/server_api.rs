//! `com.atproto.server.*`: accounts and sessions.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::account::{Account, is_handle};
use super::xrpc::{Input, Scope, XrpcError, authenticate, input, issue};
use crate::atproto::Ctx;
use crate::core::now_micros;

/// This server's base URL as the client reached it: the PDS endpoint in DID documents.
pub fn endpoint(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn now_seconds() -> u64 {
    now_micros() / 1_000_000
}

/// The session answer shared by `createAccount` and `createSession`.
fn session(state: &Ctx, account: &Account) -> serde_json::Map<String, JsonValue> {
    let config = &state.config.atproto;
    let now = now_seconds();
    let did = account.did();
    let access = issue(
        &state.api.jwt_secret,
        did,
        Scope::Access,
        now,
        config.access_validity.as_secs(),
    );
    let refresh = issue(
        &state.api.jwt_secret,
        did,
        Scope::Refresh,
        now,
        90 * 24 * 3600,
    );
    let JsonValue::Object(map) = json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": account.identity.handle,
        "did": did,
    }) else {
        unreachable!("json! of an object is an object")
    };
    map
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccount {
    handle: String,
    email: Option<String>,
    password: Option<String>,
}

pub async fn create_account(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let request: CreateAccount = input(&headers, &body)?;
    let handle = request.handle.to_ascii_lowercase();
    if !is_handle(&handle) {
        return Err(XrpcError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "InvalidHandle",
            "Input/handle must be a valid handle",
        ));
    }
    let password = request
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| XrpcError::invalid("Password is required"))?;
    let account = state
        .api
        .create_account(&state.log, &handle, request.email, &password, now_micros())
        .await?;
    let mut answer = session(&state, &account);
    answer.insert(
        "didDoc".to_owned(),
        account.identity.document(&endpoint(&headers), false),
    );
    Ok(Json(JsonValue::Object(answer)))
}

#[derive(Deserialize)]
pub struct CreateSession {
    identifier: String,
    password: String,
}

pub async fn create_session(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Input(body): Input,
) -> Result<Json<JsonValue>, XrpcError> {
    let request: CreateSession = input(&headers, &body)?;
    let repos = state.api.repos.lock().await;
    let account = repos
        .find(&request.identifier)
        .filter(|a| a.password_matches(&request.password))
        .ok_or_else(|| XrpcError::auth_required("Invalid identifier or password"))?;
    let mut answer = session(&state, account);
    answer.insert("active".to_owned(), JsonValue::Bool(account.active));
    if let Some(status) = &account.status {
        answer.insert("status".to_owned(), JsonValue::String(status.clone()));
    }
    answer.insert(
        "didDoc".to_owned(),
        account.identity.document(&endpoint(&headers), false),
    );
    Ok(Json(JsonValue::Object(answer)))
}

pub async fn get_session(
    State(state): State<Ctx>,
    headers: HeaderMap,
) -> Result<Json<JsonValue>, XrpcError> {
    let did = authenticate(
        &state.api.jwt_secret,
        &headers,
        Scope::Access,
        now_seconds(),
    )?;
    let repos = state.api.repos.lock().await;
    let account = repos
        .accounts
        .get(&did)
        .ok_or_else(|| XrpcError::auth_required("Account not found"))?;
    Ok(Json(json!({
        "handle": account.identity.handle,
        "did": did,
        "active": account.active,
        "didDoc": account.identity.document(&endpoint(&headers), false),
    })))
}

pub async fn describe_server(headers: HeaderMap) -> Json<JsonValue> {
    let endpoint = endpoint(&headers);
    let host = endpoint.trim_start_matches("http://");
    Json(json!({
        "did": format!("did:web:{}", host.split(':').next().unwrap_or(host)),
        "availableUserDomains": [".test"],
        "inviteCodeRequired": false,
        "phoneVerificationRequired": false,
        "links": {},
    }))
}

/// The DID a request's access token names, checked now.
pub fn caller(state: &Ctx, headers: &HeaderMap) -> Result<String, XrpcError> {
    authenticate(&state.api.jwt_secret, headers, Scope::Access, now_seconds())
}
