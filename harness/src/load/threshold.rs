//! Thresholds: `--threshold 'deliver.p99<50ms'` and friends, checked against a run's summary.
//!
//! The grammar is `METRIC OP VALUE` with `OP` one of `<`, `<=`, `>`, `>=`, `==`:
//!
//! - `HISTOGRAM.STAT` with a duration: `deliver.p99<50ms`, `connect.max<=1s`
//!   (`STAT` is `min`, `mean`, `p50`, `p90`, `p99`, `p999` or `max`);
//! - a counter with a count: `lost==0`, `duplicated<10`;
//! - `error_rate` with a percentage or a fraction: `error_rate<1%` (publish
//!   errors and subscriber errors over publishes and subscribers);
//! - `publish_rate` or `deliver_rate` in events per second: `deliver_rate>900/s`;
//!   `request_rate` in requests per second: `request_rate>1000/s`.
//!
//! A histogram with no samples fails every threshold on it: a p99 of nothing
//! is not under 50 ms.

use std::fmt;

use super::report::{LoadReport, ThresholdResult};
use super::stats::{COUNTERS, HISTOGRAMS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => (left - right).abs() < 1e-9,
        }
    }
}

/// What a threshold reads from the summary.
#[derive(Debug, Clone, PartialEq)]
enum Metric {
    /// A histogram statistic, in microseconds.
    Histogram {
        name: String,
        stat: String,
    },
    Counter(String),
    ErrorRate,
    Rate(&'static str),
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    metric: Metric,
    op: Op,
    /// In the metric's unit: microseconds, a count, a fraction, or per second.
    limit: f64,
}

const STATS: &[&str] = &["min", "mean", "p50", "p90", "p99", "p999", "max"];

fn split_op(text: &str) -> Option<(&str, Op, &str)> {
    for (symbol, op) in [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ] {
        if let Some((left, right)) = text.split_once(symbol) {
            return Some((left.trim(), op, right.trim()));
        }
    }
    None
}

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (left, op, right) = split_op(text)
            .ok_or_else(|| format!("{text:?}: expected METRIC OP VALUE, e.g. deliver.p99<50ms"))?;
        let (metric, limit) = if let Some((name, stat)) = left.split_once('.') {
            if !HISTOGRAMS.iter().any(|(h, _)| *h == name) {
                let known: Vec<&str> = HISTOGRAMS.iter().map(|(h, _)| *h).collect();
                return Err(format!(
                    "{text:?}: no histogram {name:?} (there are {})",
                    known.join(", ")
                ));
            }
            if !STATS.contains(&stat) {
                return Err(format!(
                    "{text:?}: no statistic {stat:?} (there are {})",
                    STATS.join(", ")
                ));
            }
            let duration = humantime::parse_duration(right)
                .map_err(|e| format!("{text:?}: {right:?} is not a duration (try 50ms): {e}"))?;
            let metric = Metric::Histogram {
                name: name.to_owned(),
                stat: stat.to_owned(),
            };
            (metric, duration.as_secs_f64() * 1e6)
        } else if COUNTERS.iter().any(|(c, _)| *c == left) {
            let count: u64 = right
                .parse()
                .map_err(|_| format!("{text:?}: {right:?} is not a count"))?;
            (Metric::Counter(left.to_owned()), count as f64)
        } else if left == "error_rate" {
            let fraction = match right.strip_suffix('%') {
                Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
                None => right.parse::<f64>(),
            }
            .map_err(|_| format!("{text:?}: {right:?} is not a rate (try 1% or 0.01)"))?;
            (Metric::ErrorRate, fraction)
        } else if let Some(rate) = ["publish_rate", "deliver_rate", "request_rate"]
            .into_iter()
            .find(|r| *r == left)
        {
            let number = right.strip_suffix("/s").unwrap_or(right).trim();
            let per_second: f64 = number
                .parse()
                .map_err(|_| format!("{text:?}: {right:?} is not a rate (try 100/s)"))?;
            (Metric::Rate(rate), per_second)
        } else {
            return Err(format!(
                "{text:?}: {left:?} is neither HISTOGRAM.STAT, a counter, error_rate, publish_rate, deliver_rate nor request_rate"
            ));
        };
        if !limit.is_finite() {
            return Err(format!("{text:?}: the value is not finite"));
        }
        Ok(Threshold {
            text: text.to_owned(),
            metric,
            op,
            limit,
        })
    }
}

/// A threshold checked against a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub text: String,
    /// The measured value in the threshold's unit, or `None` without samples.
    pub value: Option<f64>,
    pub held: bool,
}

impl Threshold {
    /// Checks the threshold against a run's summary.
    pub fn check(&self, summary: &LoadReport) -> Outcome {
        let value = match &self.metric {
            Metric::Histogram { name, stat } => {
                summary.histograms.get(name).and_then(|h| h.stat(stat))
            }
            Metric::Counter(name) => summary.counters.get(name).map(|&n| n as f64),
            Metric::ErrorRate => Some(summary.rates.error_rate),
            Metric::Rate(name) => summary.rates.get(name),
        };
        let held = value.is_some_and(|v| self.op.holds(v, self.limit));
        Outcome {
            text: self.text.clone(),
            value,
            held,
        }
    }

    /// The measured value written the way the threshold was.
    fn show(&self, value: f64) -> String {
        match self.metric {
            Metric::Histogram { .. } => {
                humantime::format_duration(std::time::Duration::from_micros(value as u64))
                    .to_string()
            }
            Metric::Counter(_) => format!("{value}"),
            Metric::ErrorRate => format!("{:.3}%", value * 100.0),
            Metric::Rate(_) => format!("{value:.1}/s"),
        }
    }

    /// The outcome as `load.json` and the reports show it.
    pub fn report(&self, outcome: &Outcome) -> ThresholdResult {
        ThresholdResult {
            threshold: self.text.clone(),
            held: outcome.held,
            value: outcome.value,
            measured: outcome
                .value
                .map_or_else(|| "no samples".to_owned(), |v| self.show(v)),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            if self.held { "held  " } else { "BROKEN" },
            self.text
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn summary() -> LoadReport {
        serde_json::from_value(json!({
            "version": 1,
            "about": {"api": "fibric", "target": "http://x/", "runs": [], "start": "",
                "profile": {"rate": 100.0, "batch": 1, "duration_ms": 0, "ramp_ms": 0, "subscribers": 1,
                    "publishers": 1, "shard": "0/1", "events": 0, "users": 0}},
            "elapsed_ms": 0,
            "publishing_ms": 0,
            "histograms": {"deliver": {"count": 10, "p99": 42_000, "max": 80_000}, "connect": {"count": 0}},
            "counters": {"lost": 0, "duplicated": 3},
            "rates": {"error_rate": 0.004, "deliver_rate": 950.0, "publish_rate": 100.0, "request_rate": 0.0},
            "thresholds": [],
        }))
        .unwrap()
    }

    fn holds(text: &str) -> bool {
        text.parse::<Threshold>().unwrap().check(&summary()).held
    }

    #[test]
    fn thresholds_compare_in_the_unit_they_are_written_in() {
        assert!(holds("deliver.p99<50ms"));
        assert!(!holds("deliver.p99<42ms"));
        assert!(holds("deliver.p99<=42ms"));
        assert!(!holds("deliver.max < 50ms"));
        assert!(holds("lost==0"));
        assert!(!holds("duplicated<3"));
        assert!(holds("error_rate<1%"));
        assert!(!holds("error_rate<0.001"));
        assert!(holds("deliver_rate>900/s"));
        assert!(!holds("publish_rate>=101"));
    }

    #[test]
    fn a_histogram_without_samples_breaks_its_thresholds() {
        let outcome = "connect.p99<1s"
            .parse::<Threshold>()
            .unwrap()
            .check(&summary());
        assert!(!outcome.held);
        assert_eq!(outcome.value, None);
    }

    #[test]
    fn bad_thresholds_say_what_is_wrong() {
        for (text, says) in [
            ("deliver.p99", "METRIC OP VALUE"),
            ("delivr.p99<5ms", "no histogram"),
            ("deliver.p98<5ms", "no statistic"),
            ("deliver.p99<fast", "not a duration"),
            ("lost<x", "not a count"),
            ("speed>5", "neither"),
            ("error_rate<lots", "not a rate"),
        ] {
            let error = text.parse::<Threshold>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
