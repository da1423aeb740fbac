//! `harness load`: open-loop stream load with exact latency histograms.
//!
//! # Layout
//!
//! - [`profile`]: `--profile` files under the flags.
//! - [`schedule`]: intended send times (rate, ramp).
//! - [`shard`]: `--shard i/N`, or `auto` from the scheduler's environment.
//! - [`adapter`]: publishing and subscribing per API, with a marker in every payload.
//! - [`engine`]: subscribers, publisher workers, timing, delivery anomalies.
//! - [`requests`]: request/response load (`--users`), the direct engine or goose.
//! - [`stats`]: the histograms (microseconds) and counters, cut into intervals.
//! - [`hlog`]: HDR interval logs, written, read back and merged.
//! - [`threshold`]: `--threshold` expressions.
//! - [`config`]: the flags and the profile, validated in one step.
//! - [`timing`]: the coordinated-omission correction.
//! - [`report`]: `load.json` v1 as types, read back against its schema.
//! - [`summary`]: the report built from the intervals; `load.md`, `junit.xml`.
//! - [`html`]: `load.html`, with the plots.
//! - [`metrics`]: OpenMetrics (`--metrics-out`) and Prometheus remote write (`--remote-write`).
//! - [`output`]: the reporters (terminal, files).

pub mod adapter;
pub mod config;
pub mod engine;
pub mod hlog;
pub mod html;
pub mod intervals;
pub mod metrics;
pub mod output;
pub mod profile;
pub mod report;
pub mod requests;
pub mod schedule;
pub mod shard;
pub mod stats;
pub mod summary;
pub mod threshold;
pub mod timing;
pub mod window;

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::cli::LoadArgs;
use crate::exit::Exit;
use adapter::Adapter;
use config::LoadConfig;
use output::{Files, Finished, LoadReporter, Terminal};
use report::{About, LoadReport, ProfileSummary, Rate, RequestLoad, Requests};
use stats::Stats;

/// `harness load`.
pub async fn command(args: &LoadArgs) -> Exit {
    let config = match LoadConfig::from_args(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("harness load: {message}");
            return Exit::Usage;
        }
    };
    // The embedded server lives as long as this function.
    let (base, _embedded) = match &config.target {
        Some(url) => {
            if let Err((exit, message)) = control_api_reachable(&config, url).await {
                eprintln!("harness load: {message}");
                return exit;
            }
            (url.clone(), None)
        }
        None => match crate::embedded::start_for_load(&config.control_token).await {
            Ok(running) => (running.base_url(), Some(running)),
            Err(error) => {
                eprintln!("harness load: the embedded reference server did not start: {error:#}");
                return Exit::Broken;
            }
        },
    };
    let mut reporters: Vec<Box<dyn LoadReporter>> = vec![
        Box::new(Files {
            dir: config.report_dir.clone(),
        }),
        Box::new(Terminal::live(
            config.profile.duration,
            config.report_dir.clone(),
        )),
    ];
    match run(&config, &base, &mut reporters).await {
        Ok(exit) => exit,
        Err((exit, message)) => {
            eprintln!("harness load: {message}");
            exit
        }
    }
}

/// A Fibric or Pulse run that publishes without `--producer` goes through
/// the control API, which only a reference server has: anything else is told
/// to give a producer before the run, not shown a run of failed publishes.
async fn control_api_reachable(config: &LoadConfig, url: &str) -> Result<(), (Exit, String)> {
    let publishes = config.passive.is_none() && config.profile.rate > 0.0;
    let through_control = matches!(config.api, scenarios::Api::Fibric | scenarios::Api::Pulse);
    if !publishes || !through_control || config.producer.is_some() {
        return Ok(());
    }
    let client = reqwest::Client::new();
    let target = crate::target::probe(url, &config.control_token, &client)
        .await
        .map_err(|error| (Exit::Broken, error.to_string()))?;
    match target.kind() {
        crate::report::model::TargetKind::Other => Err((
            Exit::Usage,
            format!(
                "{url} is not a reference server (or --control-token is not its token): {} publishes \
                 through a reference server's control API only; give --producer CMD to publish on \
                 this server, or --rate 0 for passive subscribers",
                config.api.name()
            ),
        )),
        _ => Ok(()),
    }
}

/// Prepares the adapter and the request load, runs, and hands the outcome to the reporters.
async fn run(
    config: &LoadConfig,
    base: &str,
    reporters: &mut [Box<dyn LoadReporter>],
) -> Result<Exit, (Exit, String)> {
    let stats = Arc::new(Stats::default());
    let adapter = Adapter::prepare(config.api, config.access(base), config.run.clone())
        .await
        .map_err(|error| {
            let message = format!("cannot drive {} at {base}: {error}", config.api);
            (Exit::Broken, message)
        })?;
    let adapter = Arc::new(adapter);
    let endpoints = requests::select(adapter.endpoints(), &config.profile.endpoints)
        .map_err(|message| (Exit::Usage, message))?;
    let request_result = Arc::new(Mutex::new(None));
    let alongside = (config.profile.users > 0).then(|| {
        let plan = requests::Plan {
            base: base.to_owned(),
            users: config.profile.users,
            duration: config.profile.duration,
            endpoints,
            engine: config.request_engine,
        };
        let (stats, dir, slot) = (
            Arc::clone(&stats),
            config.report_dir.clone(),
            Arc::clone(&request_result),
        );
        Box::pin(async move {
            let result = requests::run(plan, stats, &dir).await;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        }) as BoxFuture<'static, ()>
    });
    let labels = labels(config, base);
    let mut live = (config.remote_write.clone())
        .map(|(url, token)| metrics::live::Live::start(url, token, labels.clone()));
    let progress = Box::new(|interval: &stats::Interval, stats: &Stats| {
        reporters
            .iter_mut()
            .for_each(|r| r.interval(interval, stats));
        if let Some(live) = live.as_mut() {
            live.interval(interval, stats);
        }
    });
    let outcome = engine::run(
        adapter,
        config.plan(),
        Arc::clone(&stats),
        progress,
        alongside,
    )
    .await
    .map_err(|error| (Exit::Broken, error))?;
    let taken = request_result
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let requests = taken
        .transpose()
        .map_err(|error| (Exit::Broken, format!("the request load failed: {error}")))?;
    let mut report = summarise(config, base, &stats, &outcome, requests);
    if let Some(live) = live {
        let summary = live.finish().await;
        metrics::warn_unsent(&summary);
        report.remote_write = Some(summary);
    }
    if let Some(path) = &config.metrics_out {
        metrics::write_file(path, &report, outcome.intervals.totals(), &labels)
            .map_err(|error| (Exit::Broken, format!("cannot write --metrics-out: {error}")))?;
    }
    let finished = Finished {
        report: &report,
        start: outcome.start,
        intervals: &outcome.intervals,
    };
    Ok(finish(reporters, finished))
}

/// What every exported series of the run carries.
fn labels(config: &LoadConfig, base: &str) -> metrics::Labels {
    metrics::Labels {
        run: config.run_id.clone().unwrap_or_else(|| config.run.clone()),
        shard: config.shard.to_string(),
        api: config.api.name().to_owned(),
        target: base.to_owned(),
    }
}

/// The run's `load.json`.
fn summarise(
    config: &LoadConfig,
    base: &str,
    stats: &Stats,
    outcome: &engine::Outcome,
    requests: Option<RequestLoad>,
) -> LoadReport {
    let (profile, schedule) = (&config.profile, &config.schedule);
    let closed = schedule.is_closed();
    let about = About {
        api: config.api.name().to_owned(),
        target: match config.target {
            Some(_) => base.to_owned(),
            None => format!("{base} (embedded reference server)"),
        },
        runs: vec![config.run.clone()],
        run_id: config.run_id.clone(),
        start: humantime::format_rfc3339_millis(outcome.start).to_string(),
        profile: ProfileSummary {
            rate: if closed {
                Rate::Max
            } else {
                Rate::PerSecond(profile.rate)
            },
            batch: profile.batch,
            duration_ms: profile.duration.as_millis() as u64,
            ramp_ms: profile.ramp.as_millis() as u64,
            subscribers: u64::from(profile.subscribers),
            publishers: profile.publishers,
            shard: config.shard.to_string(),
            events: if closed {
                stats.counter("published") + stats.counter("publish_errors")
            } else {
                schedule.total()
            },
            users: profile.users,
        },
        workers: None,
        incomplete: false,
        missing_shards: Vec::new(),
    };
    let counters = stats
        .counters()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    summary::build(summary::Inputs {
        about,
        intervals: &outcome.intervals,
        counters,
        subscribers: u64::from(profile.subscribers),
        elapsed: outcome.elapsed,
        publishing: schedule.duration,
        thresholds: &config.thresholds,
        requests: requests.map(Requests::Worker),
    })
}

/// Hands a finished run to every reporter, and says how it ended: 0 when
/// every threshold held, 1 when one broke, 3 when the report could not be written.
pub fn finish(reporters: &mut [Box<dyn LoadReporter>], run: Finished<'_>) -> Exit {
    for reporter in reporters {
        if let Err(error) = reporter.finish(run) {
            eprintln!("harness: cannot write the load report: {error}");
            return Exit::Broken;
        }
    }
    if run.report.held() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}
