//! The load reporters: a run's intervals as they close, then its summary, for people and for files.
//!
//! Like `check`'s reporters, each one only consumes what the run hands it:
//! [`Terminal`] draws the progress bar from the intervals and prints the
//! summary; [`Files`] writes `load.json`, `load.md`, `junit.xml`,
//! `load.html` and the HDR interval logs. `report merge` hands a merged run
//! to the same reporters.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::intervals::Intervals;
use super::report::LoadReport;
use super::stats::{HISTOGRAMS, Interval, Stats};
use super::{hlog, html, summary};

/// A finished run, as the reporters get it.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub report: &'a LoadReport,
    /// The wall-clock start of the schedule.
    pub start: SystemTime,
    pub intervals: &'a Intervals,
}

/// Something that shows or keeps a load run.
pub trait LoadReporter: Send {
    /// An interval just closed; `stats` holds the counters so far.
    fn interval(&mut self, _interval: &Interval, _stats: &Stats) {}
    /// The run is over.
    fn finish(&mut self, run: Finished<'_>) -> Result<(), String>;
}

/// The terminal: a progress bar while the run lasts, the summary at the end.
#[derive(Debug)]
pub struct Terminal {
    bar: Option<indicatif::ProgressBar>,
    /// Where the files went, said last.
    report: PathBuf,
}

impl Terminal {
    /// For a live run of `duration`.
    pub fn live(duration: Duration, report: PathBuf) -> Terminal {
        let bar = indicatif::ProgressBar::new(duration.as_millis() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Terminal {
            bar: Some(bar),
            report,
        }
    }

    /// For a finished run (a merge): the summary only.
    pub fn summary_only(report: PathBuf) -> Terminal {
        Terminal { bar: None, report }
    }
}

impl LoadReporter for Terminal {
    fn interval(&mut self, interval: &Interval, stats: &Stats) {
        let Some(bar) = &self.bar else { return };
        let per_second = |n: u64| n as f64 / interval.length.as_secs_f64().max(1e-3);
        let deliver = &interval.set.0["deliver"];
        bar.set_position((interval.start + interval.length).as_millis() as u64);
        let requests = &interval.set.0["request"];
        let mut message = format!(
            "{:.0} deliveries/s, deliver p99 {:.1} ms, published {}, errors {}",
            per_second(deliver.len()),
            deliver.value_at_quantile(0.99) as f64 / 1000.0,
            stats.counter("published"),
            stats.counter("publish_errors")
                + stats.counter("subscriber_errors")
                + stats.counter("request_errors"),
        );
        if !requests.is_empty() {
            message += &format!(
                "; {:.0} requests/s, p99 {:.1} ms",
                per_second(requests.len()),
                requests.value_at_quantile(0.99) as f64 / 1000.0
            );
        }
        bar.set_message(message);
    }

    fn finish(&mut self, run: Finished<'_>) -> Result<(), String> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        print_summary(run.report);
        println!("report: {}", self.report.join("load.json").display());
        Ok(())
    }
}

fn print_summary(load: &LoadReport) {
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "histogram (ms)", "count", "p50", "p99", "p99.9", "max"
    );
    let ms = |v: Option<u64>| {
        v.map_or_else(|| "-".to_owned(), |us| format!("{:.3}", us as f64 / 1000.0))
    };
    for (name, _) in HISTOGRAMS {
        let h = load.histograms.get(*name).cloned().unwrap_or_default();
        println!(
            "{name:<20} {:>8} {:>9} {:>9} {:>9} {:>9}",
            h.count,
            ms(h.p50),
            ms(h.p99),
            ms(h.p999),
            ms(h.max)
        );
    }
    let counters: Vec<String> = load
        .counters
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("{}", counters.join(", "));
    if let Some(workers) = load.about.workers {
        println!("{}", super::summary::shards_line(&load.about, workers));
    }
    for t in &load.thresholds {
        let verdict = if t.held { "held  " } else { "BROKEN" };
        println!("{verdict} {} (measured {})", t.threshold, t.measured);
    }
}

/// The report folder: `load.json`, `load.md`, `junit.xml`, `load.html` and the `.hlog` files.
#[derive(Debug)]
pub struct Files {
    pub dir: PathBuf,
}

impl LoadReporter for Files {
    fn finish(&mut self, run: Finished<'_>) -> Result<(), String> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        hlog::write(dir, run.start, run.intervals)?;
        let load = run.report;
        let files = [
            ("load.md", summary::markdown(load)),
            ("junit.xml", summary::junit(load)),
            ("load.html", html::page(load, run.intervals)),
        ];
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text)
                .map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        files
            .iter()
            .try_for_each(|(name, text)| write(name, text))?;
        // Last, and whole or not at all: a folder with a load.json is a
        // finished report, which is what `report merge` goes by.
        write(".load.json.partial", &load.to_json())?;
        std::fs::rename(dir.join(".load.json.partial"), dir.join("load.json"))
            .map_err(|e| format!("{}: {e}", dir.join("load.json").display()))
    }
}
