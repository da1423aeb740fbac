//! Request/response load: `--users` closed-loop users on the API's endpoints, folded into the run's report.
//!
//! Users send requests back to back (closed loop, like oha and wrk): the
//! request histogram is the latency a waiting client sees, not corrected for
//! coordinated omission as `deliver` is. Each answer is timed to its head
//! (status and headers), as goose and oha time it, and its body is read to
//! the end so the connection is reused.
//!
//! Two engines drive them (`--request-engine`):
//!
//! - [`direct`] (the default for `http://` targets): one HTTP/1.1 connection
//!   per user on hyper's connection API, requests built once and cloned,
//!   figures kept per endpoint by the harness. It exists because goose's
//!   per-request path (a `reqwest` request built and its URL parsed per
//!   request, a metrics message per request to goose's collector) cost the
//!   harness half the rate oha and wrk reach on the same cores.
//! - [`goose`]: goose users (`https://` targets always go through it, since
//!   the direct engine speaks plain HTTP only); goose's HTML and JSON
//!   reports are kept beside ours.
//!
//! Both fill the same `request` histogram and `requests` section of
//! `load.json`, whose `engine` names the one that ran.

mod direct;
mod goose;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::adapter::Endpoint;
use super::report::RequestLoad;
use super::stats::Stats;

/// Which engine runs the users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// Hyper connections driven by the harness (plain HTTP only).
    #[default]
    Direct,
    /// Goose users, with goose's reports.
    Goose,
}

/// What the request load runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub base: String,
    pub users: u32,
    /// Goose runs whole seconds; this is rounded up, for both engines.
    pub duration: Duration,
    pub endpoints: Vec<Endpoint>,
    pub engine: Engine,
}

/// Picks the endpoints `--endpoint` names, or every read endpoint without it.
pub fn select(all: Vec<Endpoint>, names: &[String]) -> Result<Vec<Endpoint>, String> {
    if names.is_empty() {
        return Ok(all.into_iter().filter(|e| !e.writes).collect());
    }
    let known: Vec<&str> = all.iter().map(|e| e.name).collect();
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|e| e.name == name)
                .cloned()
                .ok_or_else(|| format!("--endpoint {name:?}: this API has {}", known.join(", ")))
        })
        .collect()
}

/// The whole seconds the users run for `duration`.
pub fn seconds(duration: Duration) -> u64 {
    (duration.as_secs_f64().ceil() as u64).max(1)
}

/// Runs the request load to its end; goose's reports, when goose runs, go to `dir`.
pub async fn run(plan: Plan, stats: Arc<Stats>, dir: &Path) -> Result<RequestLoad, String> {
    if plan.engine == Engine::Goose || !plan.base.starts_with("http://") {
        goose::run(plan, stats, dir).await
    } else {
        direct::run(plan, stats).await
    }
}
