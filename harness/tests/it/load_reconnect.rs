//! `harness load` when the target drops every stream mid-run: subscribers reconnect, resume, and the reconnect time is measured.

use std::time::Duration;

use futures_util::StreamExt;
use harness::Exit;
use harness::load::adapter::{Access, Adapter, Position};
use reference_server::config::Config;
use scenarios::Api;
use serde_json::json;

use super::load_support::load_run;

/// Ends every open stream of `api` after `after`, as a deploy of the target would.
async fn cut_streams(base: String, api: &'static str, after: Duration) {
    tokio::time::sleep(after).await;
    let answer = reqwest::Client::new()
        .post(format!("{base}/_control/disconnect"))
        .bearer_auth("control_test_token")
        .json(&json!({"api": api}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_subscribers_reconnect_and_resumable_streams_lose_nothing() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    // Pulse's /subscribe is live only: what it misses while away is lost, and counted so.
    for (api, resumes) in [
        ("fibric", true),
        ("fauna", true),
        ("actyx", true),
        ("atproto", true),
        ("pulse", false),
    ] {
        let cut = tokio::spawn(cut_streams(base.clone(), api, Duration::from_millis(1500)));
        let args = [
            "--api",
            api,
            "--target",
            &base,
            "--subscribers",
            "3",
            "--rate",
            "40",
            "--duration",
            "3s",
        ];
        let (exit, load) = load_run(&dir.path().join(api), &args).await;
        cut.await.unwrap();
        let c = &load["counters"];
        let reconnects = load["histograms"]["reconnect"]["count"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(
            reconnects, 3,
            "{api}: every subscriber reconnects once: {load}"
        );
        assert!(
            c["subscriber_errors"].as_u64().unwrap() >= 3,
            "{api}: {load}"
        );
        assert!(
            load["histograms"]["reconnect"]["max"].as_u64().unwrap() < 2_000_000,
            "{api}: {load}"
        );
        let (published, delivered, lost) = (
            c["published"].as_u64().unwrap(),
            c["delivered"].as_u64().unwrap(),
            c["lost"].as_u64().unwrap(),
        );
        assert_eq!(published, 120, "{api}: {load}");
        assert_eq!(delivered + lost, 3 * published, "{api}: {load}");
        assert_eq!(c["duplicated"], 0, "{api}: resumed strictly after: {load}");
        if resumes {
            assert_eq!(lost, 0, "{api}: resumed from its position: {load}");
            assert_eq!(exit, Exit::Ok, "{api}: {load}");
        }
    }
}

/// Reads `frames` until the run's event `last`; the markers seen, and the position after `keep`.
async fn read_until(
    frames: &mut harness::load::adapter::Frames,
    last: u64,
    keep: u64,
) -> (Vec<u64>, Position) {
    let mut position = Position::Start;
    let mut kept = None;
    let mut markers = Vec::new();
    'reading: loop {
        let read = tokio::time::timeout(Duration::from_secs(10), frames.next())
            .await
            .expect("the stream went quiet")
            .expect("the stream ended")
            .expect("the stream failed");
        for frame in read {
            if let Some(step) = frame.step {
                position.advance(step);
            }
            if let Some(k) = frame.event.and_then(|e| e.marker) {
                markers.push(k);
                if k == keep {
                    kept = Some(position.clone());
                }
                if k == last {
                    break 'reading;
                }
            }
        }
    }
    (markers, kept.expect("the kept event never came"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_from_a_read_position_replays_exactly_what_came_after_it() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    for api in [Api::Fibric, Api::Fauna, Api::Actyx, Api::Atproto] {
        let access = Access {
            base: server.base_url(),
            subscribe_base: server.base_url(),
            control_token: "control_test_token".to_owned(),
            credentials: harness::target::Credentials::default(),
            passive: None,
            producer: None,
        };
        let run = format!("resume{}", api.name());
        let adapter = Adapter::prepare(api, access, run).await.unwrap();
        let mut live = adapter.subscribe(&Position::Start).await.unwrap();
        // A read's position is where its last event leaves the stream (an SSE
        // read carries only its last id), so event 3 is the last one out when
        // the position is taken.
        for k in 0..4 {
            adapter.publish(k).await.unwrap();
        }
        let (first, after_three) = read_until(&mut live, 3, 3).await;
        for k in 4..10 {
            adapter.publish(k).await.unwrap();
        }
        let (rest, _) = read_until(&mut live, 9, 9).await;
        assert_eq!([first, rest].concat(), (0..10).collect::<Vec<_>>(), "{api}");
        assert_ne!(
            after_three,
            Position::Start,
            "{api}: no position in the frames"
        );
        // Where a dropped subscriber resumes: strictly after event 3, nothing skipped.
        let mut resumed = adapter.subscribe(&after_three).await.unwrap();
        let (replayed, _) = read_until(&mut resumed, 9, 9).await;
        assert_eq!(
            replayed,
            (4..10).collect::<Vec<_>>(),
            "{api}: {after_three:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ends_every_stream_at_once_gets_paced_reconnects_not_a_busy_loop() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--api",
        "fibric",
        "--target",
        &url,
        "--rate",
        "0",
        "--subscribers",
        "2",
        "--duration",
        "1s",
    ];
    let (exit, load) = load_run(dir.path(), &args).await;
    assert_eq!(exit, Exit::Ok, "{load}");
    let connections = accepted.load(std::sync::atomic::Ordering::Relaxed);
    let reconnects = load["histograms"]["reconnect"]["count"]
        .as_u64()
        .unwrap_or(0);
    // Each stream lives at least 100 ms: about ten a second per subscriber.
    assert!(reconnects >= 10, "{reconnects} reconnects: {load}");
    assert!(
        connections <= 2 + 2 * 12,
        "{connections} connections in about a second"
    );
    assert_eq!(connections, reconnects + 2, "{load}");
    assert_eq!(load["counters"]["subscriber_errors"], reconnects, "{load}");
}
