//! The NDJSON body of query, subscribe and subscribe_monotonic: catch-up in key order, the `offsets` line, then live.
//!
//! The body is a [`Follower`] (see [`crate::core::follow`]) around the feed:
//! each step reads the next batch of events, runs them through the query's
//! pipeline and hands over the lines. Its position is an offset per stream
//! (`read_to`); its watch is the node's change counter; its keep-alive is a
//! blank line.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use super::aql::eval::Pipeline;
use super::aql::{EventMeta, TagExpr};
use super::line::{diagnostic_line, event_line, offsets_line, time_travel_line};
use super::model::{Event, EventKey, StreamId};
use super::read::{Merge, Range, ranges};
use crate::actyx::Ctx;
use crate::core::follow::{End, Feed as Follow, Follower, Pace, Place, Step};
use crate::defects::Defect;
use crate::store::StoreError;

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
    state: Ctx,
    pipeline: Pipeline,
    mode: Mode,
    phase: Phase,
    /// The offsets a subscription read to, until the response takes them.
    read_to: Option<BTreeMap<StreamId, u64>>,
    /// The body chunk being built: every line of one read batch.
    out: Vec<u8>,
    /// The read batch being delivered; kept to reuse its memory.
    batch: Vec<Arc<Event>>,
    /// The query sends events as they are ([`Pipeline::passes_unchanged`]):
    /// their shared lines go out without rendering.
    unchanged: bool,
    /// Whether a live event was sent yet (the `subscribe-live-gap` defect drops the first).
    live_sent: bool,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Feed {
    pub fn new(
        state: &Ctx,
        pipeline: Pipeline,
        mode: Mode,
        source: Source,
        read_to: BTreeMap<StreamId, u64>,
    ) -> Self {
        Self {
            state: state.clone(),
            unchanged: pipeline.passes_unchanged(),
            pipeline,
            mode,
            phase: Phase::CatchUp(source),
            read_to: Some(read_to),
            out: Vec::new(),
            batch: Vec::new(),
            live_sent: false,
        }
    }

    /// Runs one event through the pipeline into `out`; the monotonic rule first.
    /// Returns false when the feed must end (time travel).
    fn deliver(&mut self, event: &Event, caught_up: Option<bool>) -> bool {
        let defects = &self.state.config.defects;
        if let Mode::Monotonic { latest } = &mut self.mode {
            if latest.is_some_and(|l| event.key <= l) && !defects.contains(Defect::NoTimeTravel) {
                self.out
                    .extend_from_slice(time_travel_line(event.key).as_bytes());
                return defects.contains(Defect::TimeTravelStaysOpen);
            }
            *latest = Some((*latest).max(Some(event.key)).unwrap_or(event.key));
        }
        let meta = EventMeta {
            tags: &event.tags,
            app_id: &event.app_id,
            local: event.key.stream.node == self.state.api.node.id,
        };
        if self.unchanged {
            if self.pipeline.admit(&meta) {
                event.write_shared_line(caught_up, &mut self.out);
            }
            return true;
        }
        let outcome = self.pipeline.feed(&meta, &event.payload);
        for message in &outcome.diagnostics {
            self.out
                .extend_from_slice(diagnostic_line("warning", message).as_bytes());
        }
        let last = outcome.outputs.len().saturating_sub(1);
        for (i, output) in outcome.outputs.iter().enumerate() {
            let flag = caught_up.map(|c| c && i == last);
            event_line(event, output, flag, &mut self.out);
        }
        true
    }

    /// Makes room in `out` for the shared lines of `events` at once, so that
    /// a batch is copied into its chunk without growing it step by step.
    /// Not under a `LIMIT`, which may send a few of them only.
    fn reserve_for(&mut self, events: &[Arc<Event>]) {
        if self.unchanged && self.pipeline.query().ops.is_empty() {
            // `caughtUp` adds at most 19 bytes to a line.
            let size: usize = events.iter().map(|e| e.shared_line().len() + 19).sum();
            self.out.reserve(size);
        }
    }

    async fn catch_up_step(&mut self, at: &Offsets, read_batch: usize) {
        let Phase::CatchUp(source) = &mut self.phase else {
            return;
        };
        let mut finished = false;
        let mut events = std::mem::take(&mut self.batch);
        for _ in 0..read_batch {
            match source.next().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {
                    finished = true;
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "actyx: reading events for a feed failed");
                    self.out.extend_from_slice(
                        diagnostic_line("error", "Internal server error.").as_bytes(),
                    );
                    self.phase = Phase::Done;
                    return;
                }
            }
        }
        let monotonic = matches!(self.mode, Mode::Monotonic { .. });
        let flag = self
            .state
            .config
            .defects
            .contains(Defect::CaughtUpAlwaysTrue);
        self.reserve_for(&events);
        let mut time_travel = false;
        for event in &events {
            if !self.deliver(event, monotonic.then_some(flag)) {
                time_travel = true;
                break;
            }
            if self.pipeline.exhausted() {
                finished = true;
                break;
            }
        }
        events.clear();
        self.batch = events;
        if time_travel {
            self.phase = Phase::Done;
            return;
        }
        if !finished {
            return;
        }
        match &self.mode {
            Mode::Query { upper } => {
                self.out.extend_from_slice(offsets_line(upper).as_bytes());
                self.phase = Phase::Done;
            }
            Mode::Subscribe | Mode::Monotonic { .. } => {
                // The end of catch-up: what it read up to (the present when the
                // subscription opened, and the lower bound beyond it), never
                // streams or events that appeared since, which come live.
                self.out
                    .extend_from_slice(offsets_line(&at.read_to).as_bytes());
                self.phase = if self.pipeline.exhausted() {
                    Phase::Done
                } else {
                    Phase::Live(None)
                };
            }
        }
    }

    /// Live and caught up: starts reading what the node has beyond what
    /// was read, or returns false when it has nothing new.
    fn look(&mut self, at: &mut Offsets, read_batch: usize) -> bool {
        // Mark the counter seen before looking, so that a commit after the
        // look wakes the follower's wait.
        at.watch.borrow_and_update();
        let present = self.state.api.node.present();
        let wanted = ranges(&at.read_to, &present);
        if wanted.is_empty() {
            return false;
        }
        for (stream, range) in &wanted {
            at.read_to.insert(*stream, range.upto);
        }
        let reader = self.live_merge(&wanted, read_batch);
        self.phase = Phase::Live(Some(reader));
        true
    }

    async fn live_step(&mut self, read_batch: usize) {
        let Phase::Live(merge) = &mut self.phase else {
            return;
        };
        let Some(reader) = merge.as_mut() else { return };
        let mut events = std::mem::take(&mut self.batch);
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
        self.reserve_for(&events);
        let mut ended = false;
        for (i, event) in events.iter().enumerate() {
            let first_live = !std::mem::replace(&mut self.live_sent, true);
            if gap && first_live {
                continue;
            }
            let caught_up = monotonic.then_some(drained && i + 1 == count && !never_caught_up);
            if !self.deliver(event, caught_up) || self.pipeline.exhausted() {
                ended = true;
                break;
            }
        }
        events.clear();
        self.batch = events;
        if ended {
            self.phase = Phase::Done;
        } else if drained {
            self.phase = Phase::Live(None);
        }
    }

    fn live_merge(&self, wanted: &BTreeMap<StreamId, Range>, read_batch: usize) -> Merge {
        Merge::new(
            self.state.log.clone(),
            Arc::clone(&self.state.api.recent),
            self.state.api.node.id,
            self.pipeline.query().source.clone(),
            wanted,
            read_batch,
        )
    }

    /// The streaming response: `200`, `application/x-ndjson`.
    pub fn response(mut self) -> Response {
        let at = Offsets {
            read_to: self.read_to.take().unwrap_or_default(),
            watch: self.state.api.node.watch(),
        };
        let pace = Pace {
            stop: self.state.hub.token("actyx"),
            keepalive: self.state.api.config.keepalive,
            read_batch: self.state.config.subscribers.read_batch,
        };
        let hub = Arc::clone(&self.state.hub);
        let mut response = Follower::new(self, at, &hub, pace).body().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        response
    }
}

/// Where a feed is: per stream, the newest offset read (the live phase
/// reads after it), and the node's change counter.
pub struct Offsets {
    read_to: BTreeMap<StreamId, u64>,
    watch: watch::Receiver<u64>,
}

impl Place for Offsets {
    async fn more(&mut self) -> bool {
        self.watch.changed().await.is_ok()
    }
}

impl Follow for Feed {
    type Out = Vec<u8>;
    type Place = Offsets;

    async fn step(&mut self, at: &mut Offsets, batch: usize) -> Step<Vec<u8>> {
        match &self.phase {
            Phase::Done => return Step::End(End::Finished, None),
            Phase::CatchUp(_) => self.catch_up_step(at, batch).await,
            Phase::Live(None) => {
                if !self.look(at, batch) {
                    return Step::CaughtUp;
                }
            }
            Phase::Live(Some(_)) => self.live_step(batch).await,
        }
        let out = std::mem::take(&mut self.out);
        match (&self.phase, out.is_empty()) {
            (Phase::Done, true) => Step::End(End::Finished, None),
            (Phase::Done, false) => Step::End(End::Finished, Some(out)),
            (_, true) => Step::Again,
            (_, false) => Step::Send(out),
        }
    }

    /// A blank line.
    fn keepalive(&mut self, _at: &Offsets) -> Option<Vec<u8>> {
        let silent = self.state.config.defects.contains(Defect::ActyxNoKeepalive);
        (!silent).then(|| b"\n".to_vec())
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

/// Shared by the handlers: the events of `ranges` as a catch-up source.
pub async fn source(
    state: &Ctx,
    source: &TagExpr,
    wanted: &BTreeMap<StreamId, Range>,
    descending: bool,
) -> Result<Source, StoreError> {
    let mut merge = Merge::new(
        state.log.clone(),
        Arc::clone(&state.api.recent),
        state.api.node.id,
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
