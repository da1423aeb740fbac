//! The firehose feed on the follower, under paused time: pings when idle, frames as they come, and the slow-consumer cut.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{FirehoseFeed, Out};
use crate::core::follow::{End, Follower, LogCursor, Pace};
use crate::log::Log;
use crate::store::memory::MemoryStore;
use crate::store::{NewRecord, WriteBatch};
use crate::subscribers::Hub;

const PING: Duration = Duration::from_secs(30);

async fn append(log: &Log, n: u8) {
    let mut batch = WriteBatch::new();
    for i in 0..n {
        batch.append(
            "repos",
            NewRecord {
                timestamp_micros: 1,
                payload: vec![i],
            },
        );
    }
    log.commit(batch).await.expect("the commit");
}

fn follower(log: &Log, after: u64, live: bool, buffer: u64) -> Follower<FirehoseFeed> {
    let feed = FirehoseFeed {
        live,
        consumer_buffer: buffer,
        cut_laggards: true,
        repeat_frames: false,
    };
    let pace = Pace {
        stop: CancellationToken::new(),
        keepalive: PING,
        read_batch: 256,
    };
    let cursor = LogCursor::new(log, "repos", after);
    Follower::new(feed, cursor, &Arc::new(Hub::default()), pace)
}

fn memory() -> Log {
    Log::new(Arc::new(MemoryStore::new()), false)
}

#[tokio::test(start_paused = true)]
async fn an_idle_subscriber_gets_a_ping_each_interval_and_frames_at_once() {
    let log = memory();
    let mut firehose = follower(&log, 0, true, 500);
    let start = Instant::now();
    assert!(matches!(firehose.next().await, Some(Out::Ping)));
    assert_eq!(start.elapsed(), PING);
    let writer = log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        append(&writer, 3).await;
    });
    let Some(Out::Frames(frames)) = firehose.next().await else {
        panic!("the frames");
    };
    assert_eq!(frames, [vec![0u8], vec![1], vec![2]]);
    assert_eq!(start.elapsed(), PING + Duration::from_secs(5));
    assert!(matches!(firehose.next().await, Some(Out::Ping)));
    assert_eq!(
        start.elapsed(),
        PING * 2 + Duration::from_secs(5),
        "the frames restarted the wait"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_subscriber_further_behind_than_the_buffer_is_cut() {
    let log = memory();
    let mut firehose = follower(&log, 0, true, 2);
    append(&log, 5).await;
    assert!(matches!(firehose.next().await, Some(Out::TooSlow(frames)) if frames.is_empty()));
    assert_eq!(firehose.ended(), Some(End::Finished));
    assert!(firehose.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_replay_is_never_cut_and_goes_live_at_its_end() {
    let log = memory();
    append(&log, 5).await;
    let mut firehose = follower(&log, 0, false, 2);
    let Some(Out::Frames(frames)) = firehose.next().await else {
        panic!("the replay");
    };
    assert_eq!(frames.len(), 5, "a replay from a cursor may be any length");
    append(&log, 3).await;
    assert!(
        matches!(firehose.next().await, Some(Out::Frames(frames)) if frames.len() == 3),
        "live now, and the first of the three is 2 behind the newest: within the buffer"
    );
    append(&log, 4).await;
    assert!(
        matches!(firehose.next().await, Some(Out::TooSlow(_))),
        "the first of the four is 3 behind: cut"
    );
}
