//! `harness load` and `harness report merge`: open-loop stream load with exact latency histograms.
//!
//! # Layout
//!
//! - [`profile`]: `--profile` files under the flags.
//! - [`schedule`]: intended send times (rate, ramp) and `--shard i/N`.
//! - [`adapter`]: publishing and subscribing per API, with a marker in every payload.
//! - [`engine`]: subscribers, publisher workers, timing, delivery anomalies.
//! - [`requests`]: request/response load through goose (`--users`).
//! - [`stats`]: the histograms (microseconds) and counters, cut into intervals.
//! - [`hlog`]: HDR interval logs, written, read back and merged.
//! - [`threshold`]: `--threshold` expressions.
//! - [`summary`]: `load.json`, `load.md`, `junit.xml`.
//! - [`html`]: `load.html`, with the plots.

pub mod adapter;
pub mod engine;
pub mod hlog;
pub mod html;
pub mod profile;
pub mod requests;
pub mod schedule;
pub mod stats;
pub mod summary;
pub mod threshold;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::cli::{LoadArgs, MergeArgs};
use crate::exit::Exit;
use adapter::{Access, Adapter};
use engine::Plan;
use schedule::Schedule;
use stats::Stats;
use threshold::Threshold;

/// `harness load`.
pub async fn command(args: &LoadArgs) -> Exit {
    let usage = |message: String| {
        eprintln!("harness load: {message}");
        Exit::Usage
    };
    let profile = match profile::Profile::resolve(args) {
        Ok(profile) => profile,
        Err(message) => return usage(message),
    };
    let schedule = match Schedule::new(profile.rate, profile.duration, profile.ramp) {
        Ok(schedule) => schedule,
        Err(message) => return usage(message),
    };
    let thresholds: Vec<Threshold> = match profile.thresholds.iter().map(|t| t.parse()).collect() {
        Ok(thresholds) => thresholds,
        Err(message) => return usage(format!("--threshold {message}")),
    };
    if profile.rate == 0.0 && profile.subscribers == 0 && profile.users == 0 {
        return usage(
            "nothing to run: give a --rate, --subscribers or request --users above zero".to_owned(),
        );
    }
    // Subscribers of a run that publishes nothing watch what the target has.
    let passive = profile.rate == 0.0 && profile.subscribers > 0;
    if passive && profile.users > 0 {
        return usage(
            "request --users beside passive subscribers (--rate 0) are not supported; run them apart"
                .to_owned(),
        );
    }
    if let Some(needed) = adapter::passive_needs_stream(args.api).filter(|_| passive)
        && args.stream.is_none()
    {
        return usage(needed.to_owned());
    }
    if args.stream.is_some() && !passive {
        return usage("--stream is for passive subscribers: a run with --rate 0".to_owned());
    }
    if profile.publishers == 0 {
        return usage("--publishers must be at least 1".to_owned());
    }
    if profile.batch == 0 {
        return usage("--batch must be at least 1".to_owned());
    }
    if profile.batch > 1 && !adapter::takes_batches(args.api) {
        return usage(format!(
            "--batch {}: a {} publish carries one event; batches are for actyx and fibric",
            profile.batch,
            args.api.name()
        ));
    }
    if profile.interval < Duration::from_millis(100) {
        return usage("--interval must be at least 100ms".to_owned());
    }
    let Some((fibric_key, fibric_tenant)) = args.fibric_key.split_once('=') else {
        return usage(format!(
            "--fibric-key {:?} is not KEY=TENANT",
            args.fibric_key
        ));
    };
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports/out").join(format!("load-{run}")));
    // The embedded server lives as long as this function.
    let (base, _embedded) = match &args.target {
        Some(url) => match crate::target::parse_url(url) {
            Ok(base) => (base, None),
            Err(error) => return usage(error.to_string()),
        },
        None => match crate::embedded::start_for_load(&args.control_token).await {
            Ok(running) => (running.base_url(), Some(running)),
            Err(error) => {
                eprintln!("harness load: the embedded reference server did not start: {error:#}");
                return Exit::Broken;
            }
        },
    };
    let subscribe_base = match args.subscribe_url.as_deref().map(crate::target::parse_url) {
        None => base.clone(),
        Some(Ok(url)) => url,
        Some(Err(error)) => return usage(format!("--subscribe-url: {error}")),
    };
    let access = Access {
        base: base.clone(),
        subscribe_base,
        control_token: args.control_token.clone(),
        fibric_key: fibric_key.to_owned(),
        fibric_tenant: fibric_tenant.to_owned(),
        pulse_key: args.pulse_key.clone(),
        fauna_secret: args.fauna_secret.clone(),
        actyx_app_id: args.actyx_app_id.clone(),
        passive: passive.then(|| args.stream.clone()),
    };
    let stats = Arc::new(Stats::default());
    let adapter = match Adapter::prepare(args.api, access, run.clone()).await {
        Ok(adapter) => Arc::new(adapter),
        Err(error) => {
            eprintln!("harness load: cannot drive {} at {base}: {error}", args.api);
            return Exit::Broken;
        }
    };
    let endpoints = match requests::select(adapter.endpoints(), &profile.endpoints) {
        Ok(endpoints) => endpoints,
        Err(message) => return usage(message),
    };
    let request_result = Arc::new(std::sync::Mutex::new(None));
    let alongside = (profile.users > 0).then(|| {
        let plan = requests::Plan {
            base: base.clone(),
            users: profile.users,
            duration: profile.duration,
            endpoints,
        };
        let (stats, dir, slot) = (
            Arc::clone(&stats),
            report_dir.clone(),
            Arc::clone(&request_result),
        );
        Box::pin(async move {
            let result = requests::run(plan, stats, &dir).await;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        }) as futures_util::future::BoxFuture<'static, ()>
    });
    let plan = Plan {
        schedule,
        shard: args.shard,
        subscribers: profile.subscribers,
        publishers: profile.publishers,
        batch: profile.batch,
        start_at: args.start_at,
        grace: profile.grace,
        interval: profile.interval,
    };
    let bar = progress_bar(profile.duration);
    let progress = {
        let bar = bar.clone();
        Box::new(move |interval: &stats::Interval, stats: &Stats| {
            let deliver = &interval.set.0["deliver"];
            let rate = deliver.len() as f64 / interval.length.as_secs_f64().max(1e-3);
            bar.set_position((interval.start + interval.length).as_millis() as u64);
            let requests = &interval.set.0["request"];
            let mut message = format!(
                "{rate:.0} deliveries/s, deliver p99 {:.1} ms, published {}, errors {}",
                deliver.value_at_quantile(0.99) as f64 / 1000.0,
                stats.counter("published"),
                stats.counter("publish_errors")
                    + stats.counter("subscriber_errors")
                    + stats.counter("request_errors"),
            );
            if !requests.is_empty() {
                let rate = requests.len() as f64 / interval.length.as_secs_f64().max(1e-3);
                message += &format!(
                    "; {rate:.0} requests/s, p99 {:.1} ms",
                    requests.value_at_quantile(0.99) as f64 / 1000.0
                );
            }
            bar.set_message(message);
        }) as engine::Progress
    };
    let outcome = match engine::run(
        Arc::clone(&adapter),
        plan.clone(),
        Arc::clone(&stats),
        progress,
        alongside,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            bar.abandon();
            eprintln!("harness load: {error}");
            return Exit::Broken;
        }
    };
    bar.finish_and_clear();
    let requests = match request_result
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        None => None,
        Some(Ok(summary)) => Some(summary),
        Some(Err(error)) => {
            eprintln!("harness load: the request load failed: {error}");
            return Exit::Broken;
        }
    };
    let about = json!({
        "api": args.api.name(),
        "target": if args.target.is_some() { base.clone() } else { format!("{base} (embedded reference server)") },
        "runs": [run],
        "start": humantime::format_rfc3339_millis(outcome.start).to_string(),
        "profile": {
            "rate": if schedule.is_closed() { json!("max") } else { json!(profile.rate) },
            "batch": profile.batch,
            "duration_ms": profile.duration.as_millis() as u64,
            "ramp_ms": profile.ramp.as_millis() as u64,
            "subscribers": profile.subscribers,
            "publishers": profile.publishers,
            "shard": args.shard.to_string(),
            "events": if schedule.is_closed() { stats.counter("published") + stats.counter("publish_errors") } else { schedule.total() },
            "users": profile.users,
        },
    });
    let counters = stats
        .counters()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let load = summary::build(&summary::Inputs {
        about,
        intervals: &outcome.intervals,
        counters,
        subscribers: u64::from(profile.subscribers),
        elapsed: outcome.elapsed,
        publishing: schedule.duration,
        thresholds: &thresholds,
        requests,
    });
    finish(&report_dir, &load, outcome.start, &outcome.intervals)
}

/// Writes the outputs, prints the summary, and says how the run ended.
fn finish(dir: &Path, load: &Value, start: SystemTime, intervals: &[stats::Interval]) -> Exit {
    let written = std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
        .and_then(|()| hlog::write(dir, start, intervals))
        .and_then(|()| {
            let files = [
                (
                    "load.json",
                    serde_json::to_string_pretty(load).unwrap_or_default() + "\n",
                ),
                ("load.md", summary::markdown(load)),
                ("junit.xml", summary::junit(load)),
                (
                    "load.html",
                    html::page(load, &summary::markdown(load), intervals),
                ),
            ];
            files.iter().try_for_each(|(name, text)| {
                std::fs::write(dir.join(name), text)
                    .map_err(|e| format!("{}: {e}", dir.join(name).display()))
            })
        });
    if let Err(error) = written {
        eprintln!("harness load: cannot write the report: {error}");
        return Exit::Broken;
    }
    print_summary(load);
    println!("report: {}", dir.join("load.json").display());
    if summary::held(load) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

fn print_summary(load: &Value) {
    println!(
        "{:<20} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "histogram (ms)", "count", "p50", "p99", "p99.9", "max"
    );
    for (name, _) in stats::HISTOGRAMS {
        let h = &load["histograms"][name];
        let ms = |v: &Value| {
            v.as_f64()
                .map_or_else(|| "-".to_owned(), |us| format!("{:.3}", us / 1000.0))
        };
        println!(
            "{name:<20} {:>8} {:>9} {:>9} {:>9} {:>9}",
            h["count"],
            ms(&h["p50"]),
            ms(&h["p99"]),
            ms(&h["p999"]),
            ms(&h["max"])
        );
    }
    let counters: Vec<String> = load["counters"]
        .as_object()
        .map(|c| c.iter().map(|(k, v)| format!("{k} {v}")).collect())
        .unwrap_or_default();
    println!("{}", counters.join(", "));
    for t in load["thresholds"].as_array().into_iter().flatten() {
        let verdict = if t["held"] == true {
            "held  "
        } else {
            "BROKEN"
        };
        println!(
            "{verdict} {} (measured {})",
            t["threshold"].as_str().unwrap_or(""),
            t["measured"].as_str().unwrap_or("")
        );
    }
}

fn progress_bar(duration: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(duration.as_millis() as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `harness report merge`: several workers' load reports added into one, exactly.
pub fn merge(args: &MergeArgs) -> Exit {
    let mut logs = Vec::new();
    let mut loads = Vec::new();
    for file in &args.files {
        let dir = if file.is_dir() {
            file.clone()
        } else {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let load = std::fs::read_to_string(dir.join("load.json"))
            .map_err(|e| format!("{}: {e}", dir.join("load.json").display()))
            .and_then(|text| {
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: {e}", dir.join("load.json").display()))
            })
            .and_then(|load| hlog::read(&dir).map(|log| (load, log)));
        match load {
            Ok((load, log)) => {
                loads.push(load);
                logs.push(log);
            }
            Err(error) => {
                eprintln!("harness report merge: {error}");
                return Exit::Usage;
            }
        }
    }
    let (start, intervals) = hlog::merge(&logs);
    let mut counters: BTreeMap<String, u64> = BTreeMap::new();
    let mut subscribers = 0;
    let mut thresholds = Vec::new();
    let mut runs = Vec::new();
    for load in &loads {
        for (name, value) in load["counters"].as_object().into_iter().flatten() {
            *counters.entry(name.clone()).or_default() += value.as_u64().unwrap_or(0);
        }
        subscribers += load["about"]["profile"]["subscribers"]
            .as_u64()
            .unwrap_or(0);
        runs.extend(
            load["about"]["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        for t in load["thresholds"].as_array().into_iter().flatten() {
            if let Some(parsed) = t["threshold"]
                .as_str()
                .and_then(|t| t.parse::<Threshold>().ok())
                && !thresholds.contains(&parsed)
            {
                thresholds.push(parsed);
            }
        }
    }
    let longest = |key: &str| {
        Duration::from_millis(
            loads
                .iter()
                .filter_map(|l| l[key].as_u64())
                .max()
                .unwrap_or(0),
        )
    };
    let mut about = loads
        .first()
        .map(|l| l["about"].clone())
        .unwrap_or_default();
    about["runs"] = json!(runs);
    about["workers"] = json!(loads.len());
    about["start"] = json!(humantime::format_rfc3339_millis(start).to_string());
    about["profile"]["subscribers"] = json!(subscribers);
    // Goose's per-endpoint figures cannot be added exactly (the `request`
    // histogram, merged from the logs, can): each worker's is kept.
    let workers: Vec<Value> = loads
        .iter()
        .filter(|l| l["requests"].is_object())
        .map(|l| l["requests"].clone())
        .collect();
    let requests = (!workers.is_empty()).then(|| {
        let seconds = workers
            .iter()
            .filter_map(|w| w["seconds"].as_u64())
            .max()
            .unwrap_or(0);
        json!({"engine": "goose", "seconds": seconds, "workers": workers})
    });
    let load = summary::build(&summary::Inputs {
        about,
        intervals: &intervals,
        counters,
        subscribers,
        elapsed: longest("elapsed_ms"),
        publishing: longest("publishing_ms"),
        thresholds: &thresholds,
        requests,
    });
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports/out").join(format!(
            "merged-{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        ))
    });
    finish(&out, &load, start, &intervals)
}
