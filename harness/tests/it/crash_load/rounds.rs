//! One crash run: rounds of steady publishing with a live subscriber, each ended by SIGKILL, then the reads after the last restart.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use harness::load::adapter::{Access, Adapter, Frame, Position, Step};
use scenarios::Api;

use super::positions::{Ack, Pos, ack, frame_pos};
use super::server::{self, Server};

/// Publishers per round; each sends one event at a time.
const PUBLISHERS: u64 = 4;
/// The time between two sends of one publisher (a steady rate).
const PACE: Duration = Duration::from_millis(2);
/// How long after the round's first acknowledgement the kill may come.
const MAX_KILL_DELAY_MS: u64 = 400;
/// How long a read from a cursor up to the sentinel may take.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// How long such a read may go without a frame.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run is asked to do.
pub struct Settings {
    pub api: Api,
    pub kills: u32,
    pub seed: u64,
    pub defects: Vec<&'static str>,
}

/// A cursor a live subscriber held right after event `after`.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub after: u64,
    pub round: u32,
    pub position: Position,
}

/// Everything a run saw.
#[derive(Debug, Default)]
pub struct Record {
    pub acks: Vec<Ack>,
    /// Events a live subscriber read before a kill: (k, round, position).
    pub seen: Vec<(u64, u32, Pos)>,
    pub cursors: Vec<Cursor>,
    /// Events sent, acknowledged or not.
    pub attempted: u64,
    /// Things that went wrong while the server was up.
    pub troubles: Vec<String>,
    /// The event published after the last restart; every read ends there.
    pub sentinel: u64,
    /// The whole log read from the start after the last restart (empty if
    /// that read failed, which is a trouble).
    pub truth: Vec<(u64, Pos)>,
    /// What each cursor resumed to after the last restart, in `cursors` order.
    pub resumed: Vec<Result<Vec<(u64, Pos)>, String>>,
}

/// A small seeded generator (splitmix64), so a seed replays the kill times.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

fn access(base: &str) -> Access {
    Access {
        base: base.to_owned(),
        subscribe_base: base.to_owned(),
        control_token: "control_test_token".to_owned(),
        credentials: harness::target::Credentials::default(),
        passive: None,
        producer: None,
    }
}

/// Runs `settings.kills` rounds against one data directory, restarts once
/// more, publishes the sentinel and reads everything back.
pub async fn run(settings: &Settings) -> Record {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = settings.api;
    let mut rng = Rng(settings.seed);
    let mut first = Some(start(dir.path(), settings));
    let base = first
        .as_ref()
        .map(|s| s.base_url.clone())
        .unwrap_or_default();
    let prepared = Adapter::prepare(api, access(&base), "crash".to_owned())
        .await
        .expect("the load adapter prepares its account, tokens or collection");
    let origin = origin(&prepared, api).await;
    let next_k = Arc::new(AtomicU64::new(0));
    let mut record = Record::default();
    let mut position = origin.clone();
    for round in 0..settings.kills {
        let server = first.take().unwrap_or_else(|| start(dir.path(), settings));
        let adapter = Arc::new(
            prepared
                .rebased(&server.base_url)
                .await
                .expect("the adapter reaches the restarted server"),
        );
        let kill = Kill {
            server,
            delay: Duration::from_millis(rng.below(MAX_KILL_DELAY_MS)),
        };
        let round_cursors = one_round(
            &adapter,
            api,
            kill,
            round,
            &next_k,
            &mut position,
            &mut record,
        )
        .await;
        // The last cursor before the kill, and one more at random.
        let mut kept = Vec::new();
        if let Some(last) = round_cursors.last() {
            kept.push(last.clone());
        }
        if round_cursors.len() > 1 {
            let pick = rng.below(round_cursors.len() as u64 - 1) as usize;
            kept.push(round_cursors[pick].clone());
        }
        record.cursors.extend(kept);
    }
    let server = first.take().unwrap_or_else(|| start(dir.path(), settings));
    let adapter = prepared
        .rebased(&server.base_url)
        .await
        .expect("the adapter reaches the restarted server");
    record.sentinel = next_k.fetch_add(1, Ordering::SeqCst);
    record.attempted = record.sentinel + 1;
    match adapter.publish_answer(record.sentinel).await {
        Ok(answer) => match ack(api, record.sentinel, settings.kills, &answer) {
            Ok(ack) => record.acks.push(ack),
            Err(e) => record.troubles.push(e),
        },
        Err(e) => record
            .troubles
            .push(format!("the sentinel was not acknowledged: {e}")),
    }
    match read_until(&adapter, api, &origin, record.sentinel).await {
        Ok(truth) => record.truth = truth,
        Err(e) => record
            .troubles
            .push(format!("reading the log after the restarts failed: {e}")),
    }
    for cursor in &record.cursors {
        // A cursor whose event is gone is already a violation; reading from
        // it would only wait for a sentinel that may never come.
        let resumed = if record.truth.iter().any(|(k, _)| *k == cursor.after) {
            read_until(&adapter, api, &cursor.position, record.sentinel).await
        } else {
            Err("not read: the event it was taken at is gone".to_owned())
        };
        record.resumed.push(resumed);
    }
    record
}

fn start(dir: &Path, settings: &Settings) -> Server {
    server::spawn(dir, &settings.defects)
}

/// Where a read of the whole log starts: the beginning, or, for Fauna (whose
/// streams start now), the cursor of a stream opened before anything was published.
async fn origin(adapter: &Adapter, api: Api) -> Position {
    match api {
        Api::Atproto => Position::Seq(0),
        Api::Fauna => {
            let mut frames = one_by_one(adapter.subscribe(&Position::Start).await.expect("stream"));
            while let Some(frame) = frames.next().await {
                if let Ok(Frame {
                    step: Some(Step::Id(cursor)),
                    ..
                }) = frame
                {
                    return Position::Id(cursor);
                }
            }
            panic!("the Fauna stream gave no start cursor");
        }
        _ => Position::Start,
    }
}

/// The server a round ends by SIGKILL, `delay` after its first acknowledgement.
struct Kill {
    server: Server,
    delay: Duration,
}

/// One round: publishers at a steady pace and a live subscriber from
/// `position`, then the kill. Moves what the round saw into `record`,
/// `position` to where the subscriber got, and returns every cursor the
/// subscriber held.
async fn one_round(
    adapter: &Arc<Adapter>,
    api: Api,
    kill: Kill,
    round: u32,
    next_k: &Arc<AtomicU64>,
    position: &mut Position,
    record: &mut Record,
) -> Vec<Cursor> {
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let killed = Arc::new(AtomicBool::new(false));
    let troubles: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut publishers = Vec::new();
    for _ in 0..PUBLISHERS {
        let (adapter, next_k) = (Arc::clone(adapter), Arc::clone(next_k));
        let (acks, killed) = (Arc::clone(&acks), Arc::clone(&killed));
        let troubles = Arc::clone(&troubles);
        publishers.push(tokio::spawn(async move {
            let mut pace = tokio::time::interval(PACE);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !killed.load(Ordering::SeqCst) {
                pace.tick().await;
                let k = next_k.fetch_add(1, Ordering::SeqCst);
                let answer = adapter.publish_answer(k).await;
                match answer.and_then(|answer| ack(api, k, round, &answer)) {
                    Ok(ack) => acks.lock().unwrap().push(ack),
                    // Once the server is killed, every publish fails: the round is over.
                    Err(_) if killed.load(Ordering::SeqCst) => return,
                    Err(e) => {
                        let trouble = format!(
                            "round {round}: publishing {k} failed while the server was up: {e}"
                        );
                        troubles.lock().unwrap().push(trouble);
                        return;
                    }
                }
            }
        }));
    }
    let subscriber = tokio::spawn(live(Arc::clone(adapter), api, round, position.clone()));
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        while acks.lock().unwrap().is_empty() && !publishers.iter().all(|p| p.is_finished()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    if first.is_err() {
        record
            .troubles
            .push(format!("round {round}: nothing acknowledged in 30 s"));
    }
    tokio::time::sleep(kill.delay).await;
    killed.store(true, Ordering::SeqCst);
    kill.server.kill();
    for publisher in publishers {
        publisher.await.expect("publisher");
    }
    let (seen, cursors, reached) = tokio::time::timeout(Duration::from_secs(60), subscriber)
        .await
        .expect("the live subscriber ends once the server is gone")
        .expect("subscriber");
    *position = reached;
    record.acks.extend(acks.lock().unwrap().drain(..));
    record.troubles.extend(troubles.lock().unwrap().drain(..));
    record
        .seen
        .extend(seen.into_iter().map(|(k, at)| (k, round, at)));
    cursors
}

/// A live subscriber from `from` until the server is gone: the events it
/// read with their positions, the cursor after each, and where it got to.
/// A stream that ends (Fauna ends a long replay) opens again where it was.
async fn live(
    adapter: Arc<Adapter>,
    api: Api,
    round: u32,
    from: Position,
) -> (Vec<(u64, Pos)>, Vec<Cursor>, Position) {
    let mut position = from;
    let (mut seen, mut cursors) = (Vec::new(), Vec::new());
    while let Ok(frames) = adapter.subscribe(&position).await {
        let mut frames = one_by_one(frames);
        let before = seen.len();
        while let Some(Ok(frame)) = frames.next().await {
            let at = frame_pos(api, &frame);
            if let Some(step) = frame.step {
                position.advance(step);
            }
            if let (Some(k), Some(at)) = (frame.event.and_then(|e| e.marker), at) {
                seen.push((k, at));
                cursors.push(Cursor {
                    after: k,
                    round,
                    position: position.clone(),
                });
            }
        }
        if seen.len() == before {
            break;
        }
    }
    (seen, cursors, position)
}

/// Reads from `from` up to the sentinel: each of the run's events with its
/// position. A stream that ends early, having read something (Fauna ends a
/// replay after 128 events), opens again where it was, as a client would.
async fn read_until(
    adapter: &Adapter,
    api: Api,
    from: &Position,
    sentinel: u64,
) -> Result<Vec<(u64, Pos)>, String> {
    let mut position = from.clone();
    let mut read = Vec::new();
    let reading = async {
        loop {
            let mut frames = one_by_one(adapter.subscribe(&position).await?);
            let before = read.len();
            // The sentinel is in the log: a read that idles has lost its way.
            while let Some(frame) = tokio::time::timeout(IDLE_TIMEOUT, frames.next())
                .await
                .map_err(|_| format!("no frame for {IDLE_TIMEOUT:?} before the sentinel"))?
            {
                let frame = frame?;
                let at = frame_pos(api, &frame);
                if let Some(step) = frame.step.clone() {
                    position.advance(step);
                }
                if let Some(k) = frame.event.and_then(|e| e.marker) {
                    let at = at.ok_or_else(|| format!("event {k} came without a position"))?;
                    read.push((k, at));
                    if k == sentinel {
                        return Ok(());
                    }
                }
            }
            if read.len() == before {
                return Err("the stream ended before the sentinel".to_owned());
            }
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, reading).await {
        Ok(Ok(())) => Ok(read),
        Ok(Err(e)) => Err(format!("{e} (after {} events)", read.len())),
        Err(_) => Err(format!(
            "no sentinel within {READ_TIMEOUT:?} (after {} events)",
            read.len()
        )),
    }
}

/// A subscriber's reads, a frame at a time.
fn one_by_one(
    frames: harness::load::adapter::Frames,
) -> impl futures_util::Stream<Item = Result<Frame, String>> + Unpin {
    frames.flat_map(|read| {
        let frames: Vec<Result<Frame, String>> = match read {
            Ok(frames) => frames.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(error)],
        };
        futures_util::stream::iter(frames)
    })
}
