//! Sans-IO remote write: the figures of one push, the series they become, and the compressed body.
//!
//! [`Snapshot::take`] runs on the load's clock and copies out a few thousand
//! integers; [`write_request`] and [`encode`] run on the pusher's task, so
//! building two thousand series and compressing them never delays an
//! interval. Time is a parameter: the snapshot carries the interval's end.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::proto::{Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};
use crate::load::metrics::{self, Labels};
use crate::load::stats::{COUNTERS, HISTOGRAMS, Set};

/// The latency family; its series are `_bucket`, `_count` and `_sum`.
pub const LATENCY: &str = "harness_load_latency_seconds";

/// What one push carries: cumulative figures since the run's start.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    /// The interval's end, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub histograms: Vec<Figures>,
    pub counters: Vec<(&'static str, u64)>,
}

/// One histogram of the totals, reduced to what its series need.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Figures {
    pub name: &'static str,
    /// [`metrics::cumulative`]: one count per bound, then `+Inf` (the total).
    pub cumulative: Vec<u64>,
    /// The recorded values added up, each at its median equivalent (as
    /// HDR's mean counts them), in microseconds. An integer, so that the
    /// `_sum` counter never goes down from one push to the next.
    pub sum_micros: u128,
}

impl Snapshot {
    /// The figures of `totals` and `counters` at `at`.
    pub fn take(at: SystemTime, totals: &Set, counters: &BTreeMap<&'static str, u64>) -> Snapshot {
        let at_ms = at.duration_since(UNIX_EPOCH).map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
        Snapshot {
            at_ms,
            histograms: totals
                .0
                .iter()
                .map(|(&name, h)| Figures {
                    name,
                    cumulative: metrics::cumulative(h),
                    sum_micros: sum_micros(h),
                })
                .collect(),
            counters: counters.iter().map(|(&name, &n)| (name, n)).collect(),
        }
    }
}

fn sum_micros(h: &Histogram<u64>) -> u128 {
    h.iter_recorded()
        .map(|v| {
            u128::from(h.median_equivalent(v.value_iterated_to())) * u128::from(v.count_at_value())
        })
        .sum()
}

/// The `le` label of a bucket bound, exactly as Prometheus writes it.
///
/// This is Prometheus' `labels.FormatOpenMetricsFloat`: Go's
/// `strconv.FormatFloat(f, 'g', -1, 64)` (the shortest digits that read
/// back as `f`, in exponent form below 1e-4 and from 1e6 up, with a sign
/// and at least two exponent digits), plus `.0` when that has neither a
/// point nor an exponent. Prometheus 3 rewrites the `le` of every scraped
/// classic histogram into this form, so remote-written buckets and
/// scraped ones are the same series; and since every shard runs this one
/// function over the one [`metrics::bounds`], every shard writes the same
/// strings, which `sum by (le)` needs. 1 µs is `1e-06`, 0.5 s is `0.5`.
pub fn le_label(bound: f64) -> String {
    if bound.is_nan() {
        return "NaN".to_owned();
    }
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` has the shortest round-trip digits, as Go's -1 precision.
    let scientific = format!("{bound:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let formatted = if bound != 0.0 && !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        format!("{bound}")
    };
    if formatted.contains(['.', 'e']) {
        formatted
    } else {
        formatted + ".0"
    }
}

/// The `le` labels of [`metrics::bounds`], then `+Inf`: one per count of [`metrics::cumulative`].
pub(super) fn le_labels() -> Vec<String> {
    metrics::bounds()
        .into_iter()
        .map(le_label)
        .chain(["+Inf".to_owned()])
        .collect()
}

/// The series of one push: a counter per counter, and per histogram its
/// buckets, count and sum, every sample at the snapshot's time.
///
/// `le` comes from [`le_labels`], computed once per run.
pub(super) fn write_request(snapshot: &Snapshot, labels: &Labels, le: &[String]) -> WriteRequest {
    let common: Vec<(&str, &str)> = [
        ("api", labels.api.as_str()),
        ("run", &labels.run),
        ("shard", &labels.shard),
        ("target", &labels.target),
    ]
    .into_iter()
    // The spec forbids empty label values; an empty value is no label in PromQL anyway.
    .filter(|(_, value)| !value.is_empty())
    .collect();
    let series = |name: &str, extra: &[(&str, &str)], value: f64| {
        let mut labels: Vec<Label> = [("__name__", name)]
            .iter()
            .chain(&common)
            .chain(extra)
            .map(|&(name, value)| Label {
                name: name.to_owned(),
                value: value.to_owned(),
            })
            .collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries {
            labels,
            samples: vec![Sample {
                value,
                timestamp: snapshot.at_ms,
            }],
        }
    };
    let mut timeseries = Vec::new();
    for &(name, n) in &snapshot.counters {
        timeseries.push(series(&counter_name(name), &[], n as f64));
    }
    for figures in &snapshot.histograms {
        let histogram = ("histogram", figures.name);
        let bucket = format!("{LATENCY}_bucket");
        for (count, le) in figures.cumulative.iter().zip(le) {
            timeseries.push(series(&bucket, &[histogram, ("le", le)], *count as f64));
        }
        let count = figures.cumulative.last().copied().unwrap_or(0);
        timeseries.push(series(
            &format!("{LATENCY}_count"),
            &[histogram],
            count as f64,
        ));
        let sum = figures.sum_micros as f64 * 1e-6;
        timeseries.push(series(&format!("{LATENCY}_sum"), &[histogram], sum));
    }
    WriteRequest {
        timeseries,
        metadata: metadata(snapshot),
    }
}

/// `harness_load_<name>_total`.
fn counter_name(name: &str) -> String {
    format!("harness_load_{name}_total")
}

/// Type, help and unit of every family in the push, for receivers that keep them (Mimir, Grafana).
///
/// A counter's family is named without `_total`, as in OpenMetrics and as
/// Prometheus forwards the metadata of an OpenMetrics scrape (the
/// `--metrics-out` file names it with `_total`, which `promtool check
/// metrics` asks for).
fn metadata(snapshot: &Snapshot) -> Vec<MetricMetadata> {
    let counters = snapshot.counters.iter().map(|&(name, _)| MetricMetadata {
        r#type: MetricType::Counter.into(),
        metric_family_name: format!("harness_load_{name}"),
        help: COUNTERS
            .iter()
            .find(|(counter, _)| *counter == name)
            .map_or("", |(_, help)| help)
            .to_owned(),
        unit: if name == "bytes" { "bytes" } else { "" }.to_owned(),
    });
    let described: Vec<String> = HISTOGRAMS
        .iter()
        .map(|(name, help)| format!("{name}: {help}"))
        .collect();
    let latency = MetricMetadata {
        r#type: MetricType::Histogram.into(),
        metric_family_name: LATENCY.to_owned(),
        help: format!(
            "latencies of a load run, one histogram per `histogram` label; {}",
            described.join("; ")
        ),
        unit: "seconds".to_owned(),
    };
    let histograms = (!snapshot.histograms.is_empty()).then_some(latency);
    counters.chain(histograms).collect()
}

/// The body of a push: the protobuf encoding, snappy-compressed in the block format (not framed).
pub(super) fn encode(request: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(request))
}
