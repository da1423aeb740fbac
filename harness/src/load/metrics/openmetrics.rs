//! The `--metrics-out` file: OpenMetrics text of a run's counters and histograms.
