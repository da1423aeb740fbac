//! `POST /feed/1`: the paging twin of the stream, with the same tokens and cursors.
//!
//! A page holds up to `page_size` events (1 to 16000, 16 by default) after
//! the start point; its `cursor` names how far the page read, so the next
//! page continues there without a gap, and `has_next` says whether the log
//! holds more after it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::db::log_stream;
use super::error::{FaunaError, error_event, event_stats};
use super::request::{Endpoint, open};
use super::source::Cursor;
use super::stream::{convert, too_old_message};
use crate::fauna::Ctx;
use crate::store::ReadLimit;

pub const DEFAULT_PAGE_SIZE: u64 = 16;
pub const MAX_PAGE_SIZE: u64 = 16_000;

/// `POST /feed/1`.
pub async fn feed(
    State(state): State<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match page(&state, &headers, body).await {
        Ok(page) => Json(page).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn page(
    state: &Ctx,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, FaunaError> {
    let opened = open(state, headers, body, Endpoint::Feed).await?;
    let page_size = match opened.body.get("page_size") {
        None | Some(Value::Null) => DEFAULT_PAGE_SIZE,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(size) if size <= 0 => {
                return Err(FaunaError::invalid_request(
                    "Invalid request body: page size must be greater than zero.",
                ));
            }
            Some(size) if size.unsigned_abs() > MAX_PAGE_SIZE => {
                return Err(FaunaError::invalid_request(format!(
                    "Invalid request body: page size can not be greater than {MAX_PAGE_SIZE}."
                )));
            }
            Some(size) => size.unsigned_abs(),
            None => {
                return Err(FaunaError::invalid_request(
                    "Invalid request body: page_size must be a whole number.",
                ));
            }
        },
        Some(other) => {
            return Err(FaunaError::invalid_request(format!(
                "Invalid request body: Unexpected value {other} for page_size."
            )));
        }
    };
    let collection = opened.claims.source.collection().to_owned();
    let cursor_at = |p, t| {
        state
            .api
            .signer
            .cursor(&opened.db, &collection, Cursor { p, t })
    };
    if opened.too_old {
        return Ok(json!({
            "events": [error_event("invalid_stream_start_time", &too_old_message(opened.ts))],
            "cursor": cursor_at(opened.after, opened.ts),
            "has_next": false,
            "stats": event_stats(0, 0),
        }));
    }
    let name = log_stream(&opened.db, &collection);
    let wanted = usize::try_from(page_size).unwrap_or(usize::MAX);
    let mut events = Vec::new();
    let (mut position, mut ts) = (opened.after, opened.ts);
    let mut read_ops = 0;
    loop {
        let room = wanted - events.len();
        let batch = state
            .log
            .read_after(&name, position, ReadLimit::records(256), Box::new(|_| true))
            .await?;
        if batch.records.is_empty() {
            break;
        }
        read_ops += batch.records.len() as u64;
        let converted = convert(state, &opened, &batch.records, position, ts, room)?;
        position = converted.position;
        ts = converted.ts;
        events.extend(converted.events);
        if events.len() == wanted {
            break;
        }
    }
    let head = state.log.head(&name)?;
    Ok(json!({
        "events": events,
        "cursor": cursor_at(position, ts),
        "has_next": head > position,
        "stats": event_stats(read_ops, 0),
    }))
}
