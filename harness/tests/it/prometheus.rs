//! Load metrics in a real Prometheus: two shards' remote writes add up to the merged report, and `histogram_quantile` over summed buckets stays within `metrics::QUANTILE_ERROR` of HDR's quantile.
