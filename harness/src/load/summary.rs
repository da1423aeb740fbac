//! `load.json`, `load.md` and the thresholds' `junit.xml`: a run's summary, for scripts, people and CI.
//!
//! `load.json` (version 1) has, per histogram, `count`, `min`, `mean`,
//! `p50`, `p90`, `p99`, `p999` and `max` in microseconds; the counters; the
//! rates; the thresholds and whether each held; and what was run. The totals
//! are the sum of the intervals in the `.hlog` files beside it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::stats::{COUNTERS, HISTOGRAMS, Interval, Set, summary};
use super::threshold::Threshold;

/// Everything a summary is made of.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// What was run: api, target, run id, profile, start, workers.
    pub about: Value,
    pub intervals: &'a [Interval],
    pub counters: BTreeMap<String, u64>,
    /// Subscribers connected or attempted, over all workers.
    pub subscribers: u64,
    /// From the schedule's start to the end of the grace period.
    pub elapsed: Duration,
    /// The publishing part of it.
    pub publishing: Duration,
    pub thresholds: &'a [Threshold],
    /// The request load's section (goose's figures per endpoint, `seconds`), if it ran.
    pub requests: Option<Value>,
}

/// Builds `load.json`.
pub fn build(inputs: &Inputs<'_>) -> Value {
    let mut total = Set::default();
    for interval in inputs.intervals {
        total.add(&interval.set);
    }
    let histograms: Map<String, Value> = total
        .0
        .iter()
        .map(|(name, h)| ((*name).to_owned(), summary(h)))
        .collect();
    let count = |name: &str| inputs.counters.get(name).copied().unwrap_or(0) as f64;
    let attempts = count("published")
        + count("publish_errors")
        + inputs.subscribers as f64
        + count("requests")
        + count("request_errors");
    let errors = count("publish_errors") + count("subscriber_errors") + count("request_errors");
    let per_second = |n: f64, span: Duration| {
        if span.is_zero() {
            0.0
        } else {
            n / span.as_secs_f64()
        }
    };
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let request_span = inputs
        .requests
        .as_ref()
        .and_then(|r| r["seconds"].as_f64())
        .map_or(Duration::ZERO, Duration::from_secs_f64);
    let rates = json!({
        "publish_rate": round(per_second(count("published"), inputs.publishing)),
        "deliver_rate": round(per_second(count("delivered"), inputs.elapsed)),
        "request_rate": round(per_second(count("requests"), request_span)),
        "error_rate": if attempts == 0.0 { 0.0 } else { errors / attempts },
    });
    let counters: Map<String, Value> = COUNTERS
        .iter()
        .map(|(name, _)| ((*name).to_owned(), json!(count(name) as u64)))
        .collect();
    let mut load = json!({
        "version": 1,
        "about": inputs.about,
        "elapsed_ms": inputs.elapsed.as_millis() as u64,
        "publishing_ms": inputs.publishing.as_millis() as u64,
        "histograms": histograms,
        "counters": counters,
        "rates": rates,
    });
    if let Some(requests) = &inputs.requests {
        load["requests"] = requests.clone();
    }
    let thresholds: Vec<Value> = inputs
        .thresholds
        .iter()
        .map(|t| t.report(&t.check(&load)))
        .collect();
    load["thresholds"] = json!(thresholds);
    load
}

/// Whether every threshold in a `load.json` held.
pub fn held(load: &Value) -> bool {
    load["thresholds"]
        .as_array()
        .is_none_or(|all| all.iter().all(|t| t["held"] == true))
}

fn ms(micros: &Value) -> String {
    micros
        .as_f64()
        .map_or_else(|| "–".to_owned(), |us| format!("{:.3}", us / 1000.0))
}

/// `load.md`: the summary as Markdown tables, fit for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(load: &Value) -> String {
    let mut out = String::new();
    let about = &load["about"];
    let _ = writeln!(
        out,
        "# harness load: {} at {}\n",
        about["api"].as_str().unwrap_or("?"),
        about["target"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        out,
        "Profile: `{}`. Elapsed {} ms.\n",
        about["profile"], load["elapsed_ms"]
    );
    out.push_str("| histogram | count | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (name, what) in HISTOGRAMS {
        let h = &load["histograms"][name];
        let _ = writeln!(
            out,
            "| `{name}` ({what}) | {} | {} | {} | {} | {} | {} |",
            h["count"],
            ms(&h["p50"]),
            ms(&h["p90"]),
            ms(&h["p99"]),
            ms(&h["p999"]),
            ms(&h["max"])
        );
    }
    out.push_str("\n| counter | value |\n|---|---:|\n");
    for (name, _) in COUNTERS {
        let _ = writeln!(out, "| `{name}` | {} |", load["counters"][name]);
    }
    let rates = &load["rates"];
    let _ = writeln!(
        out,
        "\nRates: {} published/s, {} delivered/s, {} requests/s, error rate {:.3} %.",
        rates["publish_rate"],
        rates["deliver_rate"],
        rates["request_rate"],
        rates["error_rate"].as_f64().unwrap_or(0.0) * 100.0
    );
    request_table(&mut out, &load["requests"]);
    if let Some(thresholds) = load["thresholds"].as_array().filter(|t| !t.is_empty()) {
        out.push_str("\n| threshold | measured | |\n|---|---:|---|\n");
        for t in thresholds {
            let verdict = if t["held"] == true {
                "held"
            } else {
                "**broken**"
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {verdict} |",
                t["threshold"].as_str().unwrap_or(""),
                t["measured"].as_str().unwrap_or("")
            );
        }
    }
    out
}

/// The request load's endpoints, as goose measured them (each worker's, after a merge).
fn request_table(out: &mut String, requests: &Value) {
    let sections: Vec<&Value> = match requests["workers"].as_array() {
        Some(workers) => workers.iter().collect(),
        None if requests.is_object() => vec![requests],
        None => return,
    };
    let _ = writeln!(
        out,
        "\nRequests ({} users, closed loop, goose; the `request` histogram above holds them all):\n",
        sections
            .iter()
            .filter_map(|s| s["users"].as_u64())
            .sum::<u64>()
    );
    out.push_str("| endpoint | requests | failures | per s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for section in sections {
        for (name, e) in section["endpoints"].as_object().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| `{} {name}` | {} | {} | {} | {} | {} | {} |",
                e["method"].as_str().unwrap_or(""),
                e["successes"],
                e["failures"],
                e["rate"],
                ms(&e["p50"]),
                ms(&e["p99"]),
                ms(&e["max"])
            );
        }
    }
}

/// `junit.xml`: one test case per threshold, failed when it broke.
pub fn junit(load: &Value) -> String {
    let escape = crate::report::junit::escape;
    let thresholds = load["thresholds"].as_array().cloned().unwrap_or_default();
    let failures = thresholds.iter().filter(|t| t["held"] != true).count();
    let seconds = load["elapsed_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"harness load\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">",
        thresholds.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"load.{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">",
        escape(load["about"]["api"].as_str().unwrap_or("")),
        thresholds.len()
    );
    for t in &thresholds {
        let name = escape(t["threshold"].as_str().unwrap_or(""));
        let measured = escape(t["measured"].as_str().unwrap_or(""));
        if t["held"] == true {
            let _ = writeln!(
                out,
                "    <testcase classname=\"load.thresholds\" name=\"{name}\" time=\"0\"><system-out>measured {measured}</system-out></testcase>"
            );
        } else {
            let _ = writeln!(
                out,
                "    <testcase classname=\"load.thresholds\" name=\"{name}\" time=\"0\"><failure message=\"measured {measured}\" type=\"threshold\">{name} broken: measured {measured}</failure></testcase>"
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
