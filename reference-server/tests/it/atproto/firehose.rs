//! `subscribeRepos` over a real WebSocket: the frames of account creation and writes, cursor rules, slow consumers, keep-alive, deactivation.

use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::{Running, start};
use serde_json::json;
use wire::cbor::Value;

use super::client::{Firehose, Pds, REPOS, Received, kind, seq, text};

pub async fn server(tune: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::ephemeral();
    tune(&mut config);
    start(config).await.expect("server starts")
}

#[tokio::test]
async fn account_creation_and_each_write_reach_a_live_subscriber_in_seq_order() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let mut live = Firehose::connect(&pds.base, REPOS, None).await;
    let alice = pds.create_account("alice.test").await;
    let created = live.frames(3).await;
    let kinds: Vec<&str> = created.iter().map(kind).collect();
    assert_eq!(kinds, ["#identity", "#account", "#sync"]);
    assert_eq!(text(&created[0], "handle"), "alice.test");
    assert_eq!(created[1].body.get("active"), Some(&Value::Bool(true)));
    for frame in &created {
        assert_eq!(text(frame, "did"), alice.did);
    }
    let sync_rev = text(&created[2], "rev").to_owned();

    let answer = pds
        .create_record(
            &alice,
            "app.bsky.feed.post",
            json!({"text": "hi", "createdAt": "2026-01-01T00:00:00Z"}),
        )
        .await;
    let commit = live.frame().await;
    assert_eq!(kind(&commit), "#commit");
    assert_eq!(text(&commit, "repo"), alice.did);
    assert_eq!(text(&commit, "since"), sync_rev);
    assert_eq!(text(&commit, "rev"), answer["commit"]["rev"]);
    assert_eq!(commit.body.get("rebase"), Some(&Value::Bool(false)));
    assert_eq!(commit.body.get("tooBig"), Some(&Value::Bool(false)));
    assert_eq!(commit.body.get("blobs"), Some(&Value::Array(vec![])));
    let ops = commit.body.get("ops").and_then(Value::as_array).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].get("action").and_then(Value::as_str), Some("create"));
    assert_eq!(
        ops[0]
            .get("cid")
            .and_then(Value::as_link)
            .map(ToString::to_string),
        answer["cid"].as_str().map(str::to_owned)
    );
    assert!(ops[0].get("prev").is_none(), "a create has no prev");
    let seqs: Vec<u64> = created.iter().chain([&commit]).map(seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] >= 1,
        "{seqs:?}"
    );
}

#[tokio::test]
async fn a_cursor_replays_strictly_after_it_then_goes_live() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    for n in 0..3 {
        pds.create_record(
            &alice,
            "app.bsky.feed.post",
            json!({"text": format!("{n}"), "createdAt": "2026-01-01T00:00:00Z"}),
        )
        .await;
    }
    // seqs 1..=3 are the account, 4..=6 the posts.
    let mut from_zero = Firehose::connect(&pds.base, REPOS, Some(0)).await;
    let all: Vec<u64> = from_zero.frames(6).await.iter().map(seq).collect();
    assert_eq!(all, [1, 2, 3, 4, 5, 6], "cursor=0 replays everything kept");
    let mut resumed = Firehose::connect(&pds.base, REPOS, Some(4)).await;
    let replay: Vec<u64> = resumed.frames(2).await.iter().map(seq).collect();
    assert_eq!(replay, [5, 6], "replay is > cursor");
    pds.create_record(
        &alice,
        "app.bsky.feed.post",
        json!({"text": "live", "createdAt": "2026-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(seq(&resumed.frame().await), 7, "then live, without a seam");
    assert_eq!(seq(&from_zero.frame().await), 7);
    let mut at_head = Firehose::connect(&pds.base, REPOS, Some(7)).await;
    at_head.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_future_cursor_gets_an_error_frame_and_a_close() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    pds.create_account("alice.test").await;
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(4)).await;
    let frame = firehose.frame().await;
    assert_eq!(frame.header.op, -1);
    assert_eq!(frame.header.t, None, "an error header has no t");
    assert_eq!(text(&frame, "error"), "FutureCursor");
    firehose.expect_close().await;
}

#[tokio::test]
async fn a_cursor_before_the_window_gets_outdated_cursor_then_the_oldest_kept() {
    let server = server(|c| c.atproto.backfill_events = 4).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    for n in 0..5 {
        pds.create_record(
            &alice,
            "app.bsky.feed.post",
            json!({"text": format!("{n}"), "createdAt": "2026-01-01T00:00:00Z"}),
        )
        .await;
    }
    // Eight frames were written; the window keeps 5..=8.
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(1)).await;
    let info = firehose.frame().await;
    assert_eq!(kind(&info), "#info");
    assert_eq!(text(&info, "name"), "OutdatedCursor");
    let kept: Vec<u64> = firehose.frames(4).await.iter().map(seq).collect();
    assert_eq!(kept, [5, 6, 7, 8]);
    // At the window's edge nothing is missing, so no #info.
    let mut edge = Firehose::connect(&pds.base, REPOS, Some(4)).await;
    assert_eq!(seq(&edge.frame().await), 5);
}

#[tokio::test]
async fn a_live_subscriber_that_falls_behind_gets_consumer_too_slow() {
    let server = server(|c| c.atproto.consumer_buffer = 3).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let mut slow = Firehose::connect(&pds.base, REPOS, None).await;
    // Give the subscriber time to start live before the burst.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 100 frames of 200 kB: more than the socket buffers on both ends hold (about 10 MB on Linux loopback),
    // so the server's sends block while the subscriber does not read.
    let writes = 100;
    for n in 0..writes {
        pds.create_record(&alice, "app.bsky.feed.post", json!({"text": format!("{n}{}", "x".repeat(200_000)), "createdAt": "2026-01-01T00:00:00Z"}))
            .await;
    }
    let mut last = None;
    loop {
        match slow.receive(Duration::from_secs(5)).await {
            Some(Received::Frame(frame)) if frame.header.op == -1 => {
                assert_eq!(text(&frame, "error"), "ConsumerTooSlow");
                break;
            }
            Some(Received::Frame(frame)) => last = Some(seq(&frame)),
            other => panic!("expected frames then ConsumerTooSlow, got {other:?} after {last:?}"),
        }
    }
    assert!(
        last.is_none_or(|s| s < 3 + writes),
        "closed before the end: {last:?}"
    );
    slow.expect_close().await;
}

#[tokio::test]
async fn an_idle_subscriber_gets_pings() {
    let server = server(|c| c.atproto.ping_interval = Duration::from_millis(100)).await;
    let mut firehose = Firehose::connect(&server.base_url(), REPOS, None).await;
    assert!(matches!(
        firehose.receive(Duration::from_secs(2)).await,
        Some(Received::Ping)
    ));
}

#[tokio::test]
async fn the_server_answers_a_subscribers_ping() {
    let server = server(|_| {}).await;
    let mut firehose = Firehose::connect(&server.base_url(), REPOS, None).await;
    assert!(
        firehose.ping(b"are you there").await,
        "a pong with the ping's payload"
    );
}

#[tokio::test]
async fn deactivation_is_an_account_frame_and_stops_writes() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(3)).await;
    let (status, body) = pds
        .control(
            &format!("accounts/{}/status", alice.did),
            &json!({"active": false, "status": "takendown"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let frame = firehose.frame().await;
    assert_eq!(kind(&frame), "#account");
    assert_eq!(frame.body.get("active"), Some(&Value::Bool(false)));
    assert_eq!(text(&frame, "status"), "takendown");
    assert_eq!(seq(&frame), body["seq"].as_u64().unwrap());
    let (status, error) = pds
        .post(
            "com.atproto.repo.createRecord",
            Some(&alice.access),
            &json!({"repo": alice.did, "collection": "app.bsky.feed.post", "record": {"text": "x"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "InvalidRequest", "{error}");
    let (status, _) = pds
        .control(
            &format!("accounts/{}/status", alice.did),
            &json!({"active": true}),
        )
        .await;
    assert_eq!(status, 200);
    let frame = firehose.frame().await;
    assert_eq!(frame.body.get("active"), Some(&Value::Bool(true)));
    assert!(frame.body.get("status").is_none());
}

#[tokio::test]
async fn a_bad_cursor_or_a_plain_get_is_an_xrpc_error() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let (status, body) = pds.get_json(&format!("/xrpc/{REPOS}?cursor=abc")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "InvalidRequest");
    let (status, body) = pds.get_json(&format!("/xrpc/{REPOS}")).await;
    assert_eq!(status, 400, "{body}");
}
