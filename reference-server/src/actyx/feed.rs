//! The NDJSON body of query, subscribe and subscribe_monotonic: catch-up in key order, the `offsets` line, then live.
//!
//! Like the SSE streams, a feed is pulled: each time hyper wants more body it
//! reads the next batch of events, runs them through the query's pipeline
//! and hands over the lines. Live, it waits for the node's change counter, a
//! keep-alive deadline (a blank line) or its cancellation token.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::aql::eval::{Output, Pipeline};
use super::aql::{EventMeta, TagExpr};
use super::model::{Event, EventKey, NodeId, StreamId};
use super::read::{Merge, Range, ranges};
use crate::app::AppState;
use crate::defects::Defect;
use crate::store::{ReadLimit, StoreError};
use crate::subscribers::StreamGuard;

/// What kind of feed, and what it needs to know.
#[derive(Debug, Clone)]
pub enum Mode {
    /// A bounded query: ends with an `offsets` line naming `upper`.
    Query { upper: BTreeMap<StreamId, u64> },
    /// Catch-up, `offsets`, live.
    Subscribe,
    /// As `Subscribe`, with `caughtUp`, and a `timeTravel` line (then the
    /// end) for an event that sorts at or before `latest`.
    Monotonic { latest: Option<EventKey> },
}

/// Where catch-up events come from.
pub enum Source {
    Merge(Merge),
    /// `desc`: the whole range, read ascending, reversed.
    Reversed(std::vec::IntoIter<Arc<Event>>),
}

impl Source {
    async fn next(&mut self) -> Result<Option<Arc<Event>>, StoreError> {
        match self {
            Source::Merge(merge) => merge.next().await,
            Source::Reversed(events) => Ok(events.next()),
        }
    }
}

enum Phase {
    CatchUp(Source),
    Live(Option<Merge>),
    Done,
}

pub struct Feed {
    state: AppState,
    pipeline: Pipeline,
    mode: Mode,
    phase: Phase,
    /// Per stream, the newest offset read; the live phase reads after it.
    read_to: BTreeMap<StreamId, u64>,
    watch: watch::Receiver<u64>,
    stop: CancellationToken,
    out: String,
    /// Whether a live event was sent yet (the `subscribe-live-gap` defect drops the first).
    live_sent: bool,
    _guard: StreamGuard,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The stream id of values that come from no event (43 dots: node id zero).
fn synthetic_stream() -> StreamId {
    StreamId {
        node: NodeId([0; 32]),
        nr: 0,
    }
}

/// One `event` line for one output of the pipeline.
fn event_line(event: &Event, output: &Output, caught_up: Option<bool>) -> String {
    let line = if output.synthetic {
        let empty = Event {
            key: EventKey {
                lamport: 0,
                stream: synthetic_stream(),
                offset: 0,
            },
            timestamp: 0,
            tags: Vec::new(),
            app_id: "none".to_owned(),
            payload: Value::Null,
        };
        empty.line(&output.value, caught_up)
    } else {
        event.line(&output.value, caught_up)
    };
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    text
}

fn offsets_line(offsets: &BTreeMap<StreamId, u64>) -> String {
    let map: serde_json::Map<String, Value> = offsets
        .iter()
        .map(|(s, o)| (s.to_string(), json!(o)))
        .collect();
    format!("{}\n", json!({"type": "offsets", "offsets": map}))
}

pub fn diagnostic_line(severity: &str, message: &str) -> String {
    format!(
        "{}\n",
        json!({"type": "diagnostic", "severity": severity, "message": message})
    )
}

impl Feed {
    pub fn new(
        state: &AppState,
        pipeline: Pipeline,
        mode: Mode,
        source: Source,
        read_to: BTreeMap<StreamId, u64>,
    ) -> Self {
        Self {
            watch: state.actyx.node.watch(),
            stop: state.hub.token("actyx"),
            _guard: state.hub.open_stream(),
            state: state.clone(),
            pipeline,
            mode,
            phase: Phase::CatchUp(source),
            read_to,
            out: String::new(),
            live_sent: false,
        }
    }

    fn read_batch(&self) -> usize {
        self.state.config.subscribers.read_batch.max(1)
    }

    /// Runs one event through the pipeline into `out`; the monotonic rule first.
    /// Returns false when the feed must end (time travel).
    fn deliver(&mut self, event: &Event, caught_up: Option<bool>) -> bool {
        let defects = &self.state.config.defects;
        if let Mode::Monotonic { latest } = &mut self.mode {
            if latest.is_some_and(|l| event.key <= l) && !defects.contains(Defect::NoTimeTravel) {
                let line = json!({"type": "timeTravel", "newStart": {
                    "lamport": event.key.lamport,
                    "stream": event.key.stream,
                    "offset": event.key.offset,
                }});
                self.out.push_str(&format!("{line}\n"));
                return defects.contains(Defect::TimeTravelStaysOpen);
            }
            *latest = Some((*latest).max(Some(event.key)).unwrap_or(event.key));
        }
        let meta = EventMeta {
            tags: &event.tags,
            app_id: &event.app_id,
            local: event.key.stream.node == self.state.actyx.node.id,
        };
        let outcome = self.pipeline.feed(&meta, &event.payload);
        for message in &outcome.diagnostics {
            self.out.push_str(&diagnostic_line("warning", message));
        }
        let last = outcome.outputs.len().saturating_sub(1);
        for (i, output) in outcome.outputs.iter().enumerate() {
            let flag = caught_up.map(|c| c && i == last);
            self.out.push_str(&event_line(event, output, flag));
        }
        true
    }

    /// The next chunk of body, or `None` at the end.
    async fn next_chunk(&mut self) -> Option<String> {
        loop {
            if !self.out.is_empty() {
                return Some(std::mem::take(&mut self.out));
            }
            if self.stop.is_cancelled() {
                self.phase = Phase::Done;
            }
            match &mut self.phase {
                Phase::Done => return None,
                Phase::CatchUp(_) => self.catch_up_step().await,
                Phase::Live(_) => self.live_step().await,
            }
        }
    }

    async fn catch_up_step(&mut self) {
        let Phase::CatchUp(source) = &mut self.phase else {
            return;
        };
        let mut finished = false;
        let mut events = Vec::new();
        for _ in 0..self.state.config.subscribers.read_batch.max(1) {
            match source.next().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {
                    finished = true;
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "actyx: reading events for a feed failed");
                    self.out
                        .push_str(&diagnostic_line("error", "Internal server error."));
                    self.phase = Phase::Done;
                    return;
                }
            }
        }
        let monotonic = matches!(self.mode, Mode::Monotonic { .. });
        for event in &events {
            if !self.deliver(event, monotonic.then_some(false)) {
                self.phase = Phase::Done;
                return;
            }
            if self.pipeline.exhausted() {
                finished = true;
                break;
            }
        }
        if !finished {
            return;
        }
        match &self.mode {
            Mode::Query { upper } => {
                self.out.push_str(&offsets_line(upper));
                self.phase = Phase::Done;
            }
            Mode::Subscribe | Mode::Monotonic { .. } => {
                // The end of catch-up: what it read up to (the present when the
                // subscription opened, and the lower bound beyond it), never
                // streams or events that appeared since, which come live.
                self.out.push_str(&offsets_line(&self.read_to));
                self.phase = if self.pipeline.exhausted() {
                    Phase::Done
                } else {
                    Phase::Live(None)
                };
            }
        }
    }

    async fn live_step(&mut self) {
        let read_batch = self.read_batch();
        let Phase::Live(merge) = &mut self.phase else {
            return;
        };
        if merge.is_none() {
            // Mark the counter seen before looking, so that a commit after
            // the look wakes the wait below.
            self.watch.borrow_and_update();
            let present = self.state.actyx.node.present();
            let wanted = ranges(&self.read_to, &present);
            if !wanted.is_empty() {
                for (stream, range) in &wanted {
                    self.read_to.insert(*stream, range.upto);
                }
                let reader = self.live_merge(&wanted);
                self.phase = Phase::Live(Some(reader));
                return;
            }
            let keepalive = self.state.actyx.config.keepalive;
            let stop = self.stop.clone();
            tokio::select! {
                changed = self.watch.changed() => {
                    if changed.is_err() {
                        self.phase = Phase::Done;
                    }
                }
                () = tokio::time::sleep(keepalive) => {
                    if !self.state.config.defects.contains(Defect::ActyxNoKeepalive) {
                        self.out.push('\n');
                    }
                }
                () = stop.cancelled() => self.phase = Phase::Done,
            }
            return;
        }
        let Some(reader) = merge.as_mut() else { return };
        let mut events = Vec::new();
        let mut drained = false;
        for _ in 0..read_batch {
            match reader.next().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {
                    drained = true;
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "actyx: reading live events failed");
                    self.phase = Phase::Done;
                    return;
                }
            }
        }
        if !drained {
            drained = !reader.has_more().await.unwrap_or(false);
        }
        let monotonic = matches!(self.mode, Mode::Monotonic { .. });
        let defects = &self.state.config.defects;
        let never_caught_up = defects.contains(Defect::CaughtUpNeverTrue);
        let gap =
            matches!(self.mode, Mode::Subscribe) && defects.contains(Defect::SubscribeLiveGap);
        let count = events.len();
        for (i, event) in events.iter().enumerate() {
            let first_live = !std::mem::replace(&mut self.live_sent, true);
            if gap && first_live {
                continue;
            }
            let caught_up = monotonic.then_some(drained && i + 1 == count && !never_caught_up);
            if !self.deliver(event, caught_up) || self.pipeline.exhausted() {
                self.phase = Phase::Done;
                return;
            }
        }
        if drained {
            self.phase = Phase::Live(None);
        }
    }

    fn live_merge(&self, wanted: &BTreeMap<StreamId, Range>) -> Merge {
        Merge::new(
            self.state.log.clone(),
            Arc::clone(&self.state.actyx.recent),
            self.state.actyx.node.id,
            self.pipeline.query().source.clone(),
            wanted,
            self.read_batch(),
        )
    }

    /// The streaming response: `200`, `application/x-ndjson`.
    pub fn response(self) -> Response {
        let body = futures_util::stream::unfold(self, |mut feed| async move {
            let chunk = feed.next_chunk().await?;
            Some((Ok::<_, Infallible>(Bytes::from(chunk)), feed))
        });
        let mut response = Body::from_stream(body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        response
    }
}

/// A response of exactly these lines (an early error diagnostic).
pub fn lines_response(lines: String) -> Response {
    let mut response = Body::from(lines).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// The key of the newest event `FROM` selects at or below `lower` in any
/// stream: the point a monotonic subscription must not travel back behind.
/// Streams are read backwards in windows, since lamports grow with offsets.
pub async fn newest_within(
    state: &AppState,
    source: &TagExpr,
    lower: &BTreeMap<StreamId, u64>,
) -> Result<Option<EventKey>, StoreError> {
    let window = state.config.subscribers.read_batch.max(1) as u64;
    let mut newest: Option<EventKey> = None;
    for (stream, upto) in lower {
        let name = super::model::log_stream(stream);
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
                    local: stream.node == state.actyx.node.id,
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

/// Shared by the handlers: the events of `ranges` as a catch-up source.
pub async fn source(
    state: &AppState,
    source: &TagExpr,
    wanted: &BTreeMap<StreamId, Range>,
    descending: bool,
) -> Result<Source, StoreError> {
    let mut merge = Merge::new(
        state.log.clone(),
        Arc::clone(&state.actyx.recent),
        state.actyx.node.id,
        source.clone(),
        wanted,
        state.config.subscribers.read_batch,
    );
    merge.reverse_ties = state.config.defects.contains(Defect::TieBreakReversed);
    if !descending {
        return Ok(Source::Merge(merge));
    }
    let mut all = VecDeque::new();
    while let Some(event) = merge.next().await? {
        all.push_front(event);
    }
    Ok(Source::Reversed(Vec::from(all).into_iter()))
}
