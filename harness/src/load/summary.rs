//! `load.json`, `load.md` and the thresholds' `junit.xml`: a run's summary, for scripts, people and CI.
//!
//! [`build`] makes the typed [`LoadReport`] out of the intervals and
//! counters: per histogram, `count`, `min`, `mean`, `p50`, `p90`, `p99`,
//! `p999` and `max` in microseconds; the counters; the rates; the thresholds
//! and whether each held; and what was run. The totals are the sum of the
//! intervals in the `.hlog` files beside it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::intervals::Intervals;
use super::report::{About, Latency, LoadReport, Rates, Requests, VERSION};
use super::stats::{COUNTERS, HISTOGRAMS};
use super::threshold::Threshold;

/// Everything a summary is made of.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// What was run: api, target, run id, profile, start, workers.
    pub about: About,
    pub intervals: &'a Intervals,
    pub counters: BTreeMap<String, u64>,
    /// Subscribers connected or attempted, over all workers.
    pub subscribers: u64,
    /// From the schedule's start to the end of the grace period.
    pub elapsed: Duration,
    /// The publishing part of it.
    pub publishing: Duration,
    pub thresholds: &'a [Threshold],
    /// The request load's section (the engine's figures per endpoint), if it ran.
    pub requests: Option<Requests>,
}

/// Builds `load.json`.
pub fn build(inputs: Inputs<'_>) -> LoadReport {
    let histograms = inputs
        .intervals
        .totals()
        .0
        .iter()
        .map(|(name, h)| ((*name).to_owned(), Latency::of(h)))
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
    let request_span = Duration::from_secs(inputs.requests.as_ref().map_or(0, Requests::seconds));
    let rates = Rates {
        publish_rate: round(per_second(count("published"), inputs.publishing)),
        deliver_rate: round(per_second(count("delivered"), inputs.elapsed)),
        request_rate: round(per_second(count("requests"), request_span)),
        error_rate: if attempts == 0.0 {
            0.0
        } else {
            errors / attempts
        },
    };
    let counters = COUNTERS
        .iter()
        .map(|(name, _)| ((*name).to_owned(), count(name) as u64))
        .collect();
    let mut load = LoadReport {
        version: VERSION,
        about: inputs.about,
        elapsed_ms: inputs.elapsed.as_millis() as u64,
        publishing_ms: inputs.publishing.as_millis() as u64,
        histograms,
        counters,
        rates,
        requests: inputs.requests,
        remote_write: None,
        thresholds: Vec::new(),
    };
    load.thresholds = inputs
        .thresholds
        .iter()
        .map(|t| t.report(&t.check(&load)))
        .collect();
    if load.about.incomplete {
        // Figures without some shards say nothing of the run's.
        for t in &mut load.thresholds {
            t.held = false;
            t.measured += " (incomplete run)";
        }
    }
    load
}

/// Microseconds as milliseconds with three decimals, or a dash without samples.
pub fn ms(micros: Option<u64>) -> String {
    micros.map_or_else(|| "–".to_owned(), |us| format!("{:.3}", us as f64 / 1000.0))
}

/// `load.md`: the summary as Markdown tables, fit for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(load: &LoadReport) -> String {
    let mut out = String::new();
    let about = &load.about;
    let _ = writeln!(out, "# harness load: {} at {}\n", about.api, about.target);
    let _ = writeln!(
        out,
        "Profile: `{}`. Elapsed {} ms.\n",
        serde_json::to_string(&about.profile).unwrap_or_default(),
        load.elapsed_ms
    );
    if let Some(workers) = about.workers {
        let line = shards_line(about, workers);
        let line = if about.incomplete {
            format!("**{line}**")
        } else {
            line
        };
        let _ = writeln!(out, "{line}\n");
    }
    out.push_str("| histogram | count | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (name, what) in HISTOGRAMS {
        let h = load.histograms.get(*name).cloned().unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{name}` ({what}) | {} | {} | {} | {} | {} | {} |",
            h.count,
            ms(h.p50),
            ms(h.p90),
            ms(h.p99),
            ms(h.p999),
            ms(h.max)
        );
    }
    out.push_str("\n| counter | value |\n|---|---:|\n");
    for (name, _) in COUNTERS {
        let _ = writeln!(out, "| `{name}` | {} |", load.counter(name));
    }
    let rates = &load.rates;
    let _ = writeln!(
        out,
        "\nRates: {} published/s, {} delivered/s, {} requests/s, error rate {:.3} %.",
        number(rates.publish_rate),
        number(rates.deliver_rate),
        number(rates.request_rate),
        rates.error_rate * 100.0
    );
    if let Some(requests) = &load.requests {
        request_table(&mut out, requests);
    }
    if !load.thresholds.is_empty() {
        out.push_str("\n| threshold | measured | |\n|---|---:|---|\n");
        for t in &load.thresholds {
            let verdict = if t.held { "held" } else { "**broken**" };
            let _ = writeln!(out, "| `{}` | {} | {verdict} |", t.threshold, t.measured);
        }
    }
    out
}

/// What a merge holds: every shard, or which are missing.
pub fn shards_line(about: &super::report::About, workers: u64) -> String {
    if about.incomplete {
        let of = workers + about.missing_shards.len() as u64;
        format!(
            "Incomplete: {workers} of {of} shards reported; none from shard {}. No threshold holds.",
            about.missing_shards.join(", ")
        )
    } else {
        format!("Merged from {workers} workers: every shard reported.")
    }
}

/// A number the way JSON writes it (`50.0`, not `50`).
pub fn number(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_default()
}

/// The request load's endpoints, as its engine measured them (each worker's, after a merge).
fn request_table(out: &mut String, requests: &Requests) {
    let workers = requests.workers();
    let _ = writeln!(
        out,
        "\nRequests ({} users, closed loop, {}; the `request` histogram above holds them all):\n",
        workers.iter().map(|w| u64::from(w.users)).sum::<u64>(),
        requests.engine()
    );
    out.push_str("| endpoint | requests | failures | per s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for worker in workers {
        for (name, e) in &worker.endpoints {
            let _ = writeln!(
                out,
                "| `{} {name}` | {} | {} | {} | {} | {} | {} |",
                e.method,
                e.successes,
                e.failures,
                number(e.rate),
                ms(e.latency.p50),
                ms(e.latency.p99),
                ms(e.latency.max)
            );
        }
    }
}

/// `junit.xml`: one test case per threshold, failed when it broke.
pub fn junit(load: &LoadReport) -> String {
    let escape = crate::report::junit::escape;
    let thresholds = &load.thresholds;
    // A merge has one more case: that every shard reported.
    let merged = load.about.workers.is_some();
    let tests = thresholds.len() + usize::from(merged);
    let failures =
        thresholds.iter().filter(|t| !t.held).count() + usize::from(load.about.incomplete);
    let seconds = load.elapsed_ms as f64 / 1000.0;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"harness load\" tests=\"{tests}\" failures=\"{failures}\" time=\"{seconds:.3}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"load.{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">",
        escape(&load.about.api),
    );
    if let Some(workers) = load.about.workers {
        let line = escape(&shards_line(&load.about, workers));
        let failure = if load.about.incomplete {
            format!("<failure message=\"{line}\" type=\"incomplete\">{line}</failure>")
        } else {
            format!("<system-out>{line}</system-out>")
        };
        let _ = writeln!(
            out,
            "    <testcase classname=\"load.shards\" name=\"every shard reported\" time=\"0\">{failure}</testcase>"
        );
    }
    for t in thresholds {
        let name = escape(&t.threshold);
        let measured = escape(&t.measured);
        if t.held {
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
