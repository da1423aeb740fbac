//! `harness load --rate max` (the closed loop), `--batch`, and the `ack_deliver` latency, against the reference server.

use harness::Exit;
use reference_server::config::Config;
use serde_json::Value;

use super::load_support::{load_run, proxy, try_load_run};

fn count(load: &Value, name: &str) -> u64 {
    load["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: {load}"))
}

fn histogram_count(load: &Value, name: &str) -> u64 {
    load["histograms"][name]["count"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_publishes_back_to_back_for_the_duration_and_every_subscriber_gets_all() {
    let dir = tempfile::tempdir().unwrap();
    for api in ["actyx", "atproto", "fauna"] {
        let args = [
            "--api",
            api,
            "--rate",
            "max",
            "--duration",
            "1s",
            "--publishers",
            "3",
            "--subscribers",
            "2",
        ];
        let (exit, load) = load_run(&dir.path().join(api), &args).await;
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        let published = count(&load, "published");
        // Back to back for a second: far more than an open loop's handful,
        // and every one of them numbered in the report.
        assert!(published >= 50, "{api}: only {published} published: {load}");
        assert_eq!(load["about"]["profile"]["rate"], "max", "{api}");
        assert_eq!(load["about"]["profile"]["events"], published, "{api}");
        assert_eq!(count(&load, "delivered"), 2 * published, "{api}: {load}");
        for anomaly in ["lost", "duplicated", "out_of_order", "late_publishes"] {
            assert_eq!(count(&load, anomaly), 0, "{api} {anomaly}: {load}");
        }
        // The loop stops at the duration: the publishing phase is about a second.
        let publishing = load["publishing_ms"].as_u64().unwrap();
        assert!((1000..1500).contains(&publishing), "{api}: {publishing} ms");
        // Every delivery is timed from its send and from its acknowledgement.
        for histogram in ["deliver", "deliver_uncorrected", "ack_deliver"] {
            assert_eq!(
                histogram_count(&load, histogram),
                2 * published,
                "{api} {histogram}"
            );
        }
        assert_eq!(histogram_count(&load, "publish_ack"), published, "{api}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_carries_several_events_in_one_request_and_keeps_their_order() {
    let dir = tempfile::tempdir().unwrap();
    for api in ["actyx", "fibric"] {
        let args = [
            "--api",
            api,
            "--rate",
            "200",
            "--duration",
            "1s",
            "--batch",
            "10",
            "--publishers",
            "2",
            "--subscribers",
            "2",
        ];
        let (exit, load) = load_run(&dir.path().join(api), &args).await;
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        assert_eq!(count(&load, "published"), 200, "{api}: {load}");
        // Twenty requests of ten events each.
        assert_eq!(histogram_count(&load, "publish_ack"), 20, "{api}: {load}");
        assert_eq!(count(&load, "delivered"), 400, "{api}: {load}");
        assert_eq!(load["about"]["profile"]["batch"], 10, "{api}");
        for anomaly in ["lost", "duplicated", "out_of_order", "publish_errors"] {
            assert_eq!(count(&load, anomaly), 0, "{api} {anomaly}: {load}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_where_the_api_takes_one_event_and_a_ramped_closed_loop_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 3] = [
        &["--api", "atproto", "--rate", "10", "--batch", "5"],
        &["--api", "actyx", "--rate", "10", "--batch", "0"],
        &["--api", "actyx", "--rate", "max", "--ramp", "1s"],
    ];
    for (n, case) in cases.iter().enumerate() {
        let mut args = case.to_vec();
        args.extend(["--duration", "2s", "--subscribers", "1"]);
        let (exit, load) = try_load_run(&dir.path().join(n.to_string()), &args).await;
        assert_eq!(exit, Exit::Usage, "{args:?}");
        assert!(load.is_none(), "{args:?} ran anyway");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_to_delivery_is_timed_from_the_acknowledgement() {
    // Subscribers behind a proxy that delays every chunk by 30 ms: no event
    // can reach them before its publisher has the acknowledgement, and the
    // time from acknowledgement to delivery is about the proxy's delay.
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let proxy = proxy(server.local_addr.to_string(), "all: latency 30ms").await;
    let dir = tempfile::tempdir().unwrap();
    let (target, via) = (server.base_url(), proxy.base_url());
    let args = [
        "--api",
        "fibric",
        "--target",
        &target,
        "--subscribe-url",
        &via,
        "--rate",
        "50",
        "--duration",
        "2s",
        "--subscribers",
        "2",
    ];
    let (exit, load) = load_run(dir.path(), &args).await;
    assert_eq!(exit, Exit::Ok, "{load}");
    assert_eq!(count(&load, "delivered"), 200, "{load}");
    assert_eq!(count(&load, "delivered_before_ack"), 0, "{load}");
    let p50 = load["histograms"]["ack_deliver"]["p50"].as_f64().unwrap() / 1000.0;
    let deliver = load["histograms"]["deliver"]["p50"].as_f64().unwrap() / 1000.0;
    assert!(
        (20.0..60.0).contains(&p50),
        "ack→deliver p50 {p50} ms: {load}"
    );
    // Acknowledgement comes after the send: the publish-to-delivery time is longer.
    assert!(
        deliver >= p50,
        "deliver p50 {deliver} ms < ack→deliver p50 {p50} ms"
    );
}
