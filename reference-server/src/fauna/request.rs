//! The request of `POST /stream/1` and `POST /feed/1`: auth, body, token, cursor and start time, checked as Fauna does.
//!
//! Both endpoints open the same way; [`open`] turns a request into the
//! [`Opened`] start point its events are read from, or the error Fauna gives.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::db::{self, log_stream};
use super::error::FaunaError;
use super::source::{Claims, Cursor, Refusal};
use crate::core::now_micros;
use crate::defects::Defect;
use crate::fauna::Ctx;
use crate::store::{Position, ReadLimit};

/// Which endpoint a request came to: their messages differ in a final period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Stream,
    Feed,
}

/// A validated stream or feed request: where to start, and what for.
#[derive(Debug)]
pub struct Opened {
    pub db: String,
    pub claims: Claims,
    /// Deliver changes strictly after this log position.
    pub after: Position,
    /// The `txn_ts` of that point.
    pub ts: u64,
    /// The start point is older than the collection's history.
    pub too_old: bool,
    /// The request body, for the endpoint's own fields.
    pub body: Map<String, Value>,
}

fn bad(endpoint: Endpoint, message: &str) -> FaunaError {
    let dot = if endpoint == Endpoint::Feed && !message.ends_with('.') {
        "."
    } else {
        ""
    };
    FaunaError::invalid_request(format!("Invalid request body: {message}{dot}"))
}

/// Checks auth, body, token, cursor and start time, as Fauna does, in its order.
pub async fn open(
    state: &Ctx,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Result<Opened, FaunaError> {
    let defects = &state.config.defects;
    let (db, secret) = authenticate(state, headers)?;
    let body = json_object(body, endpoint)?;
    let token_error_500 = defects.contains(Defect::FaunaTokenError500);
    let token = token_field(&body, endpoint, token_error_500)?;
    let start_ts = start_ts_field(&body, endpoint)?;
    let cursor = cursor_field(&body, endpoint)?;
    if start_ts.is_some() && cursor.is_some() && !defects.contains(Defect::FaunaStartTsWithCursor) {
        return Err(bad(
            endpoint,
            "can not provide both `start_ts` and `cursor`",
        ));
    }
    let claims = check_token(state, &token, &db, &secret, endpoint, token_error_500)?;
    let collection = claims.source.collection().to_owned();
    let store = &state.log;
    let Some(def) = db::collection(store, &db, &collection).map_err(|_| FaunaError::internal())?
    else {
        return Err(bad(endpoint, "invalid event source provided"));
    };
    let (after, ts) = start_point(state, &db, &claims, cursor, start_ts, endpoint).await?;
    if ts < claims.ts {
        return Err(FaunaError::invalid_request(
            "Invalid stream start time: Stream start time can not be before the stream create time.",
        ));
    }
    let window = def.history_days.saturating_mul(86_400_000_000);
    let too_old = ts < now_micros().saturating_sub(window)
        && !defects.contains(Defect::FaunaHistoryWindowIgnored);
    Ok(Opened {
        db,
        claims,
        after,
        ts,
        too_old,
        body,
    })
}

/// The database and secret of the request's bearer, or `401` (`403` under a defect).
fn authenticate(state: &Ctx, headers: &HeaderMap) -> Result<(String, String), FaunaError> {
    if let Some(found) = super::database(state, headers) {
        return Ok(found);
    }
    if state.config.defects.contains(Defect::FaunaUnauthorized403) {
        return Err(FaunaError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Invalid token, unable to authenticate request",
        ));
    }
    Err(FaunaError::unauthorized(
        "Invalid token, unable to authenticate request",
    ))
}

/// The request body as a JSON object: a blank body and any other JSON are refused.
fn json_object(
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Result<Map<String, Value>, FaunaError> {
    let body = body.map_err(|r| FaunaError::body(&r))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FaunaError::invalid_request("No request body provided"));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return Err(bad(endpoint, "the body must be a JSON object"));
    };
    Ok(body)
}

/// The body's `token`, which must be a string.
fn token_field(
    body: &Map<String, Value>,
    endpoint: Endpoint,
    token_error_500: bool,
) -> Result<String, FaunaError> {
    match body.get("token") {
        Some(Value::String(token)) => Ok(token.clone()),
        _ if token_error_500 => Err(FaunaError::internal()),
        _ => Err(bad(endpoint, "Value for key token not found.")),
    }
}

/// The body's `start_ts`, if any: a whole number of µs.
fn start_ts_field(
    body: &Map<String, Value>,
    endpoint: Endpoint,
) -> Result<Option<u64>, FaunaError> {
    match body.get("start_ts") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
        Some(Value::String(s)) => Err(bad(endpoint, &format!("Unexpected string value '{s}'."))),
        Some(other) => Err(bad(
            endpoint,
            &format!("Unexpected value {other} for start_ts."),
        )),
    }
}

/// The body's `cursor`, if any: a string.
fn cursor_field(
    body: &Map<String, Value>,
    endpoint: Endpoint,
) -> Result<Option<String>, FaunaError> {
    match body.get("cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => Ok(Some(c.clone())),
        Some(other) => Err(bad(
            endpoint,
            &format!("Unexpected value {other} for cursor."),
        )),
    }
}

/// The claims of `token`, made for the database `db` whose secret is `secret`.
fn check_token(
    state: &Ctx,
    token: &str,
    db: &str,
    secret: &str,
    endpoint: Endpoint,
    token_error_500: bool,
) -> Result<Claims, FaunaError> {
    let signer = &state.api.signer;
    match signer.check_token(token, secret) {
        Ok(claims) if claims.db == db => Ok(claims),
        Err(Refusal::Malformed) if token_error_500 => Err(FaunaError::internal()),
        Ok(_) | Err(Refusal::Malformed) => Err(bad(endpoint, "invalid event source provided")),
        Err(Refusal::WrongSignature) => {
            let elsewhere = state
                .config
                .fauna
                .keys
                .keys()
                .any(|other| signer.check_token(token, other).is_ok());
            Err(if elsewhere {
                FaunaError::invalid_request(
                    "Error evaluating provided stream, the event source belongs to another database",
                )
            } else {
                bad(endpoint, "invalid event source provided")
            })
        }
    }
}

/// The position and `txn_ts` to deliver after: the cursor's, the one of
/// `start_ts`, or else the token's own.
async fn start_point(
    state: &Ctx,
    db: &str,
    claims: &Claims,
    cursor: Option<String>,
    start_ts: Option<u64>,
    endpoint: Endpoint,
) -> Result<(Position, u64), FaunaError> {
    let collection = claims.source.collection();
    Ok(match (cursor, start_ts) {
        (Some(text), _) => {
            let Cursor { p, t } = state
                .api
                .signer
                .check_cursor(&text, db, collection)
                .map_err(|_| bad(endpoint, "invalid event cursor provided"))?;
            if state.config.defects.contains(Defect::FaunaCursorInclusive) {
                (p.saturating_sub(1), t)
            } else {
                (p, t)
            }
        }
        (None, Some(start)) => (
            position_at(state, db, collection, claims.at, start).await?,
            start,
        ),
        (None, None) => (claims.at, claims.ts),
    })
}

/// The last position whose change has `txn_ts <= start`, from `from` on.
async fn position_at(
    state: &Ctx,
    db: &str,
    collection: &str,
    from: Position,
    start: u64,
) -> Result<Position, FaunaError> {
    let name = log_stream(db, collection);
    let inclusive = state.config.defects.contains(Defect::FaunaStartTsInclusive);
    let mut after = from;
    loop {
        let batch = state
            .log
            .read_after(&name, after, ReadLimit::records(256), Box::new(|_| true))
            .await?;
        for record in &batch.records {
            if record.timestamp_micros > start || (inclusive && record.timestamp_micros == start) {
                return Ok(after);
            }
            after = record.position;
        }
        if batch.reached_end || batch.records.is_empty() {
            return Ok(after);
        }
    }
}
