//! `harness report merge`: several workers' load reports added into one, exactly.
//!
//! Each input is a report folder (or its `load.json`): the `load.json` must
//! validate against the load report schema, and the HDR interval logs beside
//! it are read back and put onto one time line. The histograms are sums of
//! intervals and the counters sums of counters, so the merge is exact.
//!
//! The reports must be shards of one run, each once ([`super::shards`]). A
//! file that is not a load report, a report of another run or a shard given
//! twice is refused with exit 2, before anything is written. A folder with no
//! `load.json` at all, or none there, is a worker that never finished: it is
//! skipped with a warning. Shards with no report make the merge **incomplete**: the figures
//! of the others are written, the missing shards named, no threshold holds,
//! and the exit code is 1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::shards::{self, Accounting};
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::load::intervals::Intervals;
use crate::load::metrics::{self, Labels};
use crate::load::output::{Files, Finished, LoadReporter, Terminal};
use crate::load::report::{LoadReport, MergedRequests, Requests};
use crate::load::threshold::Threshold;
use crate::load::{hlog, summary};

/// `harness report merge`.
pub fn merge(args: &MergeArgs) -> Exit {
    let (reports, logs) = match read_all(&args.files) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("harness report merge: {error}");
            return Exit::Usage;
        }
    };
    let accounting = match shards::account(&reports) {
        Ok(accounting) => accounting,
        Err(error) => {
            eprintln!("harness report merge: {error}");
            return Exit::Usage;
        }
    };
    if !accounting.missing.is_empty() {
        eprintln!(
            "harness report merge: incomplete: no report of shard {} of {}; the figures are those of the {} that reported, and no threshold holds",
            accounting.missing_names().join(", "),
            accounting.count,
            reports.len()
        );
    }
    let loads: Vec<LoadReport> = reports.into_iter().map(|(_, load)| load).collect();
    let (start, intervals) = hlog::merge(&logs);
    let intervals: Intervals = intervals.into_iter().collect();
    let merged = add_up(&loads, start, &intervals, &accounting);
    if let Some(path) = &args.metrics_out {
        let about = &merged.about;
        let labels = Labels {
            run: about
                .run_id
                .clone()
                .unwrap_or_else(|| about.runs[0].clone()),
            shard: "merged".to_owned(),
            api: about.api.clone(),
            target: about.target.clone(),
        };
        if let Err(error) = metrics::write_file(path, &merged, intervals.totals(), &labels) {
            eprintln!("harness report merge: cannot write --metrics-out: {error}");
            return Exit::Broken;
        }
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports/out").join(format!(
            "merged-{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        ))
    });
    let mut reporters: Vec<Box<dyn LoadReporter>> = vec![
        Box::new(Files { dir: out.clone() }),
        Box::new(Terminal::summary_only(out)),
    ];
    let finished = Finished {
        report: &merged,
        start,
        intervals: &intervals,
    };
    crate::load::finish(&mut reporters, finished)
}

/// The reports, each with the path it was read from, and their interval logs.
type Inputs = (Vec<(PathBuf, LoadReport)>, Vec<hlog::Log>);

/// Every input's report and interval logs, with the path it was read from;
/// a folder without a `load.json` is skipped, with a warning.
fn read_all(files: &[PathBuf]) -> Result<Inputs, String> {
    let mut reports = Vec::new();
    let mut logs = Vec::new();
    for file in files {
        let dir = if file.is_dir() {
            file.clone()
        } else {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        if !file.exists() || (file.is_dir() && !dir.join("load.json").exists()) {
            eprintln!(
                "harness report merge: {} holds no load.json (a worker that did not finish?): skipped",
                file.display()
            );
            continue;
        }
        let load = LoadReport::read(&dir)?;
        logs.push(hlog::read(&dir)?);
        reports.push((dir.join("load.json"), load));
    }
    if reports.is_empty() {
        return Err("none of the folders given holds a load.json".to_owned());
    }
    Ok((reports, logs))
}

/// The workers' reports as one: counters and subscribers summed, every run
/// id kept, the thresholds checked again on the merged figures, the missing
/// shards named.
fn add_up(
    loads: &[LoadReport],
    start: std::time::SystemTime,
    intervals: &Intervals,
    accounting: &Accounting,
) -> LoadReport {
    let mut counters = std::collections::BTreeMap::new();
    let mut subscribers = 0;
    let mut thresholds: Vec<Threshold> = Vec::new();
    let mut runs = Vec::new();
    for load in loads {
        for (name, value) in &load.counters {
            *counters.entry(name.clone()).or_default() += value;
        }
        subscribers += load.about.profile.subscribers;
        runs.extend(load.about.runs.iter().cloned());
        for t in &load.thresholds {
            if let Ok(parsed) = t.threshold.parse::<Threshold>()
                && !thresholds.contains(&parsed)
            {
                thresholds.push(parsed);
            }
        }
    }
    let longest =
        |ms: fn(&LoadReport) -> u64| Duration::from_millis(loads.iter().map(ms).max().unwrap_or(0));
    let mut about = loads[0].about.clone();
    about.runs = runs;
    about.workers = Some(loads.len() as u64);
    about.start = humantime::format_rfc3339_millis(start).to_string();
    about.profile.subscribers = subscribers;
    about.incomplete = !accounting.missing.is_empty();
    about.missing_shards = accounting.missing_names();
    summary::build(summary::Inputs {
        about,
        intervals,
        counters,
        subscribers,
        elapsed: longest(|l| l.elapsed_ms),
        publishing: longest(|l| l.publishing_ms),
        thresholds: &thresholds,
        requests: merged_requests(loads),
    })
}

/// Goose's per-endpoint figures cannot be added exactly (the `request`
/// histogram, merged from the logs, can): each worker's is kept.
fn merged_requests(loads: &[LoadReport]) -> Option<Requests> {
    let workers: Vec<_> = loads
        .iter()
        .filter_map(|l| l.requests.as_ref())
        .flat_map(|r| r.workers().into_iter().cloned())
        .collect();
    let seconds = loads
        .iter()
        .filter_map(|l| l.requests.as_ref().map(Requests::seconds))
        .max()?;
    Some(Requests::Merged(MergedRequests {
        engine: crate::load::report::engine_of(&workers),
        seconds,
        workers,
    }))
}
