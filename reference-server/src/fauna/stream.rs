//! `POST /stream/1`: a `status` event, the replay since the start point, then live changes, each a JSON object and `\r\n`.
//!
//! The body is a [`Follower`] (see [`crate::core::follow`]) around Fauna's
//! line feed: each step reads the next batch of change records after its
//! position, turns the ones that concern the set into events, and hands them
//! over as one chunk (so a burst reaches a client in one write). Its
//! keep-alive is a `status` event, every status interval.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::db::{self, log_stream};
use super::error::{FaunaError, error_event, event_stats};
use super::request::{Endpoint, Opened, open};
use super::source::{Cursor, Kind, StoredSpec, classify, event_document};
use super::tagged;
use crate::core::follow::{End, Feed, Follower, LogCursor, Pace, Step};
use crate::core::now_micros;
use crate::defects::Defect;
use crate::fauna::Ctx;
use crate::store::{Position, ReadLimit};

/// More replayed events than this end the stream with `stream_replay_volume_exceeded`.
pub const REPLAY_LIMIT: usize = 128;

/// The message of `invalid_stream_start_time` for a start before the history.
pub fn too_old_message(ts: u64) -> String {
    format!(
        "Stream start time {} is too far in the past. Recreate the stream and try again.",
        super::time::rfc3339(ts)
    )
}

/// The events a batch of change records makes, and where reading got to.
pub struct Converted {
    pub events: Vec<Value>,
    pub position: Position,
    pub ts: u64,
}

/// The set a token's events come from: its own, unless a defect widens a
/// single document to its whole collection.
fn tracked(state: &Ctx, source: &StoredSpec) -> StoredSpec {
    match source {
        StoredSpec::Doc { c, .. }
            if state
                .config
                .defects
                .contains(Defect::FaunaDocumentSourceWholeCollection) =>
        {
            StoredSpec::All { c: c.clone() }
        }
        spec => spec.clone(),
    }
}

/// Turns change records into events of the token's set.
pub fn convert(
    state: &Ctx,
    opened: &Opened,
    records: &[crate::store::Record],
    mut position: Position,
    mut ts: u64,
    max_events: usize,
) -> Result<Converted, FaunaError> {
    let collection = opened.claims.source.collection();
    let spec = &tracked(state, &opened.claims.source);
    let mut events = Vec::new();
    for record in records {
        if events.len() == max_events {
            break;
        }
        let change = db::change(&record.payload).map_err(|e| {
            tracing::error!(error = %e, "fauna: a change record is corrupt");
            FaunaError::internal()
        })?;
        position = record.position;
        ts = record.timestamp_micros;
        if let Some((mut kind, version)) = classify(spec, &change) {
            let defects = &state.config.defects;
            if kind == Kind::Remove
                && change.after.is_some()
                && defects.contains(Defect::FaunaLeaveAsUpdate)
            {
                kind = Kind::Update;
            }
            let doc = event_document(&opened.claims.source, &change.id, version);
            let cursor =
                state
                    .api
                    .signer
                    .cursor(&opened.db, collection, Cursor { p: position, t: ts });
            let mut txn_ts = ts;
            if position.is_multiple_of(2) && defects.contains(Defect::FaunaTxnTsBackwards) {
                txn_ts = ts.saturating_sub(1_000_000);
            }
            let mut stats = event_stats(1, record.payload.len() as u64);
            if defects.contains(Defect::FaunaStatsIncomplete)
                && let Some(stats) = stats.as_object_mut()
            {
                stats.remove("processing_time_ms");
                stats.remove("rate_limits_hit");
            }
            events.push(json!({
                "type": kind.name(),
                "data": tagged::document(&doc),
                "txn_ts": txn_ts,
                "cursor": cursor,
                "stats": stats,
            }));
        }
    }
    Ok(Converted {
        events,
        position,
        ts,
    })
}

/// Fauna's lines over one collection's change log, for the [`Follower`].
struct LinesFeed {
    state: Ctx,
    opened: Opened,
    /// The `txn_ts` of the position read up to.
    ts: u64,
    /// Replay ends at the head the log had when the stream opened.
    replay_until: Position,
    replayed: usize,
    started: bool,
}

fn line(value: &Value) -> String {
    format!("{value}\r\n")
}

/// The `error` event that ends a stream, as its last words.
fn end_with(code: &str, message: &str) -> Step<String> {
    Step::End(End::Finished, Some(line(&error_event(code, message))))
}

impl Feed for LinesFeed {
    type Out = String;
    type Place = LogCursor;

    async fn step(&mut self, cursor: &mut LogCursor, batch: usize) -> Step<String> {
        if !self.started {
            self.started = true;
            return self.first(cursor);
        }
        let Ok(read) = cursor.read(batch).await else {
            return end_with(
                "internal_error",
                "Reading the log failed. Please create a ticket at https://support.fauna.com",
            );
        };
        if read.records.is_empty() {
            return Step::CaughtUp;
        }
        self.deliver(cursor, &read.records).await
    }

    /// A `status` event.
    fn keepalive(&mut self, cursor: &LogCursor) -> Option<String> {
        let defects = &self.state.config.defects;
        if defects.contains(Defect::FaunaNoStatusKeepalive) {
            return None;
        }
        Some(self.status(cursor))
    }
}

impl LinesFeed {
    fn status(&self, at: &LogCursor) -> String {
        let defects = &self.state.config.defects;
        let place = if defects.contains(Defect::FaunaStatusCursorStale) {
            Cursor {
                p: self.opened.claims.at,
                t: self.opened.claims.ts,
            }
        } else {
            Cursor {
                p: at.after,
                t: self.ts,
            }
        };
        let cursor = self.state.api.signer.cursor(
            &self.opened.db,
            self.opened.claims.source.collection(),
            place,
        );
        let txn_ts = if defects.contains(Defect::FaunaTxnTsMillis) {
            self.ts / 1000
        } else {
            self.ts
        };
        line(
            &json!({"type": "status", "txn_ts": txn_ts, "cursor": cursor, "stats": event_stats(0, 0)}),
        )
    }

    /// The first `status` event, or the start-time error.
    fn first(&self, at: &LogCursor) -> Step<String> {
        let defects = &self.state.config.defects;
        let mut first = if defects.contains(Defect::FaunaNoInitialStatus) {
            String::new()
        } else {
            self.status(at)
        };
        if !self.opened.too_old {
            return Step::Send(first);
        }
        let code = if defects.contains(Defect::FaunaStartTimeCodeGeneric) {
            "invalid_request"
        } else {
            "invalid_stream_start_time"
        };
        let mut error = error_event(code, &too_old_message(self.opened.ts));
        if defects.contains(Defect::FaunaErrorEventCursor)
            && let Some(fields) = error.as_object_mut()
        {
            fields.remove("stats");
            fields.insert("cursor".to_owned(), json!("0"));
        }
        first.push_str(&line(&error));
        if defects.contains(Defect::FaunaErrorKeepsStream) {
            Step::Send(first)
        } else {
            Step::End(End::Finished, Some(first))
        }
    }

    /// The events of `records`, under the replay limit.
    async fn deliver(
        &mut self,
        cursor: &mut LogCursor,
        records: &[crate::store::Record],
    ) -> Step<String> {
        let replaying = cursor.after < self.replay_until
            && !self
                .state
                .config
                .defects
                .contains(Defect::FaunaReplayUnlimited);
        let room = if replaying {
            REPLAY_LIMIT - self.replayed
        } else {
            usize::MAX
        };
        let after = cursor.after;
        let Ok(converted) = convert(&self.state, &self.opened, records, after, self.ts, room)
        else {
            return end_with(
                "internal_error",
                "A change record is corrupt. Please create a ticket at https://support.fauna.com",
            );
        };
        let full = replaying && converted.events.len() == room;
        let over_limit = full
            && self
                .replay_has_more(cursor.stream(), converted.position)
                .await;
        if full && !over_limit {
            // Nothing of the set is left to replay: the rest is live.
            self.replay_until = 0;
        }
        if replaying {
            self.replayed += converted.events.len();
        }
        cursor.after = converted.position;
        self.ts = converted.ts;
        let mut chunk: String = converted.events.iter().map(line).collect();
        if over_limit {
            chunk.push_str(&line(&error_event(
                "stream_replay_volume_exceeded",
                "Too many events to replay. Recreate the stream and try again.",
            )));
            return Step::End(End::Finished, Some(chunk));
        }
        if chunk.is_empty() {
            Step::Again
        } else {
            Step::Send(chunk)
        }
    }

    /// Whether the replay holds another event of the set after `position`.
    async fn replay_has_more(&self, name: &str, mut position: Position) -> bool {
        let spec = &self.opened.claims.source;
        while position < self.replay_until {
            let Ok(batch) = self
                .state
                .log
                .read_after(name, position, ReadLimit::records(256), Box::new(|_| true))
                .await
            else {
                return false;
            };
            for record in &batch.records {
                if record.position > self.replay_until {
                    return false;
                }
                position = record.position;
                if db::change(&record.payload)
                    .ok()
                    .is_some_and(|change| classify(spec, &change).is_some())
                {
                    return true;
                }
            }
            if batch.records.is_empty() {
                return false;
            }
        }
        false
    }
}

/// `POST /stream/1`.
pub async fn stream(
    State(state): State<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let opened = match open(&state, &headers, body, Endpoint::Stream).await {
        Ok(opened) => opened,
        Err(error) => return error.into_response(),
    };
    let name = log_stream(&opened.db, opened.claims.source.collection());
    let cursor = LogCursor::new(&state.log, name.as_str(), opened.after);
    let replay_until = state.log.head(&name).unwrap_or(0);
    let pace = Pace {
        stop: state.hub.token("fauna"),
        keepalive: state.config.fauna.status_interval,
        read_batch: state.config.subscribers.read_batch,
    };
    let feed = LinesFeed {
        ts: opened.ts,
        replay_until,
        replayed: 0,
        started: false,
        state: state.clone(),
        opened,
    };
    let follower = Follower::new(feed, cursor, &state.hub, pace);
    let lf_only = state.config.defects.contains(Defect::FaunaLfLines);
    let body = futures_util::stream::unfold(follower, move |mut follower| async move {
        let mut chunk = follower.next().await?;
        if lf_only {
            // Compact JSON holds no raw line breaks, so every CRLF is a line end.
            chunk = chunk.replace("\r\n", "\n");
        }
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), follower))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    let id = format!("{:016x}", now_micros());
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-fauna-stream-id", value);
    }
    response
}
