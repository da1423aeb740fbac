//! The follower's waits and ends under paused time: keep-alive, stop, shutdown, a log that goes away; and the log cursor.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{End, Feed, Follower, LogCursor, Pace, Place, Step};
use crate::log::Log;
use crate::store::memory::MemoryStore;
use crate::store::{NewRecord, WriteBatch};
use crate::subscribers::Hub;

const KEEPALIVE: Duration = Duration::from_secs(15);

/// A feed that plays a script of steps, then stays caught up.
struct Script {
    steps: VecDeque<Step<&'static str>>,
    stepped: usize,
    keepalive: Option<&'static str>,
}

/// A position whose watch fires when the test says so.
struct Told(tokio::sync::mpsc::Receiver<bool>);

impl Place for Told {
    async fn more(&mut self) -> bool {
        self.0.recv().await.unwrap_or(false)
    }
}

impl Feed for Script {
    type Out = &'static str;
    type Place = Told;

    async fn step(&mut self, _at: &mut Told, _batch: usize) -> Step<&'static str> {
        self.stepped += 1;
        self.steps.pop_front().unwrap_or(Step::CaughtUp)
    }

    fn keepalive(&mut self, _at: &Told) -> Option<&'static str> {
        self.keepalive
    }
}

struct Rig {
    follower: Follower<Script>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    stop: CancellationToken,
    more: tokio::sync::mpsc::Sender<bool>,
}

fn rig(steps: Vec<Step<&'static str>>, keepalive: Option<&'static str>) -> Rig {
    let shutdown = CancellationToken::new();
    let hub = Arc::new(Hub::new(shutdown.clone()));
    let stop = hub.token("test");
    let (more, rx) = tokio::sync::mpsc::channel(4);
    let script = Script {
        steps: steps.into(),
        stepped: 0,
        keepalive,
    };
    let pace = Pace {
        stop: stop.clone(),
        keepalive: KEEPALIVE,
        read_batch: 0,
    };
    Rig {
        follower: Follower::new(script, Told(rx), &hub, pace),
        hub,
        shutdown,
        stop,
        more,
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_gets_its_keepalive_after_the_interval_and_not_before() {
    let mut rig = rig(vec![Step::Send("a")], Some("ka"));
    let start = Instant::now();
    assert_eq!(rig.follower.next().await, Some("a"));
    assert_eq!(start.elapsed(), Duration::ZERO, "output goes out at once");
    assert_eq!(rig.follower.next().await, Some("ka"));
    assert_eq!(start.elapsed(), KEEPALIVE);
    assert_eq!(rig.follower.next().await, Some("ka"));
    assert_eq!(start.elapsed(), KEEPALIVE * 2);
    assert_eq!(rig.hub.stats().open_streams, 1);
    drop(rig.follower);
    assert_eq!(
        rig.hub.stats().open_streams,
        0,
        "dropping the stream uncounts it"
    );
}

#[tokio::test(start_paused = true)]
async fn more_records_wake_the_wait_before_the_keepalive() {
    let mut rig = rig(vec![Step::CaughtUp, Step::Send("b")], Some("ka"));
    let start = Instant::now();
    let more = rig.more.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        more.send(true).await.unwrap();
    });
    assert_eq!(rig.follower.next().await, Some("b"));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn without_a_keepalive_the_stream_stays_silent_until_stopped_and_counts_the_disconnect() {
    let mut rig = rig(vec![], None);
    let stop = rig.stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(KEEPALIVE * 3 + Duration::from_secs(1)).await;
        stop.cancel();
    });
    let start = Instant::now();
    assert_eq!(rig.follower.next().await, None);
    assert_eq!(start.elapsed(), KEEPALIVE * 3 + Duration::from_secs(1));
    assert_eq!(rig.follower.ended(), Some(End::Stopped));
    assert_eq!(rig.hub.stats().forced_disconnects, 1);
    assert_eq!(
        rig.follower.next().await,
        None,
        "an ended stream stays ended"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_streams_without_counting_forced_disconnects() {
    let mut rig = rig(vec![Step::Send("a")], Some("ka"));
    rig.shutdown.cancel();
    assert_eq!(
        rig.follower.next().await,
        None,
        "nothing is sent once stopped"
    );
    assert_eq!(rig.follower.ended(), Some(End::Stopped));
    assert_eq!(rig.hub.stats().forced_disconnects, 0);
}

#[tokio::test(start_paused = true)]
async fn a_log_that_goes_away_ends_the_stream() {
    let mut rig = rig(vec![], Some("ka"));
    rig.more.send(false).await.unwrap();
    assert_eq!(rig.follower.next().await, None);
    assert_eq!(rig.follower.ended(), Some(End::StoreFailed));
}

#[tokio::test(start_paused = true)]
async fn a_feed_ends_with_its_last_words_and_reads_on_after_again() {
    let mut rig = rig(
        vec![
            Step::Again,
            Step::Again,
            Step::End(End::FellBehindRetention, Some("bye")),
        ],
        Some("ka"),
    );
    assert_eq!(rig.follower.next().await, Some("bye"));
    assert_eq!(rig.follower.ended(), Some(End::FellBehindRetention));
    assert_eq!(rig.follower.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn after_output_that_reached_the_end_the_follower_waits_before_reading_again() {
    let mut rig = rig(vec![Step::SendCaughtUp("a"), Step::Send("b")], Some("ka"));
    assert_eq!(rig.follower.next().await, Some("a"));
    let start = Instant::now();
    assert_eq!(
        rig.follower.next().await,
        Some("ka"),
        "no read before the wait"
    );
    assert_eq!(start.elapsed(), KEEPALIVE);
    assert_eq!(rig.follower.feed.stepped, 1);
    rig.more.send(true).await.unwrap();
    assert_eq!(rig.follower.next().await, Some("b"));
}

async fn append(log: &Log, stream: &str, n: usize) {
    let mut batch = WriteBatch::new();
    for _ in 0..n {
        batch.append(
            stream,
            NewRecord {
                timestamp_micros: 1,
                payload: b"{}".to_vec(),
            },
        );
    }
    log.commit(batch).await.expect("the commit");
}

#[tokio::test(start_paused = true)]
async fn the_log_cursor_reads_after_its_position_and_wakes_on_a_commit() {
    let log = Log::new(Arc::new(MemoryStore::new()), false);
    append(&log, "s", 3).await;
    let mut cursor = LogCursor::new(&log, "s", 1);
    let read = cursor.read(10).await.unwrap();
    let positions: Vec<u64> = read.records.iter().map(|r| r.position).collect();
    assert_eq!(positions, [2, 3]);
    cursor.after = read.scanned_to;
    assert_eq!(cursor.newest(), 3);
    let waiting = tokio::time::timeout(Duration::from_secs(60), cursor.more()).await;
    assert!(waiting.is_err(), "nothing after 3: the cursor waits");
    append(&log, "s", 1).await;
    assert!(cursor.more().await, "a commit wakes it");
    assert_eq!(cursor.read(10).await.unwrap().records.len(), 1);
    assert_eq!(cursor.oldest_kept().unwrap(), 1);
}
