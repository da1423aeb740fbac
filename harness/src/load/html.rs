//! `load.html`: a self-contained page (inline SVG, no scripts, no network) with the run's plots and tables.
//!
//! Three plots: the percentile distribution of the latencies on a log scale
//! of "nines" (as HdrHistogram's plotter draws it), the delivery latency per
//! interval (p50, p99, max), and the publish and delivery rates per interval.

use std::fmt::Write;

use hdrhistogram::Histogram;
use serde_json::Value;

use super::stats::{Interval, Set};
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
pub fn page(load: &Value, markdown_tables: &str, intervals: &[Interval]) -> String {
    let mut total = Set::default();
    for interval in intervals {
        total.add(&interval.set);
    }
    let nines: Vec<(f64, String)> = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
        .map(|(i, label)| (i as f64, (*label).to_owned()))
        .collect();
    let distribution_plot = plot(
        "Latency by percentile",
        "ms",
        &[
            Series {
                name: "deliver (corrected)",
                points: distribution(&total.0["deliver"]),
            },
            Series {
                name: "deliver (uncorrected)",
                points: distribution(&total.0["deliver_uncorrected"]),
            },
            Series {
                name: "publish ack",
                points: distribution(&total.0["publish_ack"]),
            },
            Series {
                name: "request",
                points: distribution(&total.0["request"]),
            },
        ],
        &nines,
    );
    let end = |i: &Interval| (i.start + i.length).as_secs_f64();
    let per_interval = |f: &dyn Fn(&Interval) -> Option<f64>| -> Vec<(f64, f64)> {
        intervals
            .iter()
            .filter_map(|i| f(i).map(|v| (end(i), v)))
            .collect()
    };
    let quantile = |q: f64| {
        move |i: &Interval| {
            let h = &i.set.0["deliver"];
            (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
        }
    };
    let seconds = intervals.last().map_or(1.0, end).ceil().max(1.0);
    let step = (seconds / 10.0).ceil().max(1.0);
    let time_ticks: Vec<(f64, String)> = (0..=((seconds / step) as u32))
        .map(|n| (f64::from(n) * step, format!("{}s", f64::from(n) * step)))
        .collect();
    let over_time = plot(
        "Delivery latency over time (corrected)",
        "ms",
        &[
            Series {
                name: "p50",
                points: per_interval(&quantile(0.5)),
            },
            Series {
                name: "p99",
                points: per_interval(&quantile(0.99)),
            },
            Series {
                name: "max",
                points: per_interval(&quantile(1.0)),
            },
        ],
        &time_ticks,
    );
    // Per-second counts per interval; none for a histogram the run never recorded into.
    let rate = |name: &'static str| {
        let ran = !total.0[name].is_empty();
        move |i: &Interval| {
            ran.then(|| i.set.0[name].len() as f64 / i.length.as_secs_f64().max(1e-3))
        }
    };
    let throughput = plot(
        "Throughput over time",
        "per second",
        &[
            Series {
                name: "deliveries/s",
                points: per_interval(&rate("deliver")),
            },
            Series {
                name: "publishes acknowledged/s",
                points: per_interval(&rate("publish_ack")),
            },
            Series {
                name: "requests/s",
                points: per_interval(&rate("request")),
            },
        ],
        &time_ticks,
    );
    let about = &load["about"];
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness load: {api}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}pre{{white-space:pre-wrap}}</style>\
         </head><body><h1>harness load: {api}</h1><p>Target {target}, start {start}.</p>{distribution_plot}{over_time}{throughput}\
         <h2>Summary</h2><pre>{tables}</pre></body></html>\n",
        api = escape(about["api"].as_str().unwrap_or("?")),
        target = escape(about["target"].as_str().unwrap_or("?")),
        start = escape(about["start"].as_str().unwrap_or("?")),
        tables = escape(markdown_tables),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_page_is_self_contained_and_plots_what_was_recorded() {
        let mut set = Set::default();
        for v in 1..=1000u64 {
            set.0.get_mut("deliver").unwrap().record(v * 10).unwrap();
        }
        let intervals = [Interval {
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            set,
        }];
        let load = json!({"about": {"api": "fibric", "target": "http://x", "start": "now"}});
        let html = page(&load, "| a | b |", &intervals);
        assert!(html.contains("<svg") && html.contains("polyline"));
        assert!(!html.contains("<script") && !html.contains("http://x/") && !html.contains("src="));
        let points = distribution(&intervals[0].set.0["deliver"]);
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
