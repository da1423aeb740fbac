//! Load figures for the observability stack: the bucket layout and labels that the OpenMetrics file and remote write share.
//!
//! Percentiles cannot be added across workers; bucket counts can. Every
//! histogram goes out as classic cumulative buckets with one fixed layout:
//! [`PER_OCTAVE`] buckets per doubling from 1 µs to 2^[`OCTAVES`] µs (about
//! 67 s), then `+Inf`. A bucket's upper bound is 2^(1/8), about 9.05 %,
//! above its lower one, and `histogram_quantile` over the summed buckets of
//! any number of shards lands in the same bucket as the HDR quantile of the
//! merged run, so the two differ by at most [`QUANTILE_ERROR`] (8.3 %) of
//! the larger.
//!
//! # Layout
//!
//! - [`openmetrics`]: the `--metrics-out` file.
//! - [`remote_write`]: `--remote-write`, every interval pushed during the run.
//! - [`live`]: the running totals a run pushes as each interval closes.

pub mod live;
pub mod openmetrics;
pub mod remote_write;

use std::path::Path;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::report::LoadReport;
use super::stats::Set;

/// Buckets per doubling of the latency.
pub const PER_OCTAVE: u32 = 8;
/// Doublings above 1 µs that the finite buckets cover.
pub const OCTAVES: u32 = 26;

/// How far `histogram_quantile` over the buckets may be from HDR's quantile
/// of the same values, as a fraction of the larger of the two: 1 − 2^(−1/8),
/// about 8.30 % (the larger is at most 2^(1/8) times the smaller), rounded up.
///
/// Both land in one bucket: Prometheus takes the first bucket whose
/// cumulative count reaches q·N, which, counts being whole, is the bucket
/// of the ⌈q·N⌉-th value, the value HDR answers with; [`cumulative`] files
/// each value under HDR's highest equivalent of it, as HDR's answer is.
/// Between 1 µs and 2^26 µs only: below, Prometheus interpolates from 0;
/// above, it answers the last finite bound.
pub const QUANTILE_ERROR: f64 = 0.0830;

/// The finite upper bounds (`le`), in seconds, ascending.
pub fn bounds() -> Vec<f64> {
    (0..=PER_OCTAVE * OCTAVES)
        .map(|k| 2f64.powf(f64::from(k) / f64::from(PER_OCTAVE)) * 1e-6)
        .collect()
}

/// Cumulative counts of a histogram of microseconds at each of [`bounds`],
/// then the total (`+Inf`). A recorded value counts at its highest
/// equivalent value, as HDR's own quantiles do.
pub fn cumulative(histogram: &Histogram<u64>) -> Vec<u64> {
    let bounds = bounds();
    let mut counts = vec![0u64; bounds.len() + 1];
    for value in histogram.iter_recorded() {
        let seconds = histogram.highest_equivalent(value.value_iterated_to()) as f64 * 1e-6;
        let bucket = bounds.partition_point(|&le| le < seconds);
        counts[bucket] += value.count_at_value();
    }
    let mut running = 0;
    for count in &mut counts {
        running += *count;
        *count = running;
    }
    counts
}

/// What every series of a run carries, besides its own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// The run id the workers share (`--run-id`), or this worker's own.
    pub run: String,
    /// `i/N`.
    pub shard: String,
    pub api: String,
    pub target: String,
}

/// Writes the OpenMetrics text of a finished run (or merge) to `path`.
pub fn write_file(
    path: &Path,
    report: &LoadReport,
    totals: &Set,
    labels: &Labels,
) -> Result<(), String> {
    let text = openmetrics::render(report, totals, labels, SystemTime::now());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Says on stderr when some pushes to the receiver did not arrive: the run
/// goes on regardless, and `load.json`'s `remote_write` keeps the counts.
pub fn warn_unsent(summary: &remote_write::PushSummary) {
    if summary.failed + summary.dropped > 0 {
        eprintln!(
            "harness load: warning: remote write to {}: {} of {} pushes failed and {} were dropped{}",
            summary.url,
            summary.failed,
            summary.sent + summary.failed + summary.dropped,
            summary.dropped,
            summary
                .last_error
                .as_deref()
                .map(|e| format!(" (last: {e})"))
                .unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_every_eight_and_counts_are_cumulative() {
        let bounds = bounds();
        assert_eq!(bounds.len(), 209);
        assert!((bounds[0] - 1e-6).abs() < 1e-15);
        assert!((bounds[8] - 2e-6).abs() < 1e-15);
        let ratio = 2f64.powf(1.0 / 8.0);
        assert!(
            bounds
                .windows(2)
                .all(|w| (w[1] / w[0] - ratio).abs() < 1e-9)
        );
        let width = 1.0 - 1.0 / ratio;
        assert!(width <= QUANTILE_ERROR && QUANTILE_ERROR < width + 1e-4);
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        h.record_n(1, 3).unwrap();
        h.record_n(1_000, 5).unwrap();
        h.record(3_000_000_000).unwrap();
        let counts = cumulative(&h);
        assert_eq!(counts.len(), bounds.len() + 1);
        assert_eq!(counts[0], 3, "1 µs is in the first bucket");
        let ms = bounds.partition_point(|&le| le < 1e-3);
        assert_eq!(
            (counts[ms - 1], counts[ms]),
            (3, 8),
            "1 ms is in the bucket ending at or above it"
        );
        assert_eq!(
            (counts[bounds.len() - 1], counts[bounds.len()]),
            (8, 9),
            "50 minutes is beyond the last bound"
        );
    }
}
