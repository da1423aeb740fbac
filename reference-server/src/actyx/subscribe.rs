//! `POST events/subscribe` and `POST events/subscribe_monotonic`: catch-up, the `offsets` line, then live.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::api::{NDJSON, OUT_OF_RANGE, parse_query};
use super::aql::eval::Pipeline;
use super::aql::{Endpoint, EventMeta, TagExpr};
use super::auth::{self, Caller};
use super::error::ActyxError;
use super::feed::{self, Feed, Mode};
use super::model::{Event, EventKey, StreamId, log_stream};
use super::offsets::{self, OffsetMap};
use super::read::ranges;
use crate::actyx::Ctx;
use crate::defects::Defect;
use crate::store::{ReadLimit, StoreError};

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
    /// Optional, as the seed says: none means from the beginning (`-1`).
    #[serde(default, deserialize_with = "offsets::optional")]
    lower_bound: Option<OffsetMap>,
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
    State(state): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (_caller, request): (Caller, SubscribeRequest) =
        auth::request(&state, &headers, &uri, NDJSON, body)?;
    let query = parse_query(&state, &request.query, Endpoint::Subscribe)?;
    let lower = request.lower_bound.unwrap_or_default().0;
    let present = state.api.node.present();
    let wanted = if state
        .config
        .defects
        .contains(Defect::SubscribeLowerInclusive)
    {
        // One offset lower: the event at the bound comes again.
        let inclusive: BTreeMap<StreamId, u64> = lower
            .iter()
            .filter_map(|(s, o)| o.checked_sub(1).map(|o| (*s, o)))
            .collect();
        ranges(&inclusive, &present)
    } else {
        ranges(&lower, &present)
    };
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
    State(state): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (_caller, request): (Caller, MonotonicRequest) =
        auth::request(&state, &headers, &uri, NDJSON, body)?;
    if request.lower_bound.is_none()
        && state
            .config
            .defects
            .contains(Defect::MonotonicLowerBoundRequired)
    {
        return Err(ActyxError::bad_request("missing field `lowerBound`"));
    }
    let query = parse_query(&state, &request.query, Endpoint::SubscribeMonotonic)?;
    let lower = request.lower_bound.unwrap_or_default().0;
    let known = state.api.node.present();
    let beyond = lower
        .iter()
        .any(|(stream, offset)| known.get(stream).is_none_or(|p| offset > p));
    if beyond {
        return Err(ActyxError::bad_request(OUT_OF_RANGE));
    }
    let latest = newest_within(&state, &query.source, &lower).await?;
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

/// The key of the newest event `FROM` selects at or below `lower` in any
/// stream: the point a monotonic subscription must not travel back behind.
/// Streams are read backwards in windows, since lamports grow with offsets.
pub async fn newest_within(
    state: &Ctx,
    source: &TagExpr,
    lower: &BTreeMap<StreamId, u64>,
) -> Result<Option<EventKey>, StoreError> {
    let window = state.config.subscribers.read_batch.max(1) as u64;
    let mut newest: Option<EventKey> = None;
    for (stream, upto) in lower {
        let name = log_stream(stream);
        // Positions are offset + 1; read (start, end] windows going back.
        let mut end = upto.saturating_add(1);
        while end > 0 {
            let start = end.saturating_sub(window);
            let limit = ReadLimit {
                max_records: usize::try_from(end - start).unwrap_or(usize::MAX),
                max_scanned: usize::try_from(end - start).unwrap_or(usize::MAX),
            };
            let batch = state
                .log
                .read_after(&name, start, limit, Box::new(|_| true))
                .await?;
            let found = batch.records.iter().rev().find_map(|record| {
                let event = Event::from_record(*stream, record).ok()?;
                let meta = EventMeta {
                    tags: &event.tags,
                    app_id: &event.app_id,
                    local: stream.node == state.api.node.id,
                };
                (event.key.offset <= *upto && source.matches(&meta)).then_some(event.key)
            });
            if let Some(key) = found {
                newest = newest.max(Some(key));
                break;
            }
            end = start;
        }
    }
    Ok(newest)
}
