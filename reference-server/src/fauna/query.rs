//! `POST /query/1`: the FQL subset, answered in Fauna's response shape with tagged values.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::db::{self, DbError, Document, Write};
use super::error::{FaunaError, query_error, query_stats};
use super::fql::{self, Command, FqlErrorKind, Fragment};
use super::source::Claims;
use super::tagged;
use crate::core::now_micros;
use crate::fauna::Ctx;

/// The query's text and values, flattened from the drivers' `{"fql": [...]}` form.
fn fragments(query: &Value, out: &mut Vec<Fragment>, depth: usize) -> Result<(), String> {
    if depth > 32 {
        return Err("the query nests sub-queries too deeply".to_owned());
    }
    match query {
        Value::String(text) => out.push(Fragment::Text(text.clone())),
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().ok_or("an empty query part")?;
            match (key.as_str(), inner) {
                ("fql", Value::Array(parts)) => {
                    if depth > 0 {
                        out.push(Fragment::Text("(".into()));
                    }
                    for part in parts {
                        fragments(part, out, depth + 1)?;
                    }
                    if depth > 0 {
                        out.push(Fragment::Text(")".into()));
                    }
                }
                ("value", value) => out.push(Fragment::Value(tagged::decode(value)?)),
                ("array", Value::Array(items)) => {
                    let values = items.iter().map(part_value).collect::<Result<_, _>>()?;
                    out.push(Fragment::Value(Value::Array(values)));
                }
                ("object", Value::Object(fields)) => {
                    let mut map = Map::new();
                    for (name, part) in fields {
                        map.insert(name.clone(), part_value(part)?);
                    }
                    out.push(Fragment::Value(Value::Object(map)));
                }
                (other, _) => return Err(format!("unknown query part `{other}`")),
            }
        }
        other => {
            return Err(format!(
                "a query part must be a string or a tagged part, not {other}"
            ));
        }
    }
    Ok(())
}

/// An interpolated part that must be a value (inside `array` / `object`).
fn part_value(part: &Value) -> Result<Value, String> {
    let mut out = Vec::new();
    fragments(part, &mut out, 1)?;
    match out.as_slice() {
        [Fragment::Value(value)] => Ok(value.clone()),
        _ => Err("interpolated arrays and objects may hold only values".to_owned()),
    }
}

fn success(data: Value, txn_ts: u64, writes: u64, tags: Option<&str>) -> Response {
    let mut body = json!({
        "data": data,
        "static_type": "Any",
        "summary": "",
        "txn_ts": txn_ts,
        "stats": query_stats(1, writes),
        "schema_version": 0,
    });
    if let Some(tags) = tags.filter(|t| !t.is_empty()) {
        body["query_tags"] = Value::String(tags.to_owned());
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// The answer to a write: the document as written, or a null document for a delete.
fn written(
    (collection, change, ts): (String, db::Change, u64),
) -> Result<(Value, u64, u64), Failure> {
    let data = match change.after {
        Some(version) => tagged::document(&Document {
            collection,
            id: change.id,
            version,
        }),
        None => null_doc(&collection, &change.id, "deleted"),
    };
    Ok((data, ts, 1))
}

fn null_doc(collection: &str, id: &str, cause: &str) -> Value {
    json!({"@ref": {"id": id, "coll": {"@mod": collection}, "exists": false, "cause": cause}})
}

/// `POST /query/1`.
pub async fn query(
    State(state): State<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if headers.get(header::AUTHORIZATION).is_none() {
        return FaunaError::unauthorized("Access token required").into_response();
    }
    let Some((db, secret)) = super::database(&state, &headers) else {
        return FaunaError::unauthorized("Invalid token, unable to authenticate request")
            .into_response();
    };
    let tags = headers
        .get("x-query-tags")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = now_micros();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return FaunaError::body(&rejection).into_response();
        }
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return FaunaError::invalid_request(
            "Invalid request body: the body must be a JSON object.",
        )
        .into_response();
    };
    if request
        .get("arguments")
        .is_some_and(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        return query_error(
            "invalid_query",
            "Query arguments are not supported by this reference server; interpolate values instead.",
            now,
        );
    }
    let Some(query) = request.get("query") else {
        return FaunaError::invalid_request("Invalid request body: Value for key query not found.")
            .into_response();
    };
    let mut parts = Vec::new();
    if let Err(message) = fragments(query, &mut parts, 0) {
        return FaunaError::invalid_request(format!("Invalid request body: {message}"))
            .into_response();
    }
    let command = match fql::compile(&parts) {
        Ok(command) => command,
        Err(error) => {
            let code = match error.kind {
                FqlErrorKind::Syntax(_) | FqlErrorKind::Unsupported(_) => "invalid_query",
            };
            return query_error(code, &error.to_string(), now);
        }
    };
    match run(&state, &db, &secret, command, now).await {
        Ok((data, txn_ts, writes)) => success(data, txn_ts, writes, tags.as_deref()),
        Err(Failure::Query(code, message)) => query_error(code, &message, now),
        Err(Failure::Protocol(error)) => error.into_response(),
    }
}

enum Failure {
    Query(&'static str, String),
    Protocol(FaunaError),
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NoCollection(c) => Failure::Query(
                "invalid_query",
                format!(
                    "The query failed 1 validation check: unbound variable `{c}` (no such collection)"
                ),
            ),
            DbError::CollectionExists(c) => Failure::Query(
                "constraint_failure",
                format!("Failed to create Collection: a collection named `{c}` already exists."),
            ),
            DbError::NoDocument(c, id) => Failure::Query(
                "document_not_found",
                format!("Collection `{c}` does not contain document with id {id}."),
            ),
            DbError::BadName(name) => Failure::Query(
                "constraint_failure",
                format!("Failed to create Collection: invalid name `{name}`."),
            ),
            DbError::Store(error) => Failure::Protocol(FaunaError::from(error)),
            DbError::Corrupt(message) => {
                tracing::error!(%message, "fauna: corrupt data");
                Failure::Protocol(FaunaError::internal())
            }
        }
    }
}

/// Runs a command: the tagged answer, its `txn_ts`, and how many writes it made.
async fn run(
    state: &Ctx,
    db: &str,
    secret: &str,
    command: Command,
    now: u64,
) -> Result<(Value, u64, u64), Failure> {
    let store = &state.log;
    let write = |collection: String, id: Option<String>, change: Write| async move {
        let mut writer = state.api.writer.lock().await;
        let (change, _, ts) = writer
            .write(&state.log, db, &collection, id.as_deref(), change, now)
            .await?;
        Ok::<_, DbError>((collection, change, ts))
    };
    match command {
        Command::CreateCollection { name, history_days } => {
            let mut writer = state.api.writer.lock().await;
            let def = writer
                .create_collection(&state.log, db, &name, history_days, now)
                .await?;
            let data = json!({"@doc": {
                "name": name,
                "coll": {"@mod": "Collection"},
                "ts": {"@time": super::time::rfc3339(def.created)},
                "history_days": tagged::encode(&json!(def.history_days)),
            }});
            Ok((data, def.created, 1))
        }
        Command::Create { collection, data } => {
            written(write(collection, None, Write::Create(data)).await?)
        }
        Command::Update {
            collection,
            id,
            data,
        } => written(write(collection, Some(id), Write::Update(data)).await?),
        Command::Replace {
            collection,
            id,
            data,
        } => written(write(collection, Some(id), Write::Replace(data)).await?),
        Command::Delete { collection, id } => {
            written(write(collection, Some(id), Write::Delete).await?)
        }
        Command::Get { collection, id } => {
            if db::collection(store, db, &collection)?.is_none() {
                return Err(DbError::NoCollection(collection).into());
            }
            let data = match db::document(store, db, &collection, &id)? {
                Some(version) => tagged::document(&Document {
                    collection,
                    id,
                    version,
                }),
                None => null_doc(&collection, &id, "not found"),
            };
            Ok((data, now, 0))
        }
        Command::EventSource(spec) => {
            let collection = match &spec {
                fql::SourceSpec::All { collection }
                | fql::SourceSpec::Where { collection, .. }
                | fql::SourceSpec::Document { collection, .. } => collection.clone(),
            };
            if db::collection(store, db, &collection)?.is_none() {
                return Err(DbError::NoCollection(collection).into());
            }
            // Under the writer lock, the head and the time agree: nothing
            // committed before `at` has a later `txn_ts` than `ts`.
            let _writer = state.api.writer.lock().await;
            let at = state
                .log
                .head(&db::log_stream(db, &collection))
                .map_err(|e| Failure::Protocol(e.into()))?;
            let claims = Claims {
                db: db.to_owned(),
                source: spec.into(),
                ts: now_micros(),
                at,
            };
            let token = state.api.signer.token(&claims, secret);
            Ok((json!({"@stream": token}), claims.ts, 0))
        }
    }
}
