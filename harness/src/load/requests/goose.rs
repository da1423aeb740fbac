//! The goose engine of the request load (`--request-engine goose`, and every `https://` target): goose users, each answer timed into the `request` histogram, goose's own reports kept beside ours.
//!
//! Goose is configured in code (`initialize_with_config`), never from the
//! process's arguments. Every response is timed by goose (to the first byte
//! of the answer, as goose measures) and recorded into the run's `request`
//! histogram in the interval it ended in; the body is read to the end so
//! connections are reused. Goose's own per-endpoint metrics become
//! `load.json`'s `requests` section, and its HTML and JSON reports are kept
//! beside ours (`goose.html`, `goose.json`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::prelude::*;
use indexmap::IndexMap;

use super::super::report::{Latency, RequestLoad};
use super::super::stats::Stats;
use super::{Endpoint, Plan, seconds};

fn transaction(endpoint: Endpoint, stats: Arc<Stats>) -> Transaction {
    let name = endpoint.name;
    let endpoint = Arc::new(endpoint);
    let function: TransactionFunction = Arc::new(move |user| {
        let endpoint = Arc::clone(&endpoint);
        let stats = Arc::clone(&stats);
        Box::pin(async move {
            let mut builder =
                user.get_request_builder(&method(&endpoint.method), &endpoint.path)?;
            if let Some(token) = &endpoint.bearer {
                builder = builder.bearer_auth(token);
            }
            if let Some(body) = &endpoint.body {
                builder = builder.json(body);
            }
            let request = GooseRequest::builder()
                .method(method(&endpoint.method))
                .path(endpoint.path.as_str())
                .name(endpoint.name)
                .set_request_builder(builder)
                .build();
            let answer = match user.request(request).await {
                Ok(answer) => answer,
                Err(error) => {
                    stats.count("request_errors", 1);
                    return Err(error);
                }
            };
            let micros = answer.request.response_time_micros();
            let body = match answer.response {
                Ok(response) => response.bytes().await.map(|_| ()),
                Err(error) => Err(error),
            };
            if answer.request.success && body.is_ok() {
                stats.record("request", Duration::from_micros(micros));
                stats.count("requests", 1);
            } else {
                stats.count("request_errors", 1);
            }
            Ok(())
        })
    });
    Transaction::new(function).set_name(name)
}

fn method(method: &reqwest::Method) -> GooseMethod {
    match *method {
        reqwest::Method::POST => GooseMethod::Post,
        reqwest::Method::PUT => GooseMethod::Put,
        reqwest::Method::DELETE => GooseMethod::Delete,
        _ => GooseMethod::Get,
    }
}

/// Runs the request load to its end; goose's reports go to `dir`.
pub async fn run(plan: Plan, stats: Arc<Stats>, dir: &Path) -> Result<RequestLoad, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let report = |name: &str| dir.join(name).to_string_lossy().into_owned();
    // Some fields are private: set the public ones on the default.
    let mut configuration = GooseConfiguration::default();
    configuration.host = Some(plan.base.clone());
    configuration.users = Some(plan.users as usize);
    // All users at once (goose starts them at this many a second): the load
    // is the same from its first second, and goose's duration is --duration.
    configuration.increase_rate = Some((u64::from(plan.users) * 1000).to_string());
    configuration.run_time = Some(format!("{}s", seconds(plan.duration)));
    // Goose would otherwise zero its figures once every user has started,
    // and they would no longer match the `request` histogram.
    configuration.no_reset_metrics = true;
    configuration.no_telnet = true;
    configuration.no_print_metrics = true;
    configuration.no_error_summary = true;
    configuration.quiet = 1;
    configuration.report_file = vec![report("goose.html"), report("goose.json")];
    let mut scenario = scenario!("harness load requests");
    let paths: Vec<(&'static str, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name, e.path.clone()))
        .collect();
    for endpoint in plan.endpoints {
        scenario = scenario.register_transaction(transaction(endpoint, Arc::clone(&stats)));
    }
    let client = goose::client::GooseClientBuilder::new()
        .without_cookies()
        .timeout(Duration::from_secs(30));
    let metrics = GooseAttack::initialize_with_config(configuration)
        .map_err(|e| format!("goose: {e}"))?
        .set_client_builder_without_cookies(client)
        .map_err(|e| format!("goose: {e}"))?
        .register_scenario(scenario)
        .execute()
        .await
        .map_err(|e| format!("goose: {e}"))?;
    Ok(summary(&metrics, plan.users, &paths))
}

/// `load.json`'s `requests`: goose's figures per endpoint.
fn summary(metrics: &GooseMetrics, users: u32, paths: &[(&'static str, String)]) -> RequestLoad {
    let seconds = metrics.duration.max(1) as f64;
    let mut endpoints = IndexMap::new();
    for aggregate in metrics.requests.values() {
        let timing = &aggregate.raw_data;
        let mut histogram = super::super::stats::histogram();
        for (micros, count) in timing.times_us.iter() {
            let _ = histogram.record_n((*micros).max(1), *count as u64);
        }
        let total = aggregate.success_count + aggregate.fail_count;
        // Goose keys its figures by the request's name.
        let name = aggregate.path.clone();
        let path = paths
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.as_str());
        let endpoint = super::super::report::Endpoint {
            latency: Latency::of(&histogram),
            method: format!("{:?}", aggregate.method).to_uppercase(),
            path: path.unwrap_or("").to_owned(),
            successes: aggregate.success_count as u64,
            failures: aggregate.fail_count as u64,
            rate: (total as f64 / seconds * 1000.0).round() / 1000.0,
            status_codes: aggregate
                .status_code_counts
                .iter()
                .map(|(code, n)| (code.to_string(), *n as u64))
                .collect(),
        };
        endpoints.insert(name, endpoint);
    }
    RequestLoad {
        engine: "goose".to_owned(),
        users,
        seconds: metrics.duration as u64,
        endpoints,
        goose_reports: vec!["goose.html".to_owned(), "goose.json".to_owned()],
    }
}
