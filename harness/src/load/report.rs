//! `load.json` version 1 as types: what `harness load` writes and `harness report merge` reads back.
//!
//! The contract is `reports/schema/load.v1.schema.json`. A file is read in
//! two steps: it must validate against that schema (so a bad file is refused
//! with the path of what is wrong in it), and then it becomes a
//! [`LoadReport`]. Durations are in milliseconds and latencies in
//! microseconds, as the field names say. Fields this version does not
//! know are ignored, as the schema promises readers do: later revisions of
//! version 1 only add optional fields.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The version this harness writes and reads.
pub const VERSION: u32 = 1;

/// The schema every `load.json` validates against.
pub const SCHEMA: &str = include_str!("../../../reports/schema/load.v1.schema.json");

/// One run's summary, or several workers' merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub version: u32,
    pub about: About,
    /// From the schedule's start to the end of the grace period.
    pub elapsed_ms: u64,
    /// The publishing part of it.
    pub publishing_ms: u64,
    /// Per histogram of [`super::stats::HISTOGRAMS`], by name.
    pub histograms: IndexMap<String, Latency>,
    /// Per counter of [`super::stats::COUNTERS`], by name, in that order.
    pub counters: IndexMap<String, u64>,
    pub rates: Rates,
    /// The request load (`--users`), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Requests>,
    /// How the pushes to `--remote-write` went, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_write: Option<super::metrics::remote_write::PushSummary>,
    pub thresholds: Vec<ThresholdResult>,
}

/// What was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct About {
    pub api: String,
    pub target: String,
    /// The run id of every worker in it.
    pub runs: Vec<String>,
    /// The id the workers of one sharded run share (`--run-id`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// When the schedule started, RFC 3339 with milliseconds.
    pub start: String,
    pub profile: ProfileSummary,
    /// How many worker reports a merge added up; absent in a worker's own report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
    /// A merge that lacks some shards' reports: its figures are the others'.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// The shards (`i/N`) an incomplete merge lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<String>,
}

/// The settings the run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub rate: Rate,
    pub batch: u32,
    pub duration_ms: u64,
    pub ramp_ms: u64,
    /// Over every worker, after a merge.
    pub subscribers: u64,
    pub publishers: u32,
    /// `i/N`.
    pub shard: String,
    /// Events the schedule holds (or the closed loop sent).
    pub events: u64,
    pub users: u32,
}

/// Events per second, or the closed loop of `--rate max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Max,
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::PerSecond(rate) => serializer.serialize_f64(*rate),
            Rate::Max => serializer.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(f64),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Number(rate) => Ok(Rate::PerSecond(rate)),
            Wire::Text(text) if text == "max" => Ok(Rate::Max),
            Wire::Text(text) => Err(serde::de::Error::custom(format!(
                "rate {text:?} is neither a number nor \"max\""
            ))),
        }
    }
}

/// A histogram's summary in microseconds; only `count` when it is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl Latency {
    /// The summary of a histogram.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            min: Some(h.min()),
            mean: Some((h.mean() * 10.0).round() / 10.0),
            p50: Some(h.value_at_quantile(0.5)),
            p90: Some(h.value_at_quantile(0.9)),
            p99: Some(h.value_at_quantile(0.99)),
            p999: Some(h.value_at_quantile(0.999)),
            max: Some(h.max()),
        }
    }

    /// A statistic by the name thresholds use (`p99`, `max`...), `None` without samples.
    pub fn stat(&self, name: &str) -> Option<f64> {
        let micros = |v: Option<u64>| v.map(|v| v as f64);
        match name {
            "min" => micros(self.min),
            "mean" => self.mean,
            "p50" => micros(self.p50),
            "p90" => micros(self.p90),
            "p99" => micros(self.p99),
            "p999" => micros(self.p999),
            "max" => micros(self.max),
            _ => None,
        }
    }
}

/// Per-second rates and the error fraction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub publish_rate: f64,
    pub deliver_rate: f64,
    pub request_rate: f64,
    /// Errors over attempts (publishes, subscribers, requests), as a fraction.
    pub error_rate: f64,
}

impl Rates {
    /// A rate by the name thresholds use.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "publish_rate" => Some(self.publish_rate),
            "deliver_rate" => Some(self.deliver_rate),
            "request_rate" => Some(self.request_rate),
            "error_rate" => Some(self.error_rate),
            _ => None,
        }
    }
}

/// The request load's section: one worker's, or every worker's after a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Requests {
    /// Goose's per-endpoint figures cannot be added exactly (the `request`
    /// histogram, merged from the interval logs, can), so a merge keeps each worker's.
    Merged(MergedRequests),
    Worker(RequestLoad),
}

impl Requests {
    /// How long the request load ran, in seconds.
    pub fn seconds(&self) -> u64 {
        match self {
            Requests::Merged(merged) => merged.seconds,
            Requests::Worker(worker) => worker.seconds,
        }
    }

    /// Every worker's section.
    pub fn workers(&self) -> Vec<&RequestLoad> {
        match self {
            Requests::Merged(merged) => merged.workers.iter().collect(),
            Requests::Worker(worker) => vec![worker],
        }
    }

    /// The engine that drove the users: the workers', or `mixed` when they differ.
    pub fn engine(&self) -> String {
        engine_of(self.workers())
    }
}

/// The engine of several workers' request loads: theirs, or `mixed` when they differ.
pub fn engine_of<'a>(workers: impl IntoIterator<Item = &'a RequestLoad>) -> String {
    let mut engines: Vec<&str> = workers.into_iter().map(|w| w.engine.as_str()).collect();
    engines.dedup();
    match engines.as_slice() {
        [one] => (*one).to_owned(),
        _ => "mixed".to_owned(),
    }
}

/// Several workers' request sections, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedRequests {
    pub engine: String,
    /// The longest worker's.
    pub seconds: u64,
    pub workers: Vec<RequestLoad>,
}

/// One worker's request load, as its engine measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLoad {
    pub engine: String,
    pub users: u32,
    pub seconds: u64,
    /// By endpoint name.
    pub endpoints: IndexMap<String, Endpoint>,
    /// Goose's own reports beside `load.json`.
    pub goose_reports: Vec<String>,
}

/// One endpoint of the request load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(flatten)]
    pub latency: Latency,
    pub method: String,
    pub path: String,
    pub successes: u64,
    pub failures: u64,
    /// Requests per second.
    pub rate: f64,
    /// Answers per HTTP status code.
    pub status_codes: IndexMap<String, u64>,
}

/// One threshold and how it came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub threshold: String,
    pub held: bool,
    /// The measured value in the threshold's unit; `null` without samples.
    pub value: Option<f64>,
    /// The measured value written the way the threshold was.
    pub measured: String,
}

impl LoadReport {
    /// Whether every threshold held (none holds on an incomplete merge).
    pub fn held(&self) -> bool {
        !self.about.incomplete && self.thresholds.iter().all(|t| t.held)
    }

    /// A counter by name; 0 for one the report lacks.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// `load.json`'s text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a load report serialises") + "\n"
    }

    /// Reads `load.json` text: it must validate against the schema, then parse.
    pub fn parse(text: &str) -> Result<LoadReport, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let errors = schema_errors(&value);
        if !errors.is_empty() {
            return Err(format!(
                "not a load report (version {VERSION}): {}",
                errors.join("; ")
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("not a load report: {e}"))
    }

    /// Reads `DIR/load.json`.
    pub fn read(dir: &Path) -> Result<LoadReport, String> {
        let path = dir.join("load.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        LoadReport::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// What is wrong with a `load.json` value by the schema, each with where it is; empty when it is valid.
pub fn schema_errors(value: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::load::stats::{COUNTERS, HISTOGRAMS, Interval, Set};
    use crate::load::summary::{Inputs, build};

    fn sample(requests: Option<Requests>) -> LoadReport {
        let mut set = Set::default();
        for v in 1..=100u64 {
            set.0.get_mut("deliver").unwrap().record(v * 7).unwrap();
        }
        let intervals: crate::load::intervals::Intervals = [Interval {
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            set,
        }]
        .into_iter()
        .collect();
        let about = serde_json::from_value(json!({"api": "fauna", "target": "http://127.0.0.1:9/",
            "runs": ["01kbx3m5q4t7y8z9a0b1c2d3e4"], "start": "2026-12-06T10:00:00.000Z",
            "profile": {"rate": "max", "batch": 1, "duration_ms": 1000, "ramp_ms": 0, "subscribers": 2,
                "publishers": 1, "shard": "0/1", "events": 100, "users": 3}}))
        .unwrap();
        build(Inputs {
            about,
            intervals: &intervals,
            counters: [("delivered".to_owned(), 100), ("published".to_owned(), 50)].into(),
            subscribers: 2,
            elapsed: Duration::from_secs(2),
            publishing: Duration::from_secs(1),
            thresholds: &[
                "deliver.p99<1s".parse().unwrap(),
                "connect.p50<1s".parse().unwrap(),
            ],
            requests,
        })
    }

    fn worker() -> RequestLoad {
        let endpoint = Endpoint {
            latency: Latency::of(&crate::load::stats::histogram()),
            method: "GET".to_owned(),
            path: "/query/1".to_owned(),
            successes: 0,
            failures: 2,
            rate: 0.5,
            status_codes: [("503".to_owned(), 2)].into_iter().collect(),
        };
        RequestLoad {
            engine: "goose".to_owned(),
            users: 3,
            seconds: 4,
            endpoints: [("query".to_owned(), endpoint)].into_iter().collect(),
            goose_reports: vec!["goose.html".to_owned()],
        }
    }

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        let merged = Requests::Merged(MergedRequests {
            engine: "goose".to_owned(),
            seconds: 4,
            workers: vec![worker(), worker()],
        });
        for report in [
            sample(None),
            sample(Some(Requests::Worker(worker()))),
            sample(Some(merged)),
        ] {
            let text = report.to_json();
            assert_eq!(LoadReport::parse(&text), Ok(report.clone()), "{text}");
        }
        let report = sample(None);
        assert_eq!(report.about.profile.rate, Rate::Max);
        assert_eq!(report.histograms["deliver"].p50, Some(350));
        assert!(
            !report.held(),
            "connect had no samples: {:?}",
            report.thresholds
        );
    }

    #[test]
    fn the_schema_requires_every_histogram_and_counter_by_name() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let required = |what: &str| -> Vec<String> {
            let names = &schema["properties"][what]["required"];
            let mut names: Vec<String> = serde_json::from_value(names.clone()).unwrap();
            names.sort();
            names
        };
        let sorted = |table: &[(&str, &str)]| {
            let mut names: Vec<String> = table.iter().map(|(n, _)| (*n).to_owned()).collect();
            names.sort();
            names
        };
        assert_eq!(required("histograms"), sorted(HISTOGRAMS));
        assert_eq!(required("counters"), sorted(COUNTERS));
    }

    #[test]
    fn a_file_that_breaks_the_contract_is_refused_saying_where() {
        let good: Value = serde_json::from_str(&sample(None).to_json()).unwrap();
        type Breakage = fn(&mut Value);
        let breakages: [(&str, Breakage); 6] = [
            ("/version", |r| r["version"] = json!(2)),
            ("/about/profile/rate", |r| {
                r["about"]["profile"]["rate"] = json!("fast")
            }),
            ("/histograms/connect", |r| {
                r["histograms"]["connect"]["p99"] = json!(5)
            }),
            ("/histograms/deliver", |r| {
                r["histograms"]["deliver"]
                    .as_object_mut()
                    .unwrap()
                    .remove("p99");
            }),
            ("/counters/lost", |r| r["counters"]["lost"] = json!(-1)),
            ("counters", |r| {
                r.as_object_mut().unwrap().remove("counters");
            }),
        ];
        for (where_, breakage) in breakages {
            let mut broken = good.clone();
            breakage(&mut broken);
            let error = LoadReport::parse(&broken.to_string()).unwrap_err();
            assert!(error.contains(where_), "{where_}: {error}");
        }
        assert!(LoadReport::parse("{").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn later_revisions_of_version_1_may_add_fields() {
        let mut newer: Value = serde_json::from_str(&sample(None).to_json()).unwrap();
        newer["about"]["scheduler"] = json!("slurm");
        newer["added_later"] = json!({"x": 1});
        assert_eq!(LoadReport::parse(&newer.to_string()), Ok(sample(None)));
    }
}
