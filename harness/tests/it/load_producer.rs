//! `harness load --producer`: active load on a target that is not a reference server, published through a command.
//!
//! - A Fibric server of the test's own ([`fibric_server`]) with a producer
//!   written for its write path: every event delivered to every subscriber
//!   once, batches as single requests, the producer's answer as the
//!   acknowledgement, and latency still timed from the intended send time
//!   when the producer is slow.
//! - The sample producer in `fixtures/producer/` driving the reference
//!   server with a control token the harness does not have.
//! - A producer that refuses, or answers without the event ids, fails its
//!   publishes; `--producer` where it cannot publish, or no producer on a
//!   server without the control API, is a usage error.

mod fibric_server;

use std::path::PathBuf;

use harness::Exit;
use reference_server::config::Config;
use serde_json::Value;

use super::load_support::load_run;

/// A producer as a user would write one for their own server: each request
/// becomes a `POST /publish`; the answer waits for the server's. With a
/// second argument, it takes that many seconds over each request.
const PRODUCER: &str = r#"
import http.client, json, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
server = http.client.HTTPConnection(url.hostname, url.port)
for line in sys.stdin:
    request = json.loads(line)
    single = "envelope" in request
    envelopes = [request["envelope"]] if single else request["envelopes"]
    time.sleep(delay)
    server.request("POST", "/publish", json.dumps({"envelopes": envelopes}),
                   {"content-type": "application/json"})
    ids = json.loads(server.getresponse().read())["event_ids"]
    print(json.dumps({"event_id": ids[0]} if single else {"event_ids": ids}), flush=True)
"#;

/// The producer command for the server at `url`, taking `delay` seconds per request.
fn producer(dir: &std::path::Path, url: &str, delay: f64) -> String {
    let script = dir.join("producer.py");
    std::fs::write(&script, PRODUCER).unwrap();
    let python = testenv::program("python3");
    format!("{} {} {url} {delay}", python.display(), script.display())
}

fn counter(load: &Value, name: &str) -> u64 {
    load["counters"][name].as_u64().unwrap_or_default()
}

fn micros(load: &Value, histogram: &str, stat: &str) -> u64 {
    load["histograms"][histogram][stat]
        .as_u64()
        .unwrap_or_default()
}

/// `harness load --api fibric` on `url` through the producer `command`, with `flags` (words split on spaces).
async fn fibric_load(
    out: &std::path::Path,
    url: &str,
    command: &str,
    flags: &str,
) -> (Exit, Value) {
    let mut args = vec!["--api", "fibric", "--target", url, "--producer", command];
    args.extend(flags.split_whitespace());
    load_run(out, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fibric_load_through_a_producer_reaches_every_subscriber_of_a_server_of_the_tests_own() {
    let server = fibric_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let command = producer(dir.path(), &server.url, 0.0);
    let (exit, load) = fibric_load(
        &dir.path().join("out"),
        &server.url,
        &command,
        "--subscribers 3 --rate 200 --duration 2s --batch 5 --publishers 2 --grace 5s --threshold lost==0",
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{load}");
    assert_eq!(counter(&load, "published"), 400, "{load}");
    assert_eq!(counter(&load, "publish_errors"), 0, "{load}");
    assert_eq!(counter(&load, "delivered"), 3 * 400, "{load}");
    for anomaly in ["lost", "duplicated", "out_of_order", "subscriber_errors"] {
        assert_eq!(counter(&load, anomaly), 0, "{anomaly}: {load}");
    }
    // The producer's answer is the acknowledgement: one per request of five.
    assert_eq!(micros(&load, "publish_ack", "count"), 80, "{load}");
    assert_eq!(micros(&load, "deliver", "count"), 1200, "{load}");
    let log = server.log.lock().unwrap();
    assert_eq!((log.envelopes.len(), log.requests), (400, 80));
    let ids: std::collections::BTreeSet<&str> = log
        .envelopes
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 400, "every envelope has an event id of its own");
}

/// A producer slower than the schedule: the events it sends late are
/// charged from when they were meant to go out, not from when it sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_producer_does_not_hide_its_delay_from_publish_to_delivery() {
    let server = fibric_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let command = producer(dir.path(), &server.url, 0.2);
    let (exit, load) = fibric_load(
        &dir.path().join("out"),
        &server.url,
        &command,
        "--subscribers 1 --rate 10 --duration 1s --grace 5s",
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{load}");
    assert_eq!(counter(&load, "delivered"), 10, "{load}");
    // Ten events meant over one second take two at 0.2 s each: the last
    // is sent about a second late, and `deliver` says so.
    assert!(micros(&load, "publish_ack", "min") >= 200_000, "{load}");
    assert!(micros(&load, "deliver", "max") >= 900_000, "{load}");
    assert!(
        micros(&load, "deliver_uncorrected", "max") < micros(&load, "deliver", "max") / 2,
        "{load}"
    );
    assert!(counter(&load, "late_publishes") >= 5, "{load}");
}

/// The sample producer publishes Pulse rows and Fibric batches through the
/// reference server's control API, with a token the harness is not given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_producer_drives_the_reference_server() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/producer/reference-server.py");
    let command = format!(
        "{} {} {url}",
        testenv::program("python3").display(),
        sample.display()
    );
    for (api, batch, events) in [("pulse", "1", 40), ("fibric", "10", 40)] {
        let (exit, load) = load_run(
            &dir.path().join(api),
            &[
                "--api",
                api,
                "--target",
                &url,
                "--producer",
                &command,
                "--control-token",
                "not-the-token",
                "--subscribers",
                "2",
                "--rate",
                "40",
                "--duration",
                "1s",
                "--batch",
                batch,
            ],
        )
        .await;
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        assert_eq!(counter(&load, "published"), events, "{api}: {load}");
        assert_eq!(counter(&load, "delivered"), 2 * events, "{api}: {load}");
        assert_eq!(counter(&load, "lost"), 0, "{api}: {load}");
    }
    server.shutdown().await.unwrap();
}

/// What a producer answers decides whether a publish counted: a refusal or
/// an answer without the event ids is a failed publish, never a delivery
/// to wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_refuses_or_answers_short_fails_its_publishes() {
    let server = fibric_server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let answers = [
        ("refuses", r#"{"error": "read-only replica"}"#, "1"),
        ("short", r#"{"event_ids": ["ev_1"]}"#, "2"),
        ("not-json", "ok", "1"),
    ];
    for (name, answer, batch) in answers {
        let script = dir.path().join(format!("{name}.sh"));
        std::fs::write(
            &script,
            format!("while read -r line; do echo '{answer}'; done\n"),
        )
        .unwrap();
        let command = format!("sh {}", script.display());
        let flags = format!(
            "--subscribers 1 --rate 10 --duration 1s --batch {batch} --grace 1s --threshold error_rate<1%"
        );
        let (exit, load) = fibric_load(&dir.path().join(name), &server.url, &command, &flags).await;
        assert_eq!(exit, Exit::Failed, "{name}: {load}");
        assert_eq!(counter(&load, "published"), 0, "{name}: {load}");
        assert_eq!(counter(&load, "publish_errors"), 10, "{name}: {load}");
        assert_eq!(counter(&load, "lost"), 0, "{name}: {load}");
    }
    assert!(server.log.lock().unwrap().envelopes.is_empty());

    // Without a producer, a server that is not a reference server has no
    // control API to publish through: said before the run.
    let output = super::support::binary()
        .args(["load", "--api", "fibric", "--target", &server.url])
        .args(["--subscribers", "1", "--rate", "10", "--duration", "1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("give --producer CMD"), "{stderr}");
    assert_eq!(server.log.lock().unwrap().requests, 0);

    let usage = [
        (
            &["--api", "actyx", "--rate", "10"][..],
            "actyx publishes through its own API",
        ),
        (&["--api", "fibric", "--rate", "0"][..], "publishes nothing"),
    ];
    for (args, message) in usage {
        let output = super::support::binary()
            .args(["load", "--target", &server.url, "--producer", "cat"])
            .args(["--subscribers", "1", "--duration", "1s"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
