//! `load.html`: a self-contained page (inline SVG, no scripts, no network) with the run's plots and tables.
//!
//! Three plots: the percentile distribution of the latencies on a log scale
//! of "nines" (as HdrHistogram's plotter draws it), the delivery latency per
//! interval (p50, p99, max), and the publish and delivery rates per interval.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::intervals::{Intervals, Point};
use super::report::{LoadReport, Requests, ThresholdResult};
use super::stats::{COUNTERS, HISTOGRAMS, Set};
use super::summary::{ms, number};
use crate::report::html::escape;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 36.0;
const TOP: f64 = 28.0;
const COLORS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// One line of a plot.
struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
}

/// An SVG line plot; `x_ticks` are (value, label).
fn plot(title: &str, y_label: &str, series: &[Series<'_>], x_ticks: &[(f64, String)]) -> String {
    // A series without points (no requests in a stream run, say) gets no legend either.
    let series: Vec<&Series<'_>> = series.iter().filter(|s| !s.points.is_empty()).collect();
    let all = series.iter().flat_map(|s| s.points.iter());
    let (x_max, y_max) = all.fold((0.0f64, 0.0f64), |(x, y), (px, py)| {
        (x.max(*px), y.max(*py))
    });
    let x_max = x_max
        .max(x_ticks.iter().map(|t| t.0).fold(0.0, f64::max))
        .max(1e-9);
    let y_max = nice(y_max);
    let (w, h) = (WIDTH - LEFT - 32.0, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + x / x_max * w;
    let sy = |y: f64| TOP + h - y / y_max * h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    for i in 0..=4 {
        let y = y_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y1:.1}\" y2=\"{y1:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + w,
            LEFT - 4.0,
            sy(y) + 4.0,
            trim(y),
            y1 = sy(y)
        );
    }
    for (x, label) in x_ticks {
        let _ = write!(
            svg,
            "<line x1=\"{x1:.1}\" x2=\"{x1:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x1:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + h,
            TOP + h + 14.0,
            escape(label),
            x1 = sx(*x)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        TOP + h / 2.0,
        TOP + h / 2.0,
        escape(y_label)
    );
    for (n, s) in series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            path.join(" "),
            LEFT + 8.0 + 170.0 * n as f64,
            HEIGHT - 4.0,
            escape(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A round upper bound for an axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(max)
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The percentile distribution: x is the number of nines, −log10(1 − q), up to five.
fn distribution(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(4)
        .map(|v| {
            (
                v.quantile_iterated_to(),
                v.value_iterated_to() as f64 / 1000.0,
            )
        })
        .filter(|(q, _)| *q < 1.0)
        .map(|(q, ms)| ((-(1.0 - q).log10()).min(5.0), ms))
        .collect();
    points.push((5.0, h.max() as f64 / 1000.0));
    points
}

/// The page.
pub fn page(load: &LoadReport, intervals: &Intervals) -> String {
    let about = &load.about;
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness load: {api}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}th{{white-space:nowrap}}td:first-child,th:first-child{{text-align:left}}\
         code{{overflow-wrap:anywhere}}</style>\
         </head><body><h1>harness load: {api}</h1><p>Target {target}, start {start}.</p>{shards}{plots}\
         <h2>Summary</h2>{tables}</body></html>\n",
        api = escape(&about.api),
        target = escape(&about.target),
        start = escape(&about.start),
        shards = about.workers.map_or_else(String::new, |workers| {
            let line = escape(&super::summary::shards_line(about, workers));
            if about.incomplete {
                format!("<p><strong style=\"color:#b00\">{line}</strong></p>")
            } else {
                format!("<p>{line}</p>")
            }
        }),
        plots = plots(intervals),
        tables = tables(load),
    )
}

/// The three plots.
fn plots(intervals: &Intervals) -> String {
    let (total, points) = (intervals.totals(), intervals.points());
    distribution_plot(total) + &over_time_plot(points) + &throughput_plot(points, total)
}

/// The latencies by percentile, on a scale of nines.
fn distribution_plot(total: &Set) -> String {
    let nines: Vec<(f64, String)> = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
        .map(|(i, label)| (i as f64, (*label).to_owned()))
        .collect();
    let series = |name, histogram| Series {
        name,
        points: distribution(&total.0[histogram]),
    };
    plot(
        "Latency by percentile",
        "ms",
        &[
            series("deliver (corrected)", "deliver"),
            series("deliver (uncorrected)", "deliver_uncorrected"),
            series("publish ack", "publish_ack"),
            series("request", "request"),
        ],
        &nines,
    )
}

/// The end of an interval, in seconds from the start.
fn end(i: &Point) -> f64 {
    i.end().as_secs_f64()
}

/// One point per interval that `f` has a value for, at the interval's end.
fn per_interval(intervals: &[Point], f: impl Fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    intervals
        .iter()
        .filter_map(|i| f(i).map(|v| (end(i), v)))
        .collect()
}

/// About ten ticks of whole seconds over the run.
fn time_ticks(intervals: &[Point]) -> Vec<(f64, String)> {
    let seconds = intervals.last().map_or(1.0, end).ceil().max(1.0);
    let step = (seconds / 10.0).ceil().max(1.0);
    (0..=((seconds / step) as u32))
        .map(|n| (f64::from(n) * step, format!("{}s", f64::from(n) * step)))
        .collect()
}

/// The corrected delivery latency per interval: p50, p99, max.
fn over_time_plot(intervals: &[Point]) -> String {
    let quantile = |name, which: usize| Series {
        name,
        points: per_interval(intervals, |i| i.deliver.map(|d| d[which])),
    };
    plot(
        "Delivery latency over time (corrected)",
        "ms",
        &[quantile("p50", 0), quantile("p99", 1), quantile("max", 2)],
        &time_ticks(intervals),
    )
}

/// Deliveries, acknowledged publishes and requests per second, per interval.
fn throughput_plot(intervals: &[Point], total: &Set) -> String {
    // None for a histogram the run never recorded into.
    let rate = |name, histogram: &'static str, count: fn(&Point) -> u64| {
        let ran = !total.0[histogram].is_empty();
        Series {
            name,
            points: per_interval(intervals, |i| {
                ran.then(|| count(i) as f64 / i.length.as_secs_f64().max(1e-3))
            }),
        }
    };
    plot(
        "Throughput over time",
        "per second",
        &[
            rate("deliveries/s", "deliver", |i| i.deliveries),
            rate("publishes acknowledged/s", "publish_ack", |i| i.acks),
            rate("requests/s", "request", |i| i.requests),
        ],
        &time_ticks(intervals),
    )
}

/// An HTML table: a header row, then rows of cells already escaped.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// The summary's tables: what `load.md` holds, as HTML.
fn tables(load: &LoadReport) -> String {
    let profile = serde_json::to_string(&load.about.profile).unwrap_or_default();
    let mut out = format!(
        "<p>Profile {}. Elapsed {} ms.</p>",
        code(&profile),
        load.elapsed_ms
    );
    let histograms: Vec<Vec<String>> = HISTOGRAMS
        .iter()
        .map(|(name, what)| {
            let h = load.histograms.get(*name).cloned().unwrap_or_default();
            let mut row = vec![
                format!("{} ({})", code(name), escape(what)),
                h.count.to_string(),
            ];
            row.extend([h.p50, h.p90, h.p99, h.p999, h.max].map(ms));
            row
        })
        .collect();
    out += &table(
        &[
            "histogram",
            "count",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
        ],
        &histograms,
    );
    let counters: Vec<Vec<String>> = COUNTERS
        .iter()
        .map(|(name, what)| {
            vec![
                format!("{} ({})", code(name), escape(what)),
                load.counter(name).to_string(),
            ]
        })
        .collect();
    out += &table(&["counter", "value"], &counters);
    let rates = &load.rates;
    let _ = write!(
        out,
        "<p>Rates: {} published/s, {} delivered/s, {} requests/s, error rate {:.3} %.</p>",
        number(rates.publish_rate),
        number(rates.deliver_rate),
        number(rates.request_rate),
        rates.error_rate * 100.0
    );
    if let Some(requests) = &load.requests {
        out += &request_table(requests);
    }
    if !load.thresholds.is_empty() {
        out += &threshold_table(&load.thresholds);
    }
    out
}

/// `<code>` around escaped text.
fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// The request load's endpoints, each worker's.
fn request_table(requests: &Requests) -> String {
    let rows: Vec<Vec<String>> = requests
        .workers()
        .into_iter()
        .flat_map(|w| w.endpoints.iter())
        .map(|(name, e)| {
            let mut row = vec![
                code(&format!("{} {name}", e.method)),
                e.successes.to_string(),
                e.failures.to_string(),
                number(e.rate),
            ];
            row.extend([e.latency.p50, e.latency.p99, e.latency.max].map(ms));
            row
        })
        .collect();
    let header = [
        "endpoint", "requests", "failures", "per s", "p50 ms", "p99 ms", "max ms",
    ];
    format!(
        "<h3>Requests (closed loop, {}; the request histogram holds them all)</h3>",
        escape(&requests.engine())
    ) + &table(&header, &rows)
}

/// The thresholds and how each came out.
fn threshold_table(thresholds: &[ThresholdResult]) -> String {
    let rows: Vec<Vec<String>> = thresholds
        .iter()
        .map(|t| {
            let verdict = if t.held {
                "held"
            } else {
                "<strong>broken</strong>"
            };
            vec![code(&t.threshold), escape(&t.measured), verdict.to_owned()]
        })
        .collect();
    table(&["threshold", "measured", ""], &rows)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::load::stats::Interval;

    #[test]
    fn the_page_is_self_contained_and_plots_what_was_recorded() {
        let mut set = Set::default();
        for v in 1..=1000u64 {
            set.0.get_mut("deliver").unwrap().record(v * 10).unwrap();
        }
        let intervals: Intervals = [Interval {
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            set,
        }]
        .into_iter()
        .collect();
        let load = crate::load::summary::build(crate::load::summary::Inputs {
            about: serde_json::from_value(json!({"api": "fibric", "target": "http://x", "runs": ["r"],
                "start": "now", "profile": {"rate": 1.0, "batch": 1, "duration_ms": 1000, "ramp_ms": 0,
                "subscribers": 1, "publishers": 1, "shard": "0/1", "events": 1, "users": 0}}))
            .unwrap(),
            intervals: &intervals,
            counters: [("lost".to_owned(), 3)].into(),
            subscribers: 1,
            elapsed: Duration::from_secs(1),
            publishing: Duration::from_secs(1),
            thresholds: &["lost==0".parse().unwrap()],
            requests: None,
        });
        let html = page(&load, &intervals);
        assert!(html.contains("<svg") && html.contains("polyline"));
        assert!(!html.contains("<script") && !html.contains("http://x/") && !html.contains("src="));
        // The summary is tables, not Markdown source.
        assert!(
            html.contains("<th>p99 ms</th>") && !html.contains("|---"),
            "{html}"
        );
        assert!(
            html.contains(
                "<td><code>lost==0</code></td><td>3</td><td><strong>broken</strong></td>"
            )
        );
        let points = distribution(&intervals.totals().0["deliver"]);
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
            "{points:?}"
        );
        assert!((points.last().unwrap().1 - 10.0).abs() < 0.01);
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(0.0), 1.0);
    }
}
