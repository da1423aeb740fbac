//! `harness load --users`: request/response load through the direct engine (goose on request), folded into the run's report.

use std::time::Duration;

use harness::Exit;
use reference_server::config::Config;
use serde_json::Value;

use super::load_support::{proxy, try_load_run};

/// The read endpoints `harness load` drives by default, per API.
const READS: &[(&str, &[&str])] = &[
    ("fibric", &["list"]),
    ("pulse", &["streams", "lookup"]),
    ("fauna", &["query", "feed"]),
    ("actyx", &["offsets", "query"]),
    ("atproto", &["getLatestCommit", "describeServer"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_drive_every_read_endpoint_of_every_api_and_each_answer_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    for (api, endpoints) in READS {
        let out = dir.path().join(api);
        let (exit, load) =
            try_load_run(&out, &["--api", api, "--users", "2", "--duration", "2s"]).await;
        let load = load.unwrap_or_else(|| panic!("{api}: no load.json"));
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        let section = &load["requests"];
        assert_eq!(section["engine"], "direct", "{api}: {load}");
        assert_eq!(section["users"], 2, "{api}: {load}");
        let mut engine_successes = 0;
        for endpoint in *endpoints {
            let e = &section["endpoints"][endpoint];
            let successes = e["successes"].as_u64().unwrap_or(0);
            assert!(successes > 0, "{api} {endpoint}: {load}");
            assert_eq!(e["failures"], 0, "{api} {endpoint}: {load}");
            assert!(e["p50"].as_u64().unwrap() > 0, "{api} {endpoint}: {load}");
            engine_successes += successes;
        }
        assert_eq!(
            section["endpoints"].as_object().unwrap().len(),
            endpoints.len(),
            "{api}: only the reads run by default: {load}"
        );
        // The histogram and the engine's per-endpoint counts see the same
        // answers; a request cut by the end of the run may fall on one side only.
        let ours = load["counters"]["requests"].as_u64().unwrap();
        assert_eq!(
            load["histograms"]["request"]["count"], ours,
            "{api}: {load}"
        );
        assert!(
            ours.abs_diff(engine_successes) <= 2,
            "{api}: harness counted {ours}, the endpoints {engine_successes}"
        );
        assert_eq!(load["counters"]["request_errors"], 0, "{api}: {load}");
        assert!(load["rates"]["request_rate"].as_f64().unwrap() > 0.0);
        // No streams ran: nothing published, nothing subscribed.
        assert_eq!(load["counters"]["published"], 0, "{api}: {load}");
        assert_eq!(load["histograms"]["connect"]["count"], 0, "{api}: {load}");
        assert!(!out.join("goose.html").exists(), "{api}: goose did not run");
        for kept in ["request.hlog", "load.md", "load.html"] {
            assert!(out.join(kept).is_file(), "{api}: {kept} missing");
        }
        let markdown = std::fs::read_to_string(out.join("load.md")).unwrap();
        assert!(
            markdown.contains(&format!(" {}` |", endpoints[0])),
            "{markdown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goose_drives_the_users_when_asked_and_its_reports_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--api",
        "actyx",
        "--users",
        "2",
        "--duration",
        "2s",
        "--request-engine",
        "goose",
    ];
    let (exit, load) = try_load_run(dir.path(), &args).await;
    let load = load.unwrap();
    assert_eq!(exit, Exit::Ok, "{load}");
    let section = &load["requests"];
    assert_eq!(section["engine"], "goose", "{load}");
    assert_eq!(
        section["goose_reports"],
        serde_json::json!(["goose.html", "goose.json"])
    );
    let successes: u64 = ["offsets", "query"]
        .iter()
        .map(|e| section["endpoints"][e]["successes"].as_u64().unwrap())
        .sum();
    let ours = load["counters"]["requests"].as_u64().unwrap();
    assert!(
        ours > 0 && ours.abs_diff(successes) <= 2,
        "ours {ours}, goose {successes}"
    );
    for kept in ["goose.html", "goose.json"] {
        assert!(dir.path().join(kept).is_file(), "{kept} missing");
    }
    let markdown = std::fs::read_to_string(dir.path().join("load.md")).unwrap();
    assert!(markdown.contains("closed loop, goose;"), "{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_streams_run_together_and_a_write_endpoint_runs_only_when_named() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--api",
        "actyx",
        "--users",
        "1",
        "--endpoint",
        "publish",
        "--rate",
        "20",
        "--subscribers",
        "2",
        "--duration",
        "1s",
        "--threshold",
        "request_rate>1/s",
        "--threshold",
        "request.p99<10s",
    ];
    let (exit, load) = try_load_run(dir.path(), &args).await;
    let load = load.unwrap();
    assert_eq!(exit, Exit::Ok, "{load}");
    assert_eq!(load["counters"]["delivered"], 40, "{load}");
    assert_eq!(load["counters"]["lost"], 0, "{load}");
    let endpoints = load["requests"]["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["publish"], "{load}");
    assert!(endpoints["publish"]["successes"].as_u64().unwrap() > 0);
    // The requests' events carry no marker of the run: never counted as deliveries.
    assert!(load["counters"]["frames"].as_u64().unwrap() >= 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_endpoint_or_an_empty_run_is_a_usage_error_and_a_broken_threshold_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, load) = try_load_run(
        &dir.path().join("unknown"),
        &[
            "--api",
            "fibric",
            "--users",
            "1",
            "--duration",
            "1s",
            "--endpoint",
            "nope",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Usage);
    assert!(load.is_none());
    let (exit, _) = try_load_run(
        &dir.path().join("empty"),
        &[
            "--api",
            "fibric",
            "--rate",
            "0",
            "--subscribers",
            "0",
            "--duration",
            "1s",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Usage);
    let (exit, load) = try_load_run(
        &dir.path().join("broken"),
        &[
            "--api",
            "pulse",
            "--users",
            "1",
            "--duration",
            "1s",
            "--threshold",
            "request_rate>100000000/s",
        ],
    )
    .await;
    let load = load.unwrap();
    assert_eq!(exit, Exit::Failed, "{load}");
    assert_eq!(load["thresholds"][0]["held"], false, "{load}");
    let junit = std::fs::read_to_string(dir.path().join("broken/junit.xml")).unwrap();
    assert!(
        junit.contains("request_rate&gt;100000000/s broken"),
        "{junit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_added_latency_shows_in_the_request_median() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let added = Duration::from_millis(20);
    // Both runs go through the proxy, one without a fault, so the difference
    // is the added latency and not the proxy's own hop.
    let plain = proxy(server.local_addr.to_string(), "").await;
    let slow = proxy(server.local_addr.to_string(), "all: latency 20ms").await;
    let dir = tempfile::tempdir().unwrap();
    let median = |load: &Value| load["histograms"]["request"]["p50"].as_f64().unwrap();
    let mut loads = Vec::new();
    for (name, url) in [("direct", plain.base_url()), ("proxied", slow.base_url())] {
        let args = [
            "--api",
            "fibric",
            "--target",
            &url,
            "--users",
            "4",
            "--duration",
            "2s",
        ];
        let (exit, load) = try_load_run(&dir.path().join(name), &args).await;
        let load = load.unwrap();
        assert_eq!(exit, Exit::Ok, "{load}");
        assert_eq!(load["counters"]["request_errors"], 0, "{load}");
        loads.push(load);
    }
    let measured = median(&loads[1]) - median(&loads[0]);
    let tolerance = 1000.0 + 0.05 * added.as_micros() as f64;
    // The proxy holds each chunk with a tokio timer: the deadline is rounded up
    // to a millisecond tick, and the runtime's wait for that tick is rounded up
    // to a millisecond again, so a chunk may leave up to two ticks late (the
    // median measured 21.9 ms over the plain proxy, three runs in a row).
    let tick = 2000.0;
    let added = added.as_micros() as f64;
    eprintln!(
        "added {added} µs; the request median moved by {measured} µs (tolerance {tolerance} µs, timer lateness up to {tick} µs)"
    );
    assert!(
        measured >= added - tolerance && measured <= added + tick + tolerance,
        "the proxy added {added} µs; the request median moved by {measured} µs ({loads:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_errors_in_the_counters_the_error_rate_and_the_endpoint_figures() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--api",
        "pulse",
        "--users",
        "2",
        "--duration",
        "1s",
        "--pulse-key",
        "not_the_key",
        "--threshold",
        "error_rate<1%",
    ];
    let (exit, load) = try_load_run(dir.path(), &args).await;
    let load = load.unwrap();
    assert_eq!(exit, Exit::Failed, "{load}");
    let errors = load["counters"]["request_errors"].as_u64().unwrap();
    assert!(errors > 0, "{load}");
    assert_eq!(load["counters"]["requests"], 0, "{load}");
    assert_eq!(load["histograms"]["request"]["count"], 0, "{load}");
    assert_eq!(load["rates"]["error_rate"], 1.0, "{load}");
    let streams = &load["requests"]["endpoints"]["streams"];
    assert!(streams["failures"].as_u64().unwrap() > 0, "{load}");
    assert!(
        streams["status_codes"]["401"].as_u64().unwrap() > 0,
        "{load}"
    );
}
