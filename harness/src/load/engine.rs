//! The stream load engine: subscribers connect, then an open-loop publisher sends on schedule, and every delivery is timed.
//!
//! Each publisher worker sends its events one at a time, each at its
//! intended time or at once if it is behind, like a closed-loop client on
//! one connection. Two delivery latencies come out of that: from the intended
//! time (`deliver`: what a user waiting for the event sees) and from the
//! actual send (`deliver_uncorrected`: what a closed-loop tool reports). When
//! the target stalls, the events that should have gone out meanwhile are
//! sent late; the first view charges them the stall, the second does not.
//!
//! A closed loop (`--rate max`) has no intended times: each worker sends its
//! next request as soon as the last is acknowledged, until the duration is
//! over, and `deliver` is measured from the actual send. Every acknowledged
//! event also times `ack_deliver`, from the acknowledgement to the delivery:
//! what a writer that waits for its write to be confirmed sees.
//!
//! With `--batch B`, a request carries B consecutive events of its worker,
//! all meant to go out at the time of the first.
//!
//! Every subscriber keeps a bit per event of this worker, so duplicates are
//! counted, and events it never saw are `lost`; a long run keeps these bits
//! and the publishers' ledger for the newest events only (`window.rs`).
//! Events of one publisher worker must arrive in the order that worker sent
//! them (each waited for the previous acknowledgement); one that arrives
//! after a later one is `out_of_order`.
//!
//! A subscriber whose stream drops before the run stops opens it again,
//! resuming after the last position it read (SSE id, Fauna cursor, Actyx
//! offsets, AT `seq`; Pulse's `/subscribe` is live only), and the time it
//! took goes to `reconnect`. Events a resumable stream does not replay are
//! `lost`, as they would be for any client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::adapter::{Adapter, Event, Frame, Position};
use super::intervals::Intervals;
use super::schedule::Schedule;
use super::shard::Shard;
use super::stats::{Interval, Local, Stats};
use super::timing;
use super::window::{Arrival, Ledger, Seen};

/// A publish later than this after its intended time counts as late.
const LATE: Duration = Duration::from_millis(100);
/// Subscribers connecting at once.
const CONNECT_CONCURRENCY: usize = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schedule: Schedule,
    pub shard: Shard,
    pub subscribers: u32,
    pub publishers: u32,
    /// Events per publish request.
    pub batch: u32,
    /// The wall-clock start of the schedule; `None`: as soon as every subscriber is connected.
    pub start_at: Option<SystemTime>,
    /// How long subscribers may still receive after the last publish.
    pub grace: Duration,
    /// The length of an interval of the interval logs.
    pub interval: Duration,
}

impl Plan {
    /// This worker's events, by local index.
    fn events(&self) -> u64 {
        let total = self.schedule.total();
        let (index, count) = (u64::from(self.shard.index), u64::from(self.shard.count));
        if total <= index {
            0
        } else {
            (total - index).div_ceil(count)
        }
    }

    /// The global number of local event `i`.
    fn global(&self, i: u64) -> u64 {
        i * u64::from(self.shard.count) + u64::from(self.shard.index)
    }

    /// When the request carrying local event `i` is meant to go out: the
    /// intended time of its batch's first event.
    fn intended(&self, i: u64) -> Duration {
        let first = i - i % u64::from(self.batch);
        self.schedule.intended(self.global(first))
    }

    /// The local number of global event `k`, if it is this worker's.
    fn local(&self, k: u64) -> Option<u64> {
        let (index, count) = (u64::from(self.shard.index), u64::from(self.shard.count));
        (k % count == index).then(|| (k - index) / count)
    }

    /// The publisher worker that sends local event `i`.
    fn worker(&self, i: u64) -> usize {
        (i / u64::from(self.batch) % u64::from(self.publishers)) as usize
    }
}

/// What publishers and subscribers share.
#[derive(Debug)]
struct Shared {
    plan: Plan,
    stats: Arc<Stats>,
    /// When the schedule starts.
    start: Instant,
    /// Per local event, for the newest ones: when it was sent and
    /// acknowledged, and whether it failed.
    ledger: Ledger,
    /// Local events handed to a publisher so far: an upper bound of the
    /// indices in use (a closed loop uses few of its events).
    issued: AtomicU64,
    /// Events acknowledged so far.
    acked: AtomicU64,
}

/// Where the run is, as subscribers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Publishing,
    /// Every publish is done: a subscriber that has every acknowledged event may stop.
    Draining,
    /// The grace period is over.
    Stop,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    pub start: SystemTime,
    pub intervals: Intervals,
    /// From the schedule's start to the end of the grace period.
    pub elapsed: Duration,
}

/// Called once per interval with the interval just closed, for the progress display.
pub type Progress<'a> = Box<dyn FnMut(&Interval, &Stats) + Send + 'a>;

/// Runs `plan` against the target behind `adapter`.
///
/// `alongside` (the request load) starts with the schedule, and the
/// publishing phase lasts until it, every publisher and `duration` are done.
pub async fn run(
    adapter: Arc<Adapter>,
    plan: Plan,
    stats: Arc<Stats>,
    progress: Progress<'_>,
    alongside: Option<BoxFuture<'static, ()>>,
) -> Result<Outcome, String> {
    let subscribers = connect_all(&adapter, &plan, &stats).await?;
    let wall_start = plan
        .start_at
        .unwrap_or_else(|| SystemTime::now() + Duration::from_millis(50));
    let shared = Arc::new(Shared::new(&plan, &stats, wall_start));
    let (phase, watching) = watch::channel(Phase::Publishing);
    let mut readers = JoinSet::new();
    for (from, frames) in subscribers {
        let (adapter, shared) = (Arc::clone(&adapter), Arc::clone(&shared));
        readers.spawn(read(adapter, from, frames, shared, watching.clone()));
    }
    let mut publishers = spawn_publishers(&adapter, &shared, alongside);
    let mut clock = Clock::new(&shared, progress).await;
    loop {
        tokio::select! {
            _ = clock.tick.tick() => clock.close(),
            joined = publishers.join_next() => match joined {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(format!("a publisher failed: {e}")),
                None => break,
            },
        }
    }
    phase.send_replace(Phase::Draining);
    let grace_end = tokio::time::Instant::now() + plan.grace;
    let mut lost = 0;
    let mut stopped = false;
    loop {
        tokio::select! {
            _ = clock.tick.tick() => clock.close(),
            joined = readers.join_next() => match joined {
                Some(joined) => lost += joined.map_err(|e| format!("a subscriber failed: {e}"))?,
                None => break,
            },
            () = tokio::time::sleep_until(grace_end), if !stopped => {
                phase.send_replace(Phase::Stop);
                stopped = true;
            }
        }
    }
    stats.count("lost", lost);
    clock.close();
    Ok(Outcome {
        start: wall_start,
        intervals: clock.intervals,
        elapsed: shared.start.elapsed(),
    })
}

impl Shared {
    /// The shared state of a schedule that starts at `wall_start`.
    fn new(plan: &Plan, stats: &Arc<Stats>, wall_start: SystemTime) -> Shared {
        let events = plan.events();
        let until_start = wall_start
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Shared {
            start: Instant::now() + until_start,
            ledger: Ledger::new(events),
            issued: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            plan: plan.clone(),
            stats: Arc::clone(stats),
        }
    }
}

/// The publisher workers, the schedule's duration and the request load: the
/// publishing phase lasts until every one of them is done.
fn spawn_publishers(
    adapter: &Arc<Adapter>,
    shared: &Arc<Shared>,
    alongside: Option<BoxFuture<'static, ()>>,
) -> JoinSet<()> {
    let mut publishers = JoinSet::new();
    for worker in 0..shared.plan.publishers {
        publishers.spawn(publish(Arc::clone(adapter), Arc::clone(shared), worker));
    }
    // A run that publishes little or nothing (passive subscribers, requests
    // alone) still lasts its duration.
    let start = shared.start;
    publishers.spawn(tokio::time::sleep_until(
        (start + shared.plan.schedule.duration).into(),
    ));
    if let Some(alongside) = alongside {
        publishers.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            alongside.await;
        });
    }
    publishers
}

/// Cuts the run into intervals, while the publishers run and through the grace period.
struct Clock<'a> {
    tick: tokio::time::Interval,
    shared: Arc<Shared>,
    progress: Progress<'a>,
    /// Where the open interval began, from the start.
    boundary: Duration,
    intervals: Intervals,
}

impl<'a> Clock<'a> {
    /// A clock whose first interval opens at the schedule's start.
    async fn new(shared: &Arc<Shared>, progress: Progress<'a>) -> Clock<'a> {
        let mut tick = tokio::time::interval_at(shared.start.into(), shared.plan.interval);
        tick.tick().await;
        Clock {
            tick,
            shared: Arc::clone(shared),
            progress,
            boundary: Duration::ZERO,
            intervals: Intervals::default(),
        }
    }

    /// Closes the open interval and reports it.
    fn close(&mut self) {
        let now = self.shared.start.elapsed();
        let stats = &self.shared.stats;
        let interval = Interval {
            start: self.boundary,
            length: now.saturating_sub(self.boundary),
            set: stats.take_interval(),
        };
        self.boundary = now;
        (self.progress)(&interval, stats);
        self.intervals.push(interval);
    }
}

impl std::fmt::Debug for Clock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("boundary", &self.boundary)
            .field("intervals", &self.intervals.len())
            .finish_non_exhaustive()
    }
}

/// Connects every subscriber, a bounded number at a time, timing each.
async fn connect_all(
    adapter: &Arc<Adapter>,
    plan: &Plan,
    stats: &Arc<Stats>,
) -> Result<Vec<(Position, super::adapter::Frames)>, String> {
    let mut connected = Vec::with_capacity(plan.subscribers as usize);
    let mut pending = futures_util::stream::iter(0..plan.subscribers)
        .map(|_| {
            let adapter = Arc::clone(adapter);
            async move {
                let from = match adapter.start_position().await {
                    Ok(from) => from,
                    Err(error) => return (Duration::ZERO, Err(error)),
                };
                let began = Instant::now();
                let frames = adapter.subscribe(&from).await.map(|f| (from, f));
                (began.elapsed(), frames)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    let mut first_error = None;
    while let Some((took, frames)) = pending.next().await {
        match frames {
            Ok(frames) => {
                stats.record("connect", took);
                connected.push(frames);
            }
            Err(error) => {
                stats.count("subscriber_errors", 1);
                first_error.get_or_insert(error);
            }
        }
    }
    if connected.is_empty() && plan.subscribers > 0 {
        return Err(format!(
            "no subscriber could connect: {}",
            first_error.unwrap_or_default()
        ));
    }
    Ok(connected)
}

/// One publisher worker: the requests `u ≡ worker (mod publishers)`, each
/// carrying local events `u·batch ..`, sent at its time (at once in a closed
/// loop, until the duration is over).
async fn publish(adapter: Arc<Adapter>, shared: Arc<Shared>, worker: u32) {
    let plan = &shared.plan;
    let (batch, events) = (u64::from(plan.batch), shared.ledger.events());
    let closed = plan.schedule.is_closed();
    let end = shared.start + plan.schedule.duration;
    let mut first = u64::from(worker) * batch;
    while first < events {
        let local: Vec<u64> = (first..events.min(first + batch)).collect();
        let intended = shared.start + plan.intended(first);
        tokio::time::sleep_until(intended.into()).await;
        let now = Instant::now();
        if closed && now >= end {
            break;
        }
        let sent = now.saturating_duration_since(shared.start);
        let origin =
            timing::latency_origin(closed, plan.intended(first), Some(sent)).unwrap_or(sent);
        if timing::since(origin, sent) > LATE {
            shared.stats.count("late_publishes", 1);
        }
        shared
            .issued
            .fetch_max(first + local.len() as u64, Ordering::AcqRel);
        for &i in &local {
            shared.ledger.sent(i, sent);
        }
        let ks: Vec<u64> = local.iter().map(|&i| plan.global(i)).collect();
        let answer = adapter.publish_batch(&ks).await;
        let acked = shared.start.elapsed();
        let n = local.len() as u64;
        match answer {
            Ok(()) => {
                for &i in &local {
                    shared.ledger.acked(i, acked);
                }
                shared.acked.fetch_add(n, Ordering::AcqRel);
                shared.stats.count("published", n);
                shared
                    .stats
                    .record("publish_ack", timing::since(origin, acked));
            }
            Err(error) => {
                for &i in &local {
                    shared.ledger.failed(i);
                }
                shared.stats.count("publish_errors", n);
                tracing::debug!(first = ks[0], %error, "publish failed");
            }
        }
        first += u64::from(plan.publishers) * batch;
    }
    if closed && first >= events {
        tracing::warn!(
            "the closed loop published its {events} events before the duration was over"
        );
    }
}

/// One subscriber: times every event of this run and returns how many acknowledged ones it missed.
async fn read(
    adapter: Arc<Adapter>,
    position: Position,
    mut frames: super::adapter::Frames,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> u64 {
    let mut tally = Tally::new(&shared.plan, position);
    let mut opened = tally.connected;
    loop {
        let now_phase = *phase.borrow_and_update();
        let complete = tally.received >= shared.acked.load(Ordering::Acquire);
        if now_phase == Phase::Stop || (now_phase == Phase::Draining && complete) {
            break;
        }
        let read = tokio::select! {
            read = frames.next() => read,
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        let frames_read = match read {
            Some(Ok(frames_read)) => frames_read,
            ended => {
                shared.stats.count("subscriber_errors", 1);
                let why = match ended {
                    Some(Err(error)) => error,
                    _ => "the stream ended".to_owned(),
                };
                tracing::debug!(%why, "a subscriber dropped; reconnecting");
                // A target that ends every stream at once gets at most ten
                // reconnects a second from each subscriber, not a busy loop.
                tokio::time::sleep_until((opened + MIN_STREAM_LIFE).into()).await;
                // Boxed: a reconnect's future (an HTTP or WebSocket handshake)
                // is several KiB, and would otherwise sit in every subscriber's
                // task for the whole run.
                let resumed = reconnect(&adapter, &tally.position, &shared.stats, &mut phase);
                match Box::pin(resumed).await {
                    Some(resumed) => {
                        frames = resumed;
                        opened = Instant::now();
                        continue;
                    }
                    None => break,
                }
            }
        };
        tally.read(&shared, frames_read, Instant::now());
    }
    tally.missed(&shared)
}

/// What one subscriber has received.
#[derive(Debug)]
struct Tally {
    seen: Seen,
    /// Events of this run, each counted once.
    received: u64,
    connected: Instant,
    last_event: Option<Instant>,
    /// Per publisher worker, the highest event received from it.
    last_of_worker: Vec<Option<u64>>,
    /// Where the stream has read to, for a reconnect.
    position: Position,
    /// What one read recorded, added to the run's stats once per read.
    local: Local,
}

impl Tally {
    fn new(plan: &Plan, position: Position) -> Tally {
        Tally {
            seen: Seen::new(u64::from(plan.publishers) * u64::from(plan.batch)),
            received: 0,
            connected: Instant::now(),
            last_event: None,
            last_of_worker: vec![None; plan.publishers as usize],
            position,
            local: Local::default(),
        }
    }

    /// Accounts the frames of one read, which arrived at `now`, and adds what
    /// they recorded to the run's stats in one step.
    fn read(&mut self, shared: &Shared, frames: Vec<Frame>, now: Instant) {
        // One clock read per read: the frames of a chunk arrived together.
        let wall = SystemTime::now();
        for frame in frames {
            self.local.count("frames", 1);
            self.local.count("bytes", frame.bytes as u64);
            if let Some(step) = frame.step {
                self.position.advance(step);
            }
            if let Some(event) = frame.event {
                self.event(shared, &event, now, wall);
            }
        }
        shared.stats.flush(&mut self.local);
    }

    /// Times and accounts one event that arrived at `now` (`wall` by the wall clock).
    fn event(&mut self, shared: &Shared, event: &Event, now: Instant, wall: SystemTime) {
        let stats = &mut self.local;
        // Every event, the run's or not: what a passive subscriber measures.
        match self.last_event.replace(now) {
            None => stats.record("first_event", now.duration_since(self.connected)),
            Some(previous) => stats.record("inter_arrival", now.duration_since(previous)),
        }
        if let Some(at) = event.at {
            let age = wall.duration_since(at).unwrap_or_default();
            stats.record("event_age", age);
        }
        let Some(i) = event.marker.and_then(|k| shared.plan.local(k)) else {
            return;
        };
        if i >= shared.ledger.events() {
            return;
        }
        if self.seen.insert(i, &shared.ledger) != Arrival::First {
            stats.count("duplicated", 1);
            return;
        }
        let sent = shared.ledger.sent_at(i);
        self.received += 1;
        stats.count("delivered", 1);
        let now = now.saturating_duration_since(shared.start);
        if let Some(sent) = sent {
            stats.record("deliver_uncorrected", timing::since(sent, now));
        }
        let closed = shared.plan.schedule.is_closed();
        if let Some(origin) = timing::latency_origin(closed, shared.plan.intended(i), sent) {
            stats.record("deliver", timing::since(origin, now));
        }
        match shared.ledger.acked_at(i) {
            None => {
                stats.count("delivered_before_ack", 1);
                stats.record("ack_deliver", Duration::ZERO);
            }
            Some(acked) => stats.record("ack_deliver", timing::since(acked, now)),
        }
        let worker = shared.plan.worker(i);
        let last = &mut self.last_of_worker[worker];
        if last.is_some_and(|last| last > i) {
            stats.count("out_of_order", 1);
        }
        *last = Some(last.map_or(i, |last| last.max(i)));
    }

    /// The acknowledged events this subscriber never received.
    fn missed(&self, shared: &Shared) -> u64 {
        let issued = shared.issued.load(Ordering::Acquire);
        self.seen.missed(issued, &shared.ledger)
    }
}

/// How long a stream lives, at the least, before a reconnect opens the next.
const MIN_STREAM_LIFE: Duration = Duration::from_millis(100);

/// Opens a dropped subscriber's stream again after what it has read, every
/// 100 ms until it answers or the run stops; the time from the drop to the
/// new stream goes to `reconnect`.
async fn reconnect(
    adapter: &Adapter,
    position: &Position,
    stats: &Stats,
    phase: &mut watch::Receiver<Phase>,
) -> Option<super::adapter::Frames> {
    let dropped = Instant::now();
    loop {
        if *phase.borrow() == Phase::Stop {
            return None;
        }
        match adapter.subscribe(position).await {
            Ok(frames) => {
                stats.record("reconnect", dropped.elapsed());
                return Some(frames);
            }
            Err(error) => {
                stats.count("subscriber_errors", 1);
                tracing::debug!(%error, "a reconnect failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    changed = phase.changed() => if changed.is_err() { return None; },
                }
            }
        }
    }
}
