//! The `--metrics-out` file read by Prometheus' own tools: `promtool check metrics` lints it and `promtool tsdb create-blocks-from openmetrics` backfills it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::Exit;
use harness::load::hlog;
use harness::load::intervals::Intervals;
use harness::load::metrics::openmetrics::{self, PREFIX};
use harness::load::metrics::{Labels, bounds};
use harness::load::report::LoadReport;
use harness::load::stats::{COUNTERS, HISTOGRAMS, Interval, Set};
use harness::load::summary::{Inputs, build};
use serde_json::Value;

use crate::load_support::load_run;

/// Series in every file: one per counter, and per histogram its buckets, `+Inf`, `_count` and `_sum`.
fn series_per_file() -> u64 {
    (COUNTERS.len() + HISTOGRAMS.len() * (bounds().len() + 3)) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_run_s_metrics_pass_promtool_and_backfill_into_one_block() {
    let promtool = testenv::program("promtool");
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--api",
        "fauna",
        "--subscribers",
        "2",
        "--rate",
        "20",
        "--duration",
        "1s",
    ];
    let (exit, _) = load_run(dir.path(), &args).await;
    assert_eq!(exit, Exit::Ok);
    let report = LoadReport::read(dir.path()).unwrap();
    let totals = totals_of_the_logs(dir.path());
    assert_eq!(
        totals.0["deliver"].len(),
        report.histograms["deliver"].count
    );
    let labels = Labels {
        run: report.about.runs[0].clone(),
        shard: report.about.profile.shard.clone(),
        api: report.about.api.clone(),
        target: report.about.target.clone(),
    };
    let at = SystemTime::now();
    let text = openmetrics::render(&report, &totals, &labels, at);
    histograms_are_consistent(&text).unwrap();
    let delivered = format!("{PREFIX}delivered_total{{");
    let line = text.lines().find(|l| l.starts_with(&delivered)).unwrap();
    assert!(line.contains(" 40 "), "2 subscribers × 20 events: {line}");

    let file = dir.path().join("metrics.txt");
    check_metrics(&promtool, &file, &text).unwrap();
    let meta = backfill(&promtool, &file, &text, &dir.path().join("blocks")).unwrap();
    assert_eq!(meta["stats"]["numSeries"], series_per_file(), "{meta}");
    assert_eq!(meta["stats"]["numSamples"], series_per_file(), "{meta}");
    let ms = openmetrics::timestamp(at) * 1000;
    assert_eq!(
        meta["minTime"], ms,
        "every sample is at the end of the run: {meta}"
    );
}

#[test]
fn promtool_and_the_consistency_check_refuse_broken_files() {
    let promtool = testenv::program("promtool");
    let dir = tempfile::tempdir().unwrap();
    let text = hand_made_text();
    // The hand-made labels need every escape; the file as rendered is accepted.
    let good = dir.path().join("good.txt");
    check_metrics(&promtool, &good, &text).unwrap();
    backfill(&promtool, &good, &text, &dir.path().join("good")).unwrap();
    histograms_are_consistent(&text).unwrap();

    let stamp = format!(" {}", openmetrics::timestamp(at()));
    let unescaped = text.replace(r#"\""#, "\"");
    let newline = text.replace(r"\n", "\n");
    let no_eof = text.replace("# EOF\n", "");
    let no_timestamps = text.replace(&stamp, "");
    let milliseconds = text.replace(&stamp, &format!("{stamp}.250"));
    for (what, broken, by_check, by_backfill) in [
        ("an unescaped quote", &unescaped, true, true),
        ("an unescaped line feed", &newline, true, true),
        ("no # EOF", &no_eof, false, true),
        ("no timestamps", &no_timestamps, false, true),
        ("fractional timestamps", &milliseconds, true, false),
    ] {
        assert_ne!(broken, &text, "{what}: the breakage must change the text");
        let path = dir.path().join("broken.txt");
        let checked = check_metrics(&promtool, &path, broken);
        assert_eq!(
            checked.is_err(),
            by_check,
            "{what}: check metrics: {checked:?}"
        );
        let blocks = dir.path().join(format!("broken-{what}"));
        let backfilled = backfill(&promtool, &path, broken, &blocks);
        assert_eq!(
            backfilled.is_err(),
            by_backfill,
            "{what}: backfill: {backfilled:?}"
        );
    }

    // promtool (2.42) reads a histogram's buckets as independent series, so
    // a count that goes down passes both tools: the file's own check refuses it.
    let bucket = text
        .lines()
        .find(|l| l.contains(r#"histogram="deliver",le="+Inf""#))
        .unwrap();
    let decreasing = text.replace(bucket, &bucket.replace("} 100 ", "} 99 "));
    assert_ne!(decreasing, text);
    let refused = histograms_are_consistent(&decreasing).unwrap_err();
    assert!(refused.contains("deliver"), "{refused}");
}

/// When the hand-made file's samples are stamped.
fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_796_551_200_250)
}

/// A report of 100 deliveries and one connect, with labels that need every escape.
fn hand_made_text() -> String {
    let mut set = Set::default();
    for v in 1..=100u64 {
        set.0.get_mut("deliver").unwrap().record(v * 97).unwrap();
    }
    set.0.get_mut("connect").unwrap().record(2_500).unwrap();
    let intervals: Intervals = [Interval {
        start: Duration::ZERO,
        length: Duration::from_secs(1),
        set,
    }]
    .into_iter()
    .collect();
    let about = serde_json::from_value(serde_json::json!({"api": "fauna",
        "target": "http://127.0.0.1:9/", "runs": ["r"], "start": "2026-12-06T10:00:00.000Z",
        "profile": {"rate": 100.0, "batch": 1, "duration_ms": 1000, "ramp_ms": 0,
            "subscribers": 1, "publishers": 1, "shard": "0/1", "events": 100, "users": 0}}))
    .unwrap();
    let report = build(Inputs {
        about,
        intervals: &intervals,
        counters: [("published".to_owned(), 100), ("delivered".to_owned(), 100)].into(),
        subscribers: 1,
        elapsed: Duration::from_secs(2),
        publishing: Duration::from_secs(1),
        thresholds: &[],
        requests: None,
    });
    let labels = Labels {
        run: "nightly \"soak\"".to_owned(),
        shard: "0/1".to_owned(),
        api: "fauna".to_owned(),
        target: "http://127.0.0.1:9/a\\b\nc".to_owned(),
    };
    openmetrics::render(&report, intervals.totals(), &labels, at())
}

/// The run's totals, from the `.hlog` files `harness load` wrote to `dir`.
fn totals_of_the_logs(dir: &Path) -> Set {
    let mut totals = Set::default();
    for (_, set) in hlog::read(dir).unwrap().intervals.values() {
        totals.add(set);
    }
    totals
}

/// `promtool check metrics < FILE`, with `text` in `file`: it must exit 0,
/// lints included (exit 3 is a lint).
fn check_metrics(promtool: &Path, file: &Path, text: &str) -> Result<(), String> {
    std::fs::write(file, text).unwrap();
    let output = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    match output.status.code() {
        Some(0) => Ok(()),
        _ => Err(format!(
            "promtool check metrics: {}: {}",
            output.status,
            said(&output)
        )),
    }
}

/// `promtool tsdb create-blocks-from openmetrics FILE BLOCKS` with `text` in
/// `file`: the `meta.json` of the one block it must make.
fn backfill(promtool: &Path, file: &Path, text: &str, blocks: &Path) -> Result<Value, String> {
    std::fs::write(file, text).unwrap();
    let output = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(file)
        .arg(blocks)
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(format!("backfill: {}: {}", output.status, said(&output)));
    }
    let made: Vec<PathBuf> = std::fs::read_dir(blocks)
        .map_err(|e| format!("{}: {e}", blocks.display()))?
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("meta.json").is_file())
        .collect();
    let [block] = made.as_slice() else {
        return Err(format!("backfill made {made:?}, not one block"));
    };
    let meta = std::fs::read_to_string(block.join("meta.json")).unwrap();
    Ok(serde_json::from_str(&meta).unwrap())
}

fn said(output: &Output) -> String {
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    said
}

/// What promtool does not look at: in every histogram, the buckets go up,
/// `+Inf` is last and equals `_count`.
fn histograms_are_consistent(text: &str) -> Result<(), String> {
    let latency = format!("{PREFIX}latency_seconds");
    for (name, _) in HISTOGRAMS {
        let marker = format!("histogram=\"{name}\"");
        let samples: Vec<(&str, u64)> = text
            .lines()
            .filter(|l| l.starts_with(&latency) && l.contains(&marker) && !l.contains("_sum{"))
            .map(|l| {
                let (series, rest) = l.rsplit_once("} ").unwrap();
                (series, rest.split(' ').next().unwrap().parse().unwrap())
            })
            .collect();
        let (count, buckets) = samples.split_last().ok_or(format!("{name}: no samples"))?;
        let counts: Vec<u64> = buckets.iter().map(|(_, n)| *n).collect();
        if buckets.len() != bounds().len() + 1 || !count.0.contains("_count{") {
            return Err(format!(
                "{name}: {} buckets, then {}",
                buckets.len(),
                count.0
            ));
        }
        if !counts.windows(2).all(|w| w[0] <= w[1]) {
            return Err(format!("{name}: the buckets go down: {counts:?}"));
        }
        let last = buckets.last().unwrap();
        if !last.0.ends_with("le=\"+Inf\"") || last.1 != count.1 {
            return Err(format!("{name}: {last:?} is not +Inf of count {}", count.1));
        }
    }
    Ok(())
}
