//! `harness load` against real reference servers: added latency measured, stalls not hidden, workers merged exactly, thresholds.

use std::time::Duration;

use harness::Exit;
use harness::load::hlog;
use harness::load::report::schema_errors;
use harness::load::stats::{Interval, Set, Stats};
use reference_server::config::Config;
use serde_json::Value;

use super::load_support::{load_run, proxy};
use super::support::binary;

fn micros(load: &Value, histogram: &str, stat: &str) -> f64 {
    load["histograms"][histogram][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{histogram}.{stat}: {load}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_delivers_every_event_to_every_subscriber_of_the_embedded_server() {
    let dir = tempfile::tempdir().unwrap();
    for api in ["fibric", "pulse", "fauna", "actyx", "atproto"] {
        let args = [
            "--api",
            api,
            "--subscribers",
            "3",
            "--rate",
            "20",
            "--duration",
            "1s",
        ];
        let (exit, load) = load_run(&dir.path().join(api), &args).await;
        assert_eq!(exit, Exit::Ok, "{api}: {load}");
        let counters = &load["counters"];
        assert_eq!(counters["published"], 20, "{api}: {load}");
        assert_eq!(counters["delivered"], 60, "{api}: {load}");
        for anomaly in [
            "lost",
            "duplicated",
            "out_of_order",
            "publish_errors",
            "subscriber_errors",
        ] {
            assert_eq!(counters[anomaly], 0, "{api} {anomaly}: {load}");
        }
        assert_eq!(load["histograms"]["deliver"]["count"], 60, "{api}: {load}");
        assert_eq!(load["histograms"]["connect"]["count"], 3, "{api}: {load}");
        assert!(
            load["about"]["target"]
                .as_str()
                .unwrap()
                .contains("embedded")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_added_latency_shows_in_the_median_within_a_millisecond_and_five_percent() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let added = Duration::from_millis(20);
    // Both runs go through the proxy, one without a fault, so the difference
    // is the added latency and not the proxy's own hop.
    let plain = proxy(server.local_addr.to_string(), "").await;
    let slow = proxy(server.local_addr.to_string(), "all: latency 20ms").await;
    let dir = tempfile::tempdir().unwrap();
    let target = server.base_url();
    let common = [
        "--api",
        "fibric",
        "--target",
        &target,
        "--subscribers",
        "4",
        "--rate",
        "100",
        "--duration",
        "3s",
    ];
    let run = |name: &'static str, via: String| {
        let mut args = common.map(str::to_owned).to_vec();
        args.extend(["--subscribe-url".to_owned(), via]);
        let report = dir.path().join(name);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            load_run(&report, &args).await
        }
    };
    let (exit, direct) = run("direct", plain.base_url()).await;
    assert_eq!(exit, Exit::Ok);
    let (exit, proxied) = run("proxied", slow.base_url()).await;
    assert_eq!(exit, Exit::Ok);
    for load in [&direct, &proxied] {
        assert_eq!(load["counters"]["lost"], 0, "{load}");
        assert_eq!(load["counters"]["delivered"], 1200, "{load}");
    }
    let measured = micros(&proxied, "deliver", "p50") - micros(&direct, "deliver", "p50");
    let tolerance = 1000.0 + 0.05 * added.as_micros() as f64;
    // The proxy holds each chunk with a tokio timer, which fires on the first
    // millisecond tick at or after the deadline: up to one tick late.
    let tick = 1000.0;
    let added = added.as_micros() as f64;
    eprintln!(
        "added {added} µs; the median moved by {measured} µs (tolerance {tolerance} µs, timer tick {tick} µs)"
    );
    assert!(
        measured >= added - tolerance && measured <= added + tick + tolerance,
        "the proxy added {added} µs; the median moved by {measured} µs (direct {direct}, proxied {proxied})"
    );
}

#[test]
fn a_one_second_stall_of_the_target_shows_in_the_corrected_view_and_not_the_uncorrected_one() {
    // The target runs alone on one thread; blocking that thread stalls all of it,
    // accepted connections and timers included.
    let (ready, started) = std::sync::mpsc::channel();
    let (stall, stalls) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server = reference_server::server::start(Config::ephemeral())
                .await
                .unwrap();
            ready.send(server.base_url()).unwrap();
            let mut stalls = stalls;
            while let Some(pause) = stalls.recv().await {
                std::thread::sleep(pause);
            }
        });
    });
    let target = started.recv().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (exit, load) = runtime.block_on(async {
        // The target lives as long as `stall`: the clone goes, the original stays.
        let staller = tokio::spawn({
            let stall = stall.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                stall.send(Duration::from_secs(1)).unwrap();
            }
        });
        let args = [
            "--api",
            "fibric",
            "--target",
            &target,
            "--subscribers",
            "4",
            "--rate",
            "200",
            "--duration",
            "4s",
        ];
        let outcome = load_run(dir.path(), &args).await;
        staller.await.unwrap();
        drop(stall);
        outcome
    });
    assert_eq!(exit, Exit::Ok);
    assert_eq!(load["counters"]["lost"], 0, "{load}");
    let corrected_max = micros(&load, "deliver", "max");
    let corrected_p99 = micros(&load, "deliver", "p99");
    let uncorrected_p99 = micros(&load, "deliver_uncorrected", "p99");
    eprintln!(
        "corrected max {corrected_max} µs, p99 {corrected_p99} µs; uncorrected p99 {uncorrected_p99} µs, max {} µs",
        micros(&load, "deliver_uncorrected", "max")
    );
    assert!(
        corrected_max >= 900_000.0,
        "corrected max {corrected_max} µs: {load}"
    );
    assert!(
        corrected_p99 >= 500_000.0,
        "corrected p99 {corrected_p99} µs: {load}"
    );
    assert!(
        uncorrected_p99 <= 100_000.0,
        "uncorrected p99 {uncorrected_p99} µs: {load}"
    );
    assert!(
        load["counters"]["late_publishes"].as_u64().unwrap() >= 100,
        "{load}"
    );
}

#[test]
fn merged_interval_logs_equal_one_histogram_of_the_same_samples() {
    let one = Stats::default();
    let workers = [Stats::default(), Stats::default()];
    let mut one_intervals = Vec::new();
    let mut worker_intervals = [Vec::new(), Vec::new()];
    let mut value = 7u64;
    for second in 0..5u64 {
        for n in 0..1000u64 {
            // A spread of values from microseconds to seconds, deterministic.
            value = value
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let sample = Duration::from_micros(1 + (value >> 33) % 2_000_000);
            one.record("deliver", sample);
            workers[(n % 2) as usize].record("deliver", sample);
        }
        let start = Duration::from_secs(second);
        let length = Duration::from_secs(1);
        one_intervals.push(Interval {
            start,
            length,
            set: one.take_interval(),
        });
        for (w, stats) in workers.iter().enumerate() {
            worker_intervals[w].push(Interval {
                start,
                length,
                set: stats.take_interval(),
            });
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut logs = Vec::new();
    for (w, intervals) in worker_intervals.iter().enumerate() {
        let worker_dir = dir.path().join(format!("w{w}"));
        std::fs::create_dir_all(&worker_dir).unwrap();
        hlog::write(&worker_dir, start, &intervals.iter().cloned().collect()).unwrap();
        logs.push(hlog::read(&worker_dir).unwrap());
    }
    let (merged_start, merged) = hlog::merge(&logs);
    assert_eq!(merged_start, start);
    assert_eq!(merged.len(), one_intervals.len());
    let mut merged_total = Set::default();
    let mut one_total = Set::default();
    for (m, o) in merged.iter().zip(&one_intervals) {
        assert_eq!(m.start, o.start);
        assert_eq!(
            m.set.0["deliver"], o.set.0["deliver"],
            "interval at {:?}",
            m.start
        );
        merged_total.add(&m.set);
        one_total.add(&o.set);
    }
    assert_eq!(merged_total.0["deliver"], one_total.0["deliver"]);
    assert_eq!(merged_total.0["deliver"].len(), 5000);
}

#[test]
fn two_shards_and_a_merge_count_every_event_once_and_thresholds_set_the_exit_code() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(reference_server::server::start(Config::ephemeral()))
        .unwrap();
    let target = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let start_at = humantime::format_rfc3339(std::time::SystemTime::now() + Duration::from_secs(3))
        .to_string();
    let workers: Vec<_> = ["0/2", "1/2"]
        .iter()
        .map(|shard| {
            let out = dir.path().join(shard.replace('/', "of"));
            let child = binary()
                .args([
                    "load",
                    "--api",
                    "actyx",
                    "--target",
                    &target,
                    "--subscribers",
                    "2",
                    "--rate",
                    "100",
                ])
                .args([
                    "--duration",
                    "2s",
                    "--shard",
                    shard,
                    "--start-at",
                    &start_at,
                    "--grace",
                    "2s",
                ])
                .args([
                    "--threshold",
                    "deliver.p99<10s",
                    "--report-dir",
                    out.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            (out, child)
        })
        .collect();
    for (out, child) in &workers {
        assert_eq!(
            child.status.code(),
            Some(0),
            "{out:?}: {}",
            String::from_utf8_lossy(&child.stderr)
        );
    }
    let merged_dir = dir.path().join("merged");
    let merged = binary()
        .args(["report", "merge", "--out", merged_dir.to_str().unwrap()])
        .args(workers.iter().map(|(out, _)| out.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let load: Value =
        serde_json::from_str(&std::fs::read_to_string(merged_dir.join("load.json")).unwrap())
            .unwrap();
    assert_eq!(load["counters"]["published"], 200, "{load}");
    // Each worker's two subscribers see that worker's hundred events.
    assert_eq!(load["counters"]["delivered"], 400, "{load}");
    assert_eq!(load["histograms"]["deliver"]["count"], 400, "{load}");
    assert_eq!(load["about"]["workers"], 2);
    assert!(merged_dir.join("deliver.hlog").exists());
    for written in workers.iter().map(|(out, _)| out).chain([&merged_dir]) {
        let text = std::fs::read_to_string(written.join("load.json")).unwrap();
        let errors = schema_errors(&serde_json::from_str(&text).unwrap());
        assert!(errors.is_empty(), "{written:?}: {errors:#?}");
    }

    // A file that is not a load report is refused before anything is written.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    for entry in std::fs::read_dir(&workers[0].0).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, bad.join(path.file_name().unwrap())).unwrap();
    }
    let mut broken_load: Value =
        serde_json::from_str(&std::fs::read_to_string(bad.join("load.json")).unwrap()).unwrap();
    broken_load["counters"]["published"] = serde_json::json!(-3);
    std::fs::write(bad.join("load.json"), broken_load.to_string()).unwrap();
    let refused_dir = dir.path().join("refused");
    let refused = binary()
        .args(["report", "merge", "--out", refused_dir.to_str().unwrap()])
        .args([workers[1].0.to_str().unwrap(), bad.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad/load.json") && stderr.contains("/counters/published"),
        "{stderr}"
    );
    assert!(!refused_dir.exists());
    let workers: Vec<_> = workers.into_iter().map(|(out, _)| out).collect();
    merging_accounts_for_every_shard(dir.path(), &workers);

    // A threshold that cannot hold exits 1 and fails its JUnit test case; a bad one is a usage error.
    let small_load = |extra: &[&str]| {
        binary()
            .args(["load", "--api", "fibric", "--target", &target])
            .args(["--subscribers", "1", "--rate", "20", "--duration", "1s"])
            .args(extra)
            .output()
            .unwrap()
    };
    let broken = dir.path().join("broken");
    let output = small_load(&[
        "--threshold",
        "deliver.p99<1us",
        "--threshold",
        "lost==0",
        "--report-dir",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let junit = std::fs::read_to_string(broken.join("junit.xml")).unwrap();
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("deliver.p99&lt;1us broken"),
        "{junit}"
    );
    let output = small_load(&["--threshold", "deliver.p98<1s"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no statistic"));
    drop(server);
}

/// `report merge` on the two workers' reports of one run: a shard given
/// twice or a report of another run is refused (exit 2, nothing written); a
/// missing shard, or a worker's folder without a `load.json`, makes the merge
/// incomplete (exit 1), naming the shard, with the other's figures and no
/// threshold held.
fn merging_accounts_for_every_shard(dir: &std::path::Path, workers: &[std::path::PathBuf]) {
    let merge = |out: &str, inputs: &[&std::path::Path]| {
        let out = dir.join(out);
        let output = binary()
            .args(["report", "merge", "--out", out.to_str().unwrap()])
            .args(inputs)
            .output()
            .unwrap();
        (out, output)
    };
    let (out, twice) = merge("twice", &[&workers[0], &workers[1], &workers[0]]);
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shard 0/2 is given twice"), "{stderr}");
    assert!(!out.exists());

    let other_run = dir.join("other-run");
    std::fs::create_dir_all(&other_run).unwrap();
    for entry in std::fs::read_dir(&workers[1]).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, other_run.join(path.file_name().unwrap())).unwrap();
    }
    let mut load: Value =
        serde_json::from_str(&std::fs::read_to_string(other_run.join("load.json")).unwrap())
            .unwrap();
    load["about"]["start"] = serde_json::json!("2026-01-01T00:00:00.000Z");
    std::fs::write(other_run.join("load.json"), load.to_string()).unwrap();
    let (out, other) = merge("other", &[&workers[0], &other_run]);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not of one run: the start"), "{stderr}");
    assert!(!out.exists());

    // The second worker died before it wrote its report: an empty folder.
    let unfinished = dir.join("unfinished");
    std::fs::create_dir_all(&unfinished).unwrap();
    let never_copied = dir.join("never-copied");
    let (out, partial) = merge("partial", &[&workers[0], &unfinished, &never_copied]);
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert_eq!(partial.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unfinished holds no load.json")
            && stderr.contains("never-copied holds no load.json")
            && stderr.contains("incomplete: no report of shard 1/2"),
        "{stderr}"
    );
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("load.json")).unwrap()).unwrap();
    let alone: Value =
        serde_json::from_str(&std::fs::read_to_string(workers[0].join("load.json")).unwrap())
            .unwrap();
    assert_eq!(merged["about"]["incomplete"], true, "{merged}");
    assert_eq!(
        merged["about"]["missing_shards"],
        serde_json::json!(["1/2"])
    );
    assert_eq!(merged["about"]["workers"], 1);
    assert_eq!(merged["counters"], alone["counters"]);
    assert!(schema_errors(&merged).is_empty(), "{merged}");
    let threshold = &merged["thresholds"][0];
    assert_eq!(threshold["held"], false, "{merged}");
    assert!(alone["thresholds"][0]["held"] == true);
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("type=\"incomplete\"") && junit.contains("none from shard 1/2"),
        "{junit}"
    );
    for page in ["load.md", "load.html"] {
        let text = std::fs::read_to_string(out.join(page)).unwrap();
        assert!(text.contains("Incomplete"), "{page}: {text}");
    }
}
