//! A thousand AT firehose WebSockets that never read while accounts commit megabytes: memory does not follow the commits, a reader keeps up, the stalled ones are cut.
//!
//! The firehose has its own write path (axum's WebSocket over the upgraded
//! connection, after hyper's buffers are gone) and its own cut
//! (`ConsumerTooSlow`), so it gets a test of its own beside the SSE one.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{memory_kib, never_reading, raise_open_files, spawn_with_config, subscriber_stats};
use crate::atproto::client::{Firehose, Pds, REPOS, Received, Session, kind};

const STALLED: usize = 1_000;
/// Commits per phase; each record carries about 1 KiB of text.
const PHASE: usize = 2_000;
/// Accounts written to at once, so no one repository grows large.
const WRITERS: usize = 8;
const STALL_TIMEOUT: &str = "10s";

/// `PHASE` commits of about 1 KiB each, from `WRITERS` accounts at once.
async fn produce(pds: &Pds, accounts: &[Session], phase: usize) {
    let filler = "x".repeat(1000);
    let mut writers = Vec::new();
    for (writer, session) in accounts.iter().enumerate() {
        let pds = pds.clone();
        let session = session.clone();
        let filler = filler.clone();
        writers.push(tokio::spawn(async move {
            for n in (writer..PHASE).step_by(WRITERS) {
                let record = json!({
                    "$type": "app.bsky.feed.post",
                    "text": format!("{phase}.{n} {filler}"),
                    "createdAt": "2026-11-23T00:00:00.000Z",
                });
                pds.create_record(&session, "app.bsky.feed.post", record)
                    .await;
            }
        }));
    }
    for writer in writers {
        writer.await.expect("a writer did not panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_subscribers_that_never_read_cost_bounded_memory_and_are_cut() {
    raise_open_files(2 * STALLED as u64 + 512);
    let (_dir, server) = spawn_with_config(&format!(
        "[subscribers]\nstall_timeout = \"{STALL_TIMEOUT}\"\n"
    ));
    let pid = server.child.id();
    let base = server.base_url.clone();
    let address: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let http = reqwest::Client::new();
    let pds = Pds::new(&base);
    let mut accounts = Vec::new();
    for writer in 0..WRITERS {
        accounts.push(pds.create_account(&format!("stalled{writer}.test")).await);
    }

    let (alone, _) = memory_kib(pid);
    let upgrade = format!(
        "GET /xrpc/{REPOS} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        stalled.push(never_reading(address, &upgrade).await);
    }
    // A subscriber that reads every commit, counted in a task of its own.
    let mut reader = Firehose::connect(&base, REPOS, None).await;
    let reading = tokio::spawn(async move {
        let started = Instant::now();
        let mut commits = 0;
        while commits < 2 * PHASE && started.elapsed() < Duration::from_secs(90) {
            let Some(received) = reader.receive(Duration::from_secs(20)).await else {
                break;
            };
            match received {
                Received::Frame(frame) => {
                    if kind(&frame) == "#commit" {
                        commits += 1;
                    }
                }
                Received::Ping => {}
                Received::Closed => break,
            }
        }
        (commits, started.elapsed())
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while subscriber_stats(&http, &base).await["open_streams"].as_u64() < Some(STALLED as u64 + 1) {
        assert!(
            Instant::now() < deadline,
            "every subscriber's stream opened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (before, _) = memory_kib(pid);

    let started = Instant::now();
    produce(&pds, &accounts, 1).await;
    let (after_one, _) = memory_kib(pid);
    produce(&pds, &accounts, 2).await;
    let (after_two, peak) = memory_kib(pid);
    let producing = started.elapsed();
    let (received, reading_took) = reading.await.expect("the reader did not panic");
    let now = subscriber_stats(&http, &base).await;
    println!(
        "{STALLED} stalled firehose subscribers: RSS {alone} KiB without them, {before} KiB \
         with them before any commit, {after_one} KiB after \
         {PHASE} commits, {after_two} KiB after {} (peak {peak} KiB); produced in {producing:?}; \
         the reader got {received} commits in {reading_took:?}; {now}",
        2 * PHASE
    );
    assert_eq!(
        received,
        2 * PHASE,
        "the reading subscriber got every commit"
    );
    // An idle subscriber holds its connection, its upgraded WebSocket and its
    // task: measured ~8 KiB each once the read buffer was cut to 4 KiB
    // (~135 KiB with tungstenite's default 128 KiB one). 64 KiB fails on that.
    let idle_each = before.saturating_sub(alone) / STALLED as u64;
    assert!(
        idle_each < 64,
        "{idle_each} KiB per idle firehose subscriber"
    );
    // Stalled, each also holds one read batch and one frame being written
    // (measured with the log's growth: ~64 KiB each in all).
    let stalled_each = after_two.saturating_sub(alone) / STALLED as u64;
    assert!(
        stalled_each < 400,
        "{stalled_each} KiB per stalled firehose subscriber"
    );
    // The second phase adds commits to the log and the repositories
    // (`--memory`), measured ~10 KiB per commit. Had each stalled subscriber
    // queued the frames it has not read, it would add 1,000 × ~2 KiB per
    // commit. 64 KiB per commit is six times the log's share and a thirtieth
    // of that.
    let second_phase = after_two.saturating_sub(after_one);
    assert!(
        second_phase < PHASE as u64 * 64,
        "RSS grew by {second_phase} KiB over {PHASE} commits in the second phase"
    );

    // Every stalled subscriber is cut: by the stall guard once a write has
    // been pending for the stall timeout, or by `ConsumerTooSlow`.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let now = subscriber_stats(&http, &base).await;
        if now["open_streams"].as_u64() == Some(0) {
            println!("all cut after {:?}: {now}", started.elapsed());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stalled subscribers still open: {now}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(stalled);
}
