//! The fault proxy in front of a real reference server: cuts land where the schedule says, and are recorded.

use std::time::Duration;

use harness::proxy::framing::Framing;
use harness::proxy::schedule::Schedule;
use harness::proxy::{FaultLog, start};
use harness::record::{ReadLimits, Recorder};
use harness::transport::Events;
use harness::transport::sse::open_sse;
use reference_server::config::Config;
use scenarios::transcript::Observed;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

async fn append(base: &str, n: usize) {
    let envelopes: Vec<_> = (0..n)
        .map(|i| json!({"tenant_id": "tn_a", "event_type": format!("e.{i}"), "source": "s"}))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{base}/_control/fibric/envelopes"))
        .bearer_auth("control_test_token")
        .json(&json!({ "envelopes": envelopes }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// Streams every envelope from the start through a proxy with `spec`; returns the event ids read and the transcript.
async fn through_proxy(spec: &str) -> (Vec<String>, Option<String>, Recorder) {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    append(&server.base_url(), 4).await;
    let recorder = Recorder::new();
    let proxy = start(
        "127.0.0.1:0".parse().unwrap(),
        server.local_addr.to_string(),
        Schedule::parse(spec).unwrap(),
        Framing::Sse,
        FaultLog::Recorder(recorder.clone()),
    )
    .await
    .unwrap();
    // The first envelope's cursor is "after position 0": list everything.
    let client = reqwest::Client::new();
    let start_cursor = {
        let page: serde_json::Value = client
            .get(format!("{}/v1/events?limit=1", server.base_url()))
            .bearer_auth("sk_test_tenant_a")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["data"][0]["event_id"].as_str().unwrap().to_owned()
    };
    let request = client
        .get(format!("{}/v1/events/stream", proxy.base_url()))
        .bearer_auth("sk_test_tenant_a")
        .header("last-event-id", &start_cursor);
    let mut stream = open_sse(&recorder, &client, request, &ReadLimits::default(), WAIT)
        .await
        .unwrap()
        .expect("200");
    let mut ids = Vec::new();
    while let Some(event) = stream.next_event(Duration::from_millis(800)).await {
        ids.push(event.last_event_id);
    }
    let closed = stream.closed.clone();
    (ids, closed, recorder)
}

#[tokio::test]
async fn a_cut_at_a_frame_boundary_delivers_exactly_the_frames_before_it() {
    let (ids, closed, recorder) = through_proxy("conn 1: after 2 frames + 0 bytes, fin").await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    // A FIN inside a chunked body is an incomplete message to an HTTP client.
    let closed = closed.expect("the stream ended");
    assert!(
        closed.contains("connection error") || closed.contains("end of stream"),
        "{closed}"
    );
    let faults: Vec<String> = recorder
        .transcript()
        .entries
        .iter()
        .filter_map(|e| match &e.observed {
            Observed::Fault { description } => Some(description.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        faults,
        ["conn 1: after 2 frames + 0 bytes (2 frames complete), fin"]
    );
}

#[tokio::test]
async fn a_cut_mid_frame_loses_the_partial_frame_and_a_reset_is_an_error() {
    let (ids, closed, _) = through_proxy("conn 1: after 1 frames + 9 bytes, rst").await;
    assert_eq!(
        ids.len(),
        1,
        "the partial second frame must not be delivered: {ids:?}"
    );
    let closed = closed.unwrap();
    assert!(
        closed.contains("connection error") || closed.contains("unterminated"),
        "{closed}"
    );
}

#[tokio::test]
async fn a_stall_leaves_the_connection_open_and_silent() {
    let (ids, closed, _) = through_proxy("conn 1: after 1 frames + 0 bytes, stall").await;
    assert_eq!(ids.len(), 1);
    assert_eq!(closed, None, "a stall is silence, not a close");
}

#[tokio::test]
async fn added_latency_delays_every_frame() {
    let started = std::time::Instant::now();
    let (ids, _, recorder) = through_proxy("all: latency 300ms").await;
    assert_eq!(ids.len(), 3, "all three envelopes after the first");
    let transcript = recorder.transcript();
    let first_event = transcript
        .entries
        .iter()
        .find(|e| matches!(e.observed, Observed::SseEvent { .. }))
        .unwrap();
    assert!(
        first_event.at_micros >= 300_000,
        "{}",
        first_event.at_micros
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn harness_proxy_refuses_a_bad_schedule_with_exit_2() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--schedule",
            "conn 1: rst",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs an `after"));
}
