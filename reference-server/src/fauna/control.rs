//! `/_control/fauna`: collections, document writes and event source tokens without FQL.
//!
//! - `POST /collections {database?, name, history_days?}` → `201` the definition
//! - `POST /documents {database?, collection, op: create|update|replace|delete, id?, data?}`
//!   → `200 {id, txn_ts, document?}`; `DELETE /documents/{collection}/{id}` deletes
//! - `POST /tokens {database?, collection, where?: {path, value}, document?}` → `{token}`
//!
//! `database` defaults to the first configured one (`main` by default).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::db::{self, DbError, Write};
use super::fql::SourceSpec;
use super::source::Claims;
use crate::core::now_micros;
use crate::error::{ApiError, JsonBody};
use crate::fauna::Ctx;

fn database(state: &Ctx, name: Option<String>) -> Result<(String, String), ApiError> {
    let keys = &state.config.fauna.keys;
    let wanted = match name {
        Some(name) => name,
        None => keys
            .values()
            .min()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("no Fauna database is configured"))?,
    };
    keys.iter()
        .find(|(_, db)| **db == wanted)
        .map(|(secret, db)| (db.clone(), secret.clone()))
        .ok_or_else(|| ApiError::not_found(format!("no Fauna database named {wanted}")))
}

fn db_error(error: DbError) -> ApiError {
    match error {
        DbError::NoCollection(_) | DbError::NoDocument(..) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        DbError::CollectionExists(_) => {
            ApiError::new(StatusCode::CONFLICT, "exists", error.to_string())
        }
        DbError::BadName(_) => ApiError::bad_request(error.to_string()),
        DbError::Store(error) => ApiError::from(error),
        DbError::Corrupt(message) => ApiError::internal(message),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    database: Option<String>,
    name: String,
    history_days: Option<u64>,
}

pub async fn create_collection(
    State(state): State<Ctx>,
    JsonBody(request): JsonBody<NewCollection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (db, _) = database(&state, request.database)?;
    let mut writer = state.api.writer.lock().await;
    let def = writer
        .create_collection(
            &state.log,
            &db,
            &request.name,
            request.history_days,
            now_micros(),
        )
        .await
        .map_err(db_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"database": db, "name": request.name, "history_days": def.history_days})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentWrite {
    database: Option<String>,
    collection: String,
    op: Op,
    id: Option<String>,
    #[serde(default)]
    data: Map<String, Value>,
}

pub async fn write(
    State(state): State<Ctx>,
    JsonBody(request): JsonBody<DocumentWrite>,
) -> Result<Json<Value>, ApiError> {
    let (db, _) = database(&state, request.database)?;
    let change = match request.op {
        Op::Create => Write::Create(request.data),
        Op::Update => Write::Update(request.data),
        Op::Replace => Write::Replace(request.data),
        Op::Delete => Write::Delete,
    };
    if !matches!(change, Write::Create(_)) && request.id.is_none() {
        return Err(ApiError::bad_request(
            "update, replace and delete need an id",
        ));
    }
    apply(
        &state,
        &db,
        &request.collection,
        request.id.as_deref(),
        change,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct DatabaseParam {
    database: Option<String>,
}

pub async fn remove(
    State(state): State<Ctx>,
    Path((collection, id)): Path<(String, String)>,
    Query(param): Query<DatabaseParam>,
) -> Result<Json<Value>, ApiError> {
    let (db, _) = database(&state, param.database)?;
    apply(&state, &db, &collection, Some(&id), Write::Delete).await
}

async fn apply(
    state: &Ctx,
    db: &str,
    collection: &str,
    id: Option<&str>,
    change: Write,
) -> Result<Json<Value>, ApiError> {
    let mut writer = state.api.writer.lock().await;
    let (change, _, txn_ts) = writer
        .write(&state.log, db, collection, id, change, now_micros())
        .await
        .map_err(db_error)?;
    Ok(Json(json!({
        "id": change.id,
        "txn_ts": txn_ts,
        "document": change.after.map(|v| Value::Object(v.data)),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    path: Vec<String>,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    database: Option<String>,
    collection: String,
    #[serde(rename = "where")]
    condition: Option<Condition>,
    document: Option<String>,
}

pub async fn token(
    State(state): State<Ctx>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    let (db, secret) = database(&state, request.database)?;
    let collection = request.collection;
    let spec = match (request.condition, request.document) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give `where` or `document`, not both",
            ));
        }
        (Some(Condition { path, value }), None) if !path.is_empty() => SourceSpec::Where {
            collection: collection.clone(),
            path,
            value,
        },
        (Some(_), None) => return Err(ApiError::bad_request("`where.path` must name a field")),
        (None, Some(id)) => SourceSpec::Document {
            collection: collection.clone(),
            id,
        },
        (None, None) => SourceSpec::All {
            collection: collection.clone(),
        },
    };
    if db::collection(&state.log, &db, &collection)
        .map_err(db_error)?
        .is_none()
    {
        return Err(db_error(DbError::NoCollection(collection)));
    }
    let _writer = state.api.writer.lock().await;
    let at = state.log.head(&db::log_stream(&db, &collection))?;
    let claims = Claims {
        db,
        source: spec.into(),
        ts: now_micros(),
        at,
    };
    Ok(Json(
        json!({"token": state.api.signer.token(&claims, &secret), "txn_ts": claims.ts}),
    ))
}
