//! `POST events/subscribe` and `POST events/subscribe_monotonic`: catch-up, the `offsets` line, then live.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::api::{NDJSON, OUT_OF_RANGE, parse_query};
use super::aql::Endpoint;
use super::aql::eval::Pipeline;
use super::auth::{self, Caller};
use super::error::ActyxError;
use super::feed::{self, Feed, Mode};
use super::model::StreamId;
use super::offsets::{self, OffsetMap};
use super::read::ranges;
use crate::app::AppState;
use crate::defects::Defect;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeRequest {
    query: String,
    #[serde(default, deserialize_with = "offsets::optional")]
    lower_bound: Option<OffsetMap>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MonotonicRequest {
    #[allow(dead_code)]
    session: String,
    query: String,
    lower_bound: OffsetMap,
}

/// Per stream, the larger of two offsets.
fn union(a: &BTreeMap<StreamId, u64>, b: &BTreeMap<StreamId, u64>) -> BTreeMap<StreamId, u64> {
    let mut out = a.clone();
    for (stream, offset) in b {
        let entry = out.entry(*stream).or_insert(*offset);
        *entry = (*entry).max(*offset);
    }
    out
}

/// `POST /api/v2/events/subscribe`.
pub async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (_caller, request): (Caller, SubscribeRequest) =
        auth::request(&state, &headers, &uri, NDJSON, body)?;
    let query = parse_query(&state, &request.query, Endpoint::Subscribe)?;
    let lower = request.lower_bound.unwrap_or_default().0;
    let present = state.actyx.node.present();
    let wanted = ranges(&lower, &present);
    let source = feed::source(&state, &query.source, &wanted, false).await?;
    let read_to = union(&lower, &present);
    let feed = Feed::new(
        &state,
        Pipeline::new(query),
        Mode::Subscribe,
        source,
        read_to,
    );
    Ok(feed.response())
}

/// `POST /api/v2/events/subscribe_monotonic`.
pub async fn subscribe_monotonic(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (_caller, request): (Caller, MonotonicRequest) =
        auth::request(&state, &headers, &uri, NDJSON, body)?;
    let query = parse_query(&state, &request.query, Endpoint::SubscribeMonotonic)?;
    let lower = request.lower_bound.0;
    let known = state.actyx.node.present();
    let beyond = lower
        .iter()
        .any(|(stream, offset)| known.get(stream).is_none_or(|p| offset > p));
    if beyond {
        return Err(ActyxError::bad_request(OUT_OF_RANGE));
    }
    let latest = feed::newest_within(&state, &query.source, &lower).await?;
    let skip = u64::from(state.config.defects.contains(Defect::MonotonicResumeSkips));
    let skipped: BTreeMap<StreamId, u64> = lower.iter().map(|(s, o)| (*s, o + skip)).collect();
    let wanted = ranges(&skipped, &known);
    let source = feed::source(&state, &query.source, &wanted, false).await?;
    let read_to = union(&lower, &known);
    let feed = Feed::new(
        &state,
        Pipeline::new(query),
        Mode::Monotonic { latest },
        source,
        read_to,
    );
    Ok(feed.response())
}
