//! `--remote-write` to a receiver that is down or never answers: the load runs as it would without it, and the run says what was not sent.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::binary;

/// A 2 s Fibric run on the embedded server pushing to `url`: its exit code,
/// `load.json`, stderr and how long it took.
fn run_pushing_to(url: &str) -> (Option<i32>, Value, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let began = Instant::now();
    let output = binary()
        .args([
            "load",
            "--api",
            "fibric",
            "--subscribers",
            "2",
            "--rate",
            "50",
        ])
        .args([
            "--duration",
            "2s",
            "--interval",
            "200ms",
            "--threshold",
            "lost==0",
        ])
        .args(["--remote-write", url, "--report-dir"])
        .arg(dir.path())
        .env("HARNESS_REMOTE_WRITE_TOKEN", "t0ken")
        .output()
        .unwrap();
    let took = began.elapsed();
    let load = std::fs::read_to_string(dir.path().join("load.json")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let load: Value =
        serde_json::from_str(&load).unwrap_or_else(|_| panic!("no load.json: {stderr}"));
    (output.status.code(), load, stderr, took)
}

#[test]
fn a_receiver_that_is_down_costs_the_run_a_warning_and_a_count() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, load, stderr, _) = run_pushing_to(&format!("http://127.0.0.1:{port}/api/v1/write"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(load["counters"]["delivered"], 200, "{load}");
    assert_eq!(load["counters"]["lost"], 0, "{load}");
    let pushed = &load["remote_write"];
    assert!(
        pushed["failed"].as_u64().unwrap() >= 10,
        "a push per interval failed: {pushed}"
    );
    assert_eq!(pushed["sent"], 0, "{pushed}");
    assert!(pushed["last_error"].is_string(), "{pushed}");
    assert!(
        stderr.contains("warning: remote write to") && stderr.contains("pushes failed"),
        "{stderr}"
    );
}

#[test]
fn a_receiver_that_never_answers_does_not_hold_the_run_up() {
    // Accepts every connection and reads nothing: each push would wait for ever.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(64) {
            open.push(stream);
        }
    });
    let (code, load, stderr, took) = run_pushing_to(&url);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(load["counters"]["delivered"], 200, "{load}");
    let pushed = &load["remote_write"];
    assert_eq!(pushed["sent"], 0, "{pushed}");
    let unsent = pushed["failed"].as_u64().unwrap() + pushed["dropped"].as_u64().unwrap();
    assert!(unsent >= 10, "every push is failed or dropped: {pushed}");
    // The run's own time (2 s and its drain), its start-up, and at most the
    // 5 s the end waits for pushes still queued.
    assert!(took < Duration::from_secs(15), "took {took:?}: {stderr}");
    drop(held);
}
