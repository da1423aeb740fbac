//! Real third-party clients against the reference server: npm `eventsource`, npm `fauna`, PyPI `fauna` (the atproto ones are in `atproto/clients.rs`).
//!
//! Their packages are pinned in `tests/clients/*/package-lock.json` (installed
//! by `./test.sh` with `npm ci`) and `tests/clients/*/requirements.txt`
//! (installed into `.venv` there). A test finds its client through
//! `testenv::client`, and fails when it is not installed, never passing
//! without running; `./test.sh` leaves such a test out and says so. (`ax_sdk`,
//! a Rust crate, is a dev-dependency: see `actyx/sdk.rs`.)

use std::process::Stdio;
use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::start;
use serde_json::Value;

use crate::support::CONTROL_TOKEN;

/// Runs a client program in `dir` and returns its one-line JSON report.
pub(crate) async fn run_client(dir: &std::path::Path, program: &str, args: &[&str]) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the client finished within 60 s")
    .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\nstdout: {stdout}\nstderr: {stderr}"));
    assert_eq!(report["outcome"], "ok", "{report:#}\n{stderr}");
    report
}

/// `(type, id)` of each event of a report list.
fn kinds(report: &Value, key: &str) -> Vec<(String, String)> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {report:#}"))
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What both Fauna drivers must see: `a` enters, changes, `b` enters, `a` leaves.
fn fauna_expectations(report: &Value, first_key: &str) {
    let a = report["ids"]["a"].as_str().unwrap().to_owned();
    let b = report["ids"]["b"].as_str().unwrap().to_owned();
    let expected = vec![
        ("add".to_owned(), a.clone()),
        ("update".to_owned(), a.clone()),
        ("add".to_owned(), b.clone()),
        ("remove".to_owned(), a.clone()),
    ];
    assert_eq!(kinds(report, first_key), expected, "{report:#}");
    assert_eq!(
        kinds(report, "resumed"),
        expected[2..],
        "resumed strictly after the second event"
    );
    let feed: Vec<Vec<String>> = serde_json::from_value(report["feed"].clone()).unwrap();
    assert_eq!(
        feed,
        vec![
            vec![
                format!("add:{a}"),
                format!("update:{a}"),
                format!("add:{b}")
            ],
            vec![format!("remove:{a}")],
        ],
        "pages of three, then the rest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_fauna_over_h2c_streams_resumes_from_a_cursor_and_reads_feeds() {
    let dir = testenv::client("fauna-js");
    let server = start(Config::ephemeral()).await.unwrap();
    let report = run_client(
        &dir,
        "node",
        &["stream.mjs", &server.base_url(), "fauna_test_secret"],
    )
    .await;
    assert_eq!(report["tokenClass"], "StreamToken");
    assert_eq!(report["docClass"], "Document");
    fauna_expectations(&report, "first");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_fauna_streams_live_resumes_from_a_cursor_and_a_start_time_and_reads_feeds() {
    let dir = testenv::client("fauna-py");
    let server = start(Config::ephemeral()).await.unwrap();
    let python = dir.join(".venv/bin/python");
    let report = run_client(
        &dir,
        python.to_str().unwrap(),
        &["stream.py", &server.base_url(), "fauna_test_secret"],
    )
    .await;
    assert_eq!(report["token_class"], "EventSource");
    assert_eq!(report["first_type"], "status");
    fauna_expectations(&report, "live");
    assert_eq!(
        kinds(&report, "from_time"),
        kinds(&report, "resumed"),
        "start_ts of the second event resumes after it"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_eventsource_reconnects_with_last_event_id_and_gets_every_envelope_once_in_order() {
    let dir = testenv::client("eventsource");
    let server = start(Config::ephemeral()).await.unwrap();
    let report = run_client(
        &dir,
        "node",
        &[
            "fibric-reconnect.mjs",
            &server.base_url(),
            "sk_test_tenant_a",
            CONTROL_TOKEN,
        ],
    )
    .await;
    let types: Vec<&str> = report["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..12).map(|i| format!("order.e{i}")).collect();
    assert_eq!(types, expected, "every envelope exactly once, in order");
    assert_eq!(report["opens"], 2, "one reconnect: {report:#}");
    // The reconnect carried the id of the last envelope seen before the drop.
    let sent = report["lastEventIds"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{report:#}");
    assert!(sent[0].is_null());
    assert_eq!(sent[1], report["received"][4]["event_id"], "{report:#}");
    server.shutdown().await.unwrap();
}
