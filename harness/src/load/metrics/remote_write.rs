//! `--remote-write`: every interval of a run pushed to a Prometheus remote-write receiver.
//!
//! Each closed interval pushes the run's totals so far, as Prometheus
//! remote write 1.0 (a protobuf `WriteRequest`, snappy block compression):
//! every counter `<name>` of [`COUNTERS`](crate::load::stats::COUNTERS) as
//! `harness_load_<name>_total`, and every histogram `<name>` as the classic
//! histogram `harness_load_latency_seconds{histogram="<name>"}`, that is
//! `_bucket` with one `le` per bound of [`bounds`](super::bounds) and `+Inf`,
//! `_count` and `_sum` (seconds); every series carries `run`, `shard`, `api`
//! and `target`, and every sample of a push the interval's end as its
//! time. The buckets are cumulative since the run's start rather than
//! percentiles per interval because a p99 of one worker and a p99 of
//! another give no p99 of both, while bucket counts add: `histogram_quantile(0.99,
//! sum by (le) (rate(harness_load_latency_seconds_bucket{run="…",histogram="deliver"}[1m])))`
//! is the p99 of all shards together, within one bucket of what the merged
//! HDR histograms say. Totals rather than deltas also make a lost push
//! harmless: the next one carries everything it had.
//!
//! `le` is written by [`le_label`], Prometheus' own canonical form of a
//! float (`1e-06` for 1 µs, `0.5`, `+Inf`), the same strings in
//! every shard, every push and the `--metrics-out` file. A label whose value
//! is empty (say, no `target`) is left out, as the spec requires. Each push
//! also carries the families' metadata (type, help, unit).
//!
//! The [`Pusher`] never holds the load up: [`Pusher::push`] copies the
//! figures and hands them to a task through a short queue, dropping the push
//! when the queue is full; the task sends one push at a time with a timeout
//! and counts what went wrong. A refused push is not retried (the remote
//! write spec asks for retries of 5xx answers; here the next interval's
//! push, a second later with fresher totals, is that retry, and a 4xx such
//! as "out of order sample" is never sent again).
//!
//! # Layout
//!
//! - [`proto`]: the protobuf messages.
//! - `series`: the series of a push and its compressed body (sans-IO).

pub mod proto;
mod series;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use series::{LATENCY, le_label};

use crate::load::metrics::Labels;
use crate::load::stats::Set;
use series::Snapshot;

/// Pushes that may wait behind the one being sent; more are dropped.
const QUEUE: usize = 4;

/// How long one push may take, from connecting to the end of the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a refusal's body goes into the error.
const BODY_EXCERPT: usize = 200;

/// What became of a run's pushes; the `remote_write` section of load.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSummary {
    /// The receiver, with any password in it replaced by `***`.
    pub url: String,
    /// Pushes the receiver accepted (a 2xx answer).
    pub sent: u64,
    /// Pushes refused (any other answer), timed out or not delivered.
    pub failed: u64,
    /// Pushes never sent: the queue was full, or `finish` stopped waiting.
    pub dropped: u64,
    /// The last failure, for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Sends a run's totals to a remote-write receiver in the background.
#[derive(Debug)]
pub struct Pusher {
    url: String,
    queue: mpsc::Sender<Snapshot>,
    task: JoinHandle<()>,
    tally: Arc<Mutex<Tally>>,
    /// Pushes the queue took.
    queued: AtomicU64,
    /// Pushes the queue refused.
    dropped: AtomicU64,
    /// Whether the first refused push has been logged.
    warned_full: AtomicBool,
}

/// What the task has done, shared so that `finish` can read it after stopping the task.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    failed: u64,
    last_error: Option<String>,
}

/// Where and as whom the task pushes, and the labels of every series.
#[derive(Debug)]
struct Target {
    url: String,
    /// The same URL with its password hidden, for logs.
    shown: String,
    token: Option<String>,
    labels: Labels,
    /// The `le` of every bucket, computed once so that every push (and every shard) writes the same.
    le: Vec<String>,
}

impl Pusher {
    /// Starts the task that pushes to `url`, with `Authorization: Bearer
    /// <token>` when a token is given. Must be called within a tokio runtime.
    pub fn start(url: String, token: Option<String>, labels: Labels) -> Pusher {
        let shown = redacted(&url);
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {}", chain(&e)));
        let target = Target {
            url,
            shown: shown.clone(),
            token,
            labels,
            le: series::le_labels(),
        };
        let (queue, waiting) = mpsc::channel(QUEUE);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let task = tokio::spawn(run(client, target, waiting, Arc::clone(&tally)));
        Pusher {
            url: shown,
            queue,
            task,
            tally,
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            warned_full: AtomicBool::new(false),
        }
    }

    /// Queues a push of `totals` (the run's histograms so far) and
    /// `counters` (as [`Stats::counters`](crate::load::stats::Stats::counters))
    /// at `at`, the end of the interval just closed.
    ///
    /// Returns at once: it copies a few thousand integers and never waits
    /// for the network. A full queue drops the push, and counts it.
    pub fn push(&self, at: SystemTime, totals: &Set, counters: &BTreeMap<&'static str, u64>) {
        let snapshot = Snapshot::take(at, totals, counters);
        if self.queue.try_send(snapshot).is_ok() {
            self.queued.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if self.warned_full.swap(true, Ordering::Relaxed) {
            tracing::debug!(url = %self.url, "remote write: queue full, push dropped");
        } else {
            tracing::warn!(
                url = %self.url,
                "remote write: the receiver is slower than the intervals, so pushes are dropped \
                 (later ones carry the same totals; further drops are logged at debug)"
            );
        }
    }

    /// Closes the queue, waits at most `wait` for the pushes in it, and says
    /// what became of every push. Pushes still waiting then count as dropped.
    pub async fn finish(self, wait: Duration) -> PushSummary {
        let Pusher {
            url,
            queue,
            mut task,
            tally,
            queued,
            dropped,
            ..
        } = self;
        drop(queue);
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            task.abort();
            // Ends at once: the aborted task is dropped at its next await.
            let _ = task.await;
        }
        let tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        let abandoned = queued
            .into_inner()
            .saturating_sub(tally.sent + tally.failed);
        PushSummary {
            url,
            sent: tally.sent,
            failed: tally.failed,
            dropped: dropped.into_inner() + abandoned,
            last_error: tally.last_error.clone(),
        }
    }
}

/// A push that did not go through.
#[derive(Debug)]
struct Failure {
    /// What went wrong in a word (`HTTP 500`, `connect`, `timeout`…): the first of each kind is a warning.
    kind: String,
    message: String,
}

/// The task: one push at a time, in order, until the queue closes.
async fn run(
    client: Result<reqwest::Client, String>,
    target: Target,
    mut waiting: mpsc::Receiver<Snapshot>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut warned = HashSet::new();
    while let Some(snapshot) = waiting.recv().await {
        let outcome = match &client {
            Ok(client) => send(client, &target, &snapshot).await,
            Err(message) => Err(Failure {
                kind: "client".to_owned(),
                message: message.clone(),
            }),
        };
        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => tally.sent += 1,
            Err(failure) => {
                tally.failed += 1;
                if warned.insert(failure.kind) {
                    tracing::warn!(
                        url = %target.shown,
                        error = %failure.message,
                        "remote write failed; the next push carries the same totals \
                         (further failures of this kind are logged at debug)"
                    );
                } else {
                    tracing::debug!(url = %target.shown, error = %failure.message, "remote write failed");
                }
                tally.last_error = Some(failure.message);
            }
        }
    }
}

/// Sends one push; a 2xx answer is success, anything else a [`Failure`].
async fn send(
    client: &reqwest::Client,
    target: &Target,
    snapshot: &Snapshot,
) -> Result<(), Failure> {
    let request = series::write_request(snapshot, &target.labels, &target.le);
    let body = series::encode(&request).map_err(|e| Failure {
        kind: "encode".to_owned(),
        message: format!("compressing a push failed: {e}"),
    })?;
    let mut request = client
        .post(&target.url)
        .header(CONTENT_ENCODING, "snappy")
        .header(CONTENT_TYPE, "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header(USER_AGENT, concat!("harness/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .body(body);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(transport_failure)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // Prometheus says why in the body ("out of order sample", "duplicate sample for timestamp").
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body.trim().chars().take(BODY_EXCERPT).collect();
    Err(Failure {
        kind: format!("HTTP {}", status.as_u16()),
        message: if excerpt.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {excerpt}")
        },
    })
}

/// A push that got no answer: no connection, a timeout, or a broken one.
fn transport_failure(error: reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_builder() {
        "request"
    } else {
        "transport"
    };
    Failure {
        kind: kind.to_owned(),
        // Without the URL, which may hold a password; the log line names it, hidden.
        message: chain(&error.without_url()),
    }
}

/// An error and its causes, `: `-separated (reqwest's own message is only "error sending request").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

/// `url` with its password, if any, replaced by `***`.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
