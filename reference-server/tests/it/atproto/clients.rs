//! Real firehose clients against `subscribeRepos`: npm `@atproto/sync` `Firehose` (its own validation on: lexicon, CAR, signatures with keys from the built-in directory, MST proofs) and the PyPI `atproto` SDK's `FirehoseSubscribeReposClient`, each replaying from a cursor and receiving every frame.

use std::time::Duration;

use serde_json::Value as Json;
use wire::cbor::Value;

use super::client::{Firehose, Pds, REPOS, Received, kind, seq};
use super::firehose::server;
use super::relay::workload;
use crate::clients::run_client;

/// What the firehose holds after a mixed workload: `(seq, type, did, op paths)` per frame.
async fn history(pds: &Pds) -> Vec<(u64, String, String, Vec<String>)> {
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(0)).await;
    let mut frames = Vec::new();
    while let Some(Received::Frame(frame)) = firehose.receive(Duration::from_millis(300)).await {
        let did = frame
            .body
            .get("repo")
            .or_else(|| frame.body.get("did"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let paths = frame
            .body
            .get("ops")
            .and_then(Value::as_array)
            .map(|ops| {
                ops.iter()
                    .map(|op| op.get("path").and_then(Value::as_str).unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        frames.push((seq(&frame), kind(&frame).to_owned(), did, paths));
    }
    frames
}

/// A server with three accounts and a mixed workload of 40 writes.
async fn populated() -> (reference_server::server::Running, Pds) {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let mut sessions = Vec::new();
    for handle in ["alice.test", "bob.test", "carol.test"] {
        sessions.push(pds.create_account(handle).await);
    }
    workload(&pds, &sessions, 40, 0x5eed_5eed_5eed_5eed).await;
    (server, pds)
}

/// The client's report matches the history after `cursor`, frame by frame.
fn assert_received(report: &Json, history: &[(u64, String, String, Vec<String>)], cursor: u64) {
    let expected: Vec<_> = history.iter().filter(|f| f.0 > cursor).collect();
    let events = report["events"].as_array().expect("events");
    assert_eq!(events.len(), expected.len(), "{report:#}");
    for (event, (seq, kind, did, paths)) in events.iter().zip(expected) {
        assert_eq!(event["seq"].as_u64(), Some(*seq), "{event}");
        assert_eq!(event["type"].as_str(), Some(kind.as_str()), "{event}");
        assert_eq!(event["did"].as_str(), Some(did.as_str()), "{event}");
        if kind == "#commit" {
            let got: Vec<&str> = event["ops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|op| op["path"].as_str().unwrap())
                .collect();
            assert_eq!(got, paths.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_atproto_sync_firehose_validates_and_receives_every_frame_from_a_cursor() {
    let dir = testenv::client("atproto-js");
    let (server, pds) = populated().await;
    let history = history(&pds).await;
    let cursor = 2;
    let count = history.iter().filter(|f| f.0 > cursor).count().to_string();
    let report = run_client(
        &dir,
        "node",
        &["firehose.mjs", &pds.base, &cursor.to_string(), &count],
    )
    .await;
    assert_received(&report, &history, cursor);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_atproto_firehose_client_receives_every_frame_from_a_cursor() {
    let dir = testenv::client("atproto-py");
    let (server, pds) = populated().await;
    let history = history(&pds).await;
    let cursor = 5;
    let count = history.iter().filter(|f| f.0 > cursor).count().to_string();
    let python = dir.join(".venv/bin/python");
    let report = run_client(
        &dir,
        python.to_str().unwrap(),
        &["firehose.py", &pds.base, &cursor.to_string(), &count],
    )
    .await;
    assert_received(&report, &history, cursor);
    server.shutdown().await.unwrap();
}
