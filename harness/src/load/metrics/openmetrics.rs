//! The `--metrics-out` file: OpenMetrics text of a run's counters and histograms.
//!
//! [`render`] writes OpenMetrics 1.0 text that `promtool tsdb
//! create-blocks-from openmetrics` backfills into Prometheus, so a run (or a
//! merge of workers) can be looked at beside the target's own metrics:
//!
//! ```text
//! # TYPE harness_load_published_total counter
//! # HELP harness_load_published_total publishes acknowledged
//! harness_load_published_total{run="01kbx…",shard="0/1",api="fauna",target="http://…"} 50 1796551201
//! …
//! # TYPE harness_load_latency_seconds histogram
//! # UNIT harness_load_latency_seconds seconds
//! # HELP harness_load_latency_seconds … deliver: publish-to-delivery, …
//! harness_load_latency_seconds_bucket{run="…",shard="0/1",api="fauna",target="…",histogram="deliver",le="1e-06"} 0 1796551201
//! …
//! harness_load_latency_seconds_bucket{…,histogram="deliver",le="+Inf"} 100 1796551201
//! harness_load_latency_seconds_count{…,histogram="deliver"} 100 1796551201
//! harness_load_latency_seconds_sum{…,histogram="deliver"} 0.353571 1796551201
//! # EOF
//! ```
//!
//! - Every counter of [`COUNTERS`] is a counter family and its one sample
//!   `harness_load_NAME_total`, with the run's [`Labels`].
//! - Every histogram of [`HISTOGRAMS`] is one metric of the single family
//!   `harness_load_latency_seconds`, told apart by a `histogram` label, as
//!   classic cumulative buckets on [`bounds`] and `+Inf`, then `_count` and
//!   `_sum`. An empty histogram has all its buckets at zero, so every file has
//!   the same series and shards' buckets add up.
//! - `le` values (and `_sum`) are OpenMetrics' canonical numbers, Go's `%g`
//!   with `.0` added, by remote write's [`le_label`], so a bound is the same
//!   label value in every file, in every push and in what Prometheus scrapes.
//!
//! Every sample carries a timestamp, the end of the run in whole seconds
//! rounded up ([`timestamp`]): the backfill refuses samples without one
//! ("expected timestamp for series got none"), and `promtool check metrics`
//! reads the older Prometheus text format, where a timestamp is integer
//! milliseconds, so it refuses a fractional one. Whole seconds parse in both.
//!
//! A counter's family is named with its `_total` (`# TYPE
//! harness_load_published_total counter`), as the Prometheus text format
//! names it. Strict OpenMetrics 1.0 names the family without the suffix,
//! and then `promtool check metrics` (2.42), which reads the Prometheus
//! format, lints every counter as having no help text and exits 3; with the
//! suffix both it and the OpenMetrics parser of the backfill accept the file.
//! For the same reason no counter has a `# UNIT` (`bytes` says its unit in its
//! help): the backfill refuses a unit that is not the end of the family's name.
//!
//! The text is written by hand rather than with `prometheus-client`: its
//! encoder cannot put a timestamp on a sample (only on an exemplar), and the
//! backfill needs one on every sample.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::remote_write::{LATENCY, le_label};
use super::{Labels, bounds, cumulative};
use crate::load::report::LoadReport;
use crate::load::stats::{COUNTERS, HISTOGRAMS, Set};

/// What every family's name starts with.
pub const PREFIX: &str = "harness_load_";

/// The file's text: every counter of `report`, every histogram of `totals`
/// (microseconds, the run's totals), each sample labelled with `labels` and
/// stamped with `at`, the end of the run; `# EOF` last.
pub fn render(report: &LoadReport, totals: &Set, labels: &Labels, at: SystemTime) -> String {
    let stamp = timestamp(at);
    let base = base_labels(labels);
    let mut out = String::new();
    for (name, help) in COUNTERS {
        write_counter(&mut out, name, help, report.counter(name), &base, stamp);
    }
    write_latency(&mut out, totals, &base, stamp);
    out.push_str("# EOF\n");
    out
}

/// A sample's timestamp: `at` in whole seconds since the Unix epoch, rounded
/// up, so that it is never before the end of the run the totals describe.
pub fn timestamp(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    since.as_secs() + u64::from(since.subsec_nanos() > 0)
}

/// One counter family, named with its `_total`: type, help, then its one sample.
fn write_counter(out: &mut String, name: &str, help: &str, value: u64, base: &str, stamp: u64) {
    let family = format!("{PREFIX}{name}_total");
    writeln!(out, "# TYPE {family} counter").expect("writing to a String");
    writeln!(out, "# HELP {family} {}", escape(help)).expect("writing to a String");
    writeln!(out, "{family}{{{base}}} {value} {stamp}").expect("writing to a String");
}

/// The histogram family: its metadata, then one metric per histogram of
/// [`HISTOGRAMS`], in that order, whether `totals` has it or not.
fn write_latency(out: &mut String, totals: &Set, base: &str, stamp: u64) {
    let les: Vec<String> = bounds().into_iter().map(le_label).collect();
    let described: Vec<String> = HISTOGRAMS
        .iter()
        .map(|(name, help)| format!("{name}: {help}"))
        .collect();
    let help = format!(
        "latencies of a load run, one histogram per `histogram` label; {}",
        described.join("; ")
    );
    writeln!(out, "# TYPE {LATENCY} histogram").expect("writing to a String");
    writeln!(out, "# UNIT {LATENCY} seconds").expect("writing to a String");
    writeln!(out, "# HELP {LATENCY} {}", escape(&help)).expect("writing to a String");
    for (name, _) in HISTOGRAMS {
        let labels = format!("{base},histogram=\"{}\"", escape(name));
        let (counts, sum) = match totals.0.get(name) {
            Some(h) => (cumulative(h), sum_seconds(h)),
            None => (vec![0; les.len() + 1], 0.0),
        };
        for (le, count) in les.iter().map(String::as_str).chain(["+Inf"]).zip(&counts) {
            writeln!(
                out,
                "{LATENCY}_bucket{{{labels},le=\"{le}\"}} {count} {stamp}"
            )
            .expect("writing to a String");
        }
        let count = counts.last().copied().unwrap_or(0);
        writeln!(out, "{LATENCY}_count{{{labels}}} {count} {stamp}").expect("writing to a String");
        // Canonical rendering keeps `0.0` a float; any float rendering would do here.
        let sum = le_label(sum);
        writeln!(out, "{LATENCY}_sum{{{labels}}} {sum} {stamp}").expect("writing to a String");
    }
}

/// The sum of a histogram of microseconds, in seconds: every recorded value
/// at the middle of its HDR bucket, as HDR's own mean counts it (so the sum
/// is `mean × count`, within 0.05 % of the exact sum at 3 significant digits).
fn sum_seconds(h: &Histogram<u64>) -> f64 {
    let micros: u128 = h
        .iter_recorded()
        .map(|v| {
            u128::from(h.median_equivalent(v.value_iterated_to())) * u128::from(v.count_at_value())
        })
        .sum();
    // Dividing rounds once, so 353571 µs is `0.353571`, not `0.35357099999999997`.
    micros as f64 / 1e6
}

/// `run="…",shard="…",api="…",target="…"`, escaped, without braces.
fn base_labels(labels: &Labels) -> String {
    [
        ("run", &labels.run),
        ("shard", &labels.shard),
        ("api", &labels.api),
        ("target", &labels.target),
    ]
    .iter()
    .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
    .collect::<Vec<_>>()
    .join(",")
}

/// A label value or help text escaped as OpenMetrics requires: backslash,
/// double quote and line feed become `\\`, `\"` and `\n`.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::intervals::Intervals;
    use crate::load::stats::Interval;
    use crate::load::summary::{Inputs, build};

    fn report(set: &Set) -> LoadReport {
        let intervals: Intervals = [Interval {
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            set: set.clone(),
        }]
        .into_iter()
        .collect();
        let about = serde_json::from_value(serde_json::json!({"api": "fauna",
            "target": "http://127.0.0.1:9/", "runs": ["r"], "start": "2026-12-06T10:00:00.000Z",
            "profile": {"rate": 10.0, "batch": 1, "duration_ms": 1000, "ramp_ms": 0,
                "subscribers": 2, "publishers": 1, "shard": "0/1", "events": 10, "users": 0}}))
        .unwrap();
        build(Inputs {
            about,
            intervals: &intervals,
            counters: [("published".to_owned(), 10), ("bytes".to_owned(), 4096)].into(),
            subscribers: 2,
            elapsed: Duration::from_secs(2),
            publishing: Duration::from_secs(1),
            thresholds: &[],
            requests: None,
        })
    }

    fn labels() -> Labels {
        Labels {
            run: "run \"1\"\nof C:\\load".to_owned(),
            shard: "0/1".to_owned(),
            api: "fauna".to_owned(),
            target: "http://127.0.0.1:9/".to_owned(),
        }
    }

    fn sample() -> (Set, String) {
        let mut set = Set::default();
        for v in 1..=100u64 {
            set.0.get_mut("deliver").unwrap().record(v * 70).unwrap();
        }
        set.0.get_mut("connect").unwrap().record(5_000_000).unwrap();
        let at = UNIX_EPOCH + Duration::from_millis(1_796_551_200_250);
        let text = render(&report(&set), &set, &labels(), at);
        (set, text)
    }

    /// The samples of one histogram, as (suffix and `le`, value, timestamp).
    fn histogram_lines<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str, &'a str)> {
        let marker = format!("histogram=\"{name}\"");
        text.lines()
            .filter(|line| line.starts_with(LATENCY) && line.contains(&marker))
            .map(|line| {
                let (series, rest) = line.rsplit_once("} ").unwrap();
                let (value, stamp) = rest.split_once(' ').unwrap();
                (series, value, stamp)
            })
            .collect()
    }

    #[test]
    fn every_counter_is_a_family_with_its_total() {
        let (_, text) = sample();
        for (name, _) in COUNTERS {
            assert!(
                text.contains(&format!("# TYPE harness_load_{name}_total counter\n")),
                "{name}"
            );
            assert!(
                text.contains(&format!("# HELP harness_load_{name}_total ")),
                "{name}"
            );
            let total = format!("harness_load_{name}_total{{");
            assert_eq!(text.matches(&total).count(), 1, "{name}");
        }
        assert!(
            !text.contains("# UNIT harness_load_bytes"),
            "a unit must end the family's name"
        );
        let published = text
            .lines()
            .find(|l| l.starts_with("harness_load_published_total"))
            .unwrap();
        assert!(published.ends_with("} 10 1796551201"), "{published}");
    }

    #[test]
    fn every_histogram_has_cumulative_buckets_ending_at_its_count() {
        let (set, text) = sample();
        assert_eq!(
            text.matches(&format!("# TYPE {LATENCY} histogram\n"))
                .count(),
            1
        );
        for (name, _) in HISTOGRAMS {
            let lines = histogram_lines(&text, name);
            assert_eq!(
                lines.len(),
                bounds().len() + 3,
                "{name}: buckets, +Inf, count, sum"
            );
            let buckets: Vec<u64> = lines[..=bounds().len()]
                .iter()
                .map(|l| l.1.parse().unwrap())
                .collect();
            assert!(
                buckets.windows(2).all(|w| w[0] <= w[1]),
                "{name}: {buckets:?}"
            );
            assert!(lines[bounds().len()].0.ends_with("le=\"+Inf\""), "{name}");
            let count = &lines[bounds().len() + 1];
            assert!(count.0.starts_with(&format!("{LATENCY}_count{{")), "{name}");
            assert_eq!(
                count.1.parse::<u64>().unwrap(),
                *buckets.last().unwrap(),
                "{name}"
            );
            assert_eq!(count.1.parse::<u64>().unwrap(), set.0[name].len(), "{name}");
            assert!(lines.iter().all(|l| l.2 == "1796551201"), "{name}");
        }
        let sum = histogram_lines(&text, "deliver")[bounds().len() + 2];
        assert!(sum.0.starts_with(&format!("{LATENCY}_sum{{")));
        let sum: f64 = sum.1.parse().unwrap();
        assert!((sum - 5050.0 * 70.0 * 1e-6).abs() < 1e-3 * sum, "{sum}");
        let empty = histogram_lines(&text, "request");
        assert!(
            empty.iter().all(|l| l.1 == "0" || l.1 == "0.0"),
            "{empty:?}"
        );
    }

    #[test]
    fn label_values_are_escaped_and_eof_is_last() {
        let (_, text) = sample();
        assert!(text.contains(r#"{run="run \"1\"\nof C:\\load",shard="0/1",api="fauna","#));
        assert!(text.ends_with("\n# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
        assert_eq!(escape("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
    }

    #[test]
    fn the_timestamp_is_the_end_in_seconds_rounded_up() {
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_millis(1_000)), 1);
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_millis(1_001)), 2);
    }
}
