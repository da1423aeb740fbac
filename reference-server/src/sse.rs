//! Server-sent-event streams over the log: replay after a position, then follow live, with keep-alives.
//!
//! A stream is pulled, not pushed: each time hyper asks for more body, the
//! stream reads the next batch of records after its position, renders the ones
//! its subscriber wants, and hands them over. When it has caught up it waits
//! for the log's watch, a keep-alive deadline, or its cancellation token. A
//! consumer that reads slowly therefore slows only itself, and one that stops
//! reading is cut by [`crate::conn::StallGuard`]; memory per stream is one
//! read batch.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::log::Log;
use crate::store::{Position, ReadLimit, Record};
use crate::subscribers::{Hub, StreamGuard};

/// Renders one record as SSE frame text, or `None` when the subscriber does not want it.
pub type Render = Arc<dyn Fn(&Record) -> Option<String> + Send + Sync>;

/// What one SSE stream follows and how.
pub struct Subscription {
    /// The log stream to follow.
    pub stream: String,
    /// Deliver records strictly after this position.
    pub after: Position,
    pub render: Render,
    /// A keep-alive comment after this long without a frame.
    pub keepalive: Duration,
    /// The stream ends when this fires.
    pub stop: CancellationToken,
    /// Records read from the log per step.
    pub read_batch: usize,
    /// Text sent before anything else (a `retry:` line, a comment), if any.
    pub preamble: Option<String>,
    /// Deliberate defects that live in the streaming machinery.
    pub defects: StreamDefects,
}

/// The defects a stream can carry (see [`crate::defects`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamDefects {
    /// `wrong-content-type`: answer `text/plain`.
    pub wrong_content_type: bool,
    /// `no-keepalive`: stay silent when idle.
    pub no_keepalive: bool,
    /// `replay-live-seam-gap`: drop the first record that arrives after catching up.
    pub seam_gap: bool,
    /// `reorder-live`: send the records of each read batch in reverse order.
    pub reverse_batches: bool,
}

impl StreamDefects {
    /// The defects that apply to every API's streams; an API adds its own.
    pub fn from(defects: &crate::defects::Defects) -> Self {
        use crate::defects::Defect;
        Self {
            wrong_content_type: defects.contains(Defect::WrongContentType),
            no_keepalive: defects.contains(Defect::NoKeepalive),
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.stream)
            .field("after", &self.after)
            .field("keepalive", &self.keepalive)
            .finish_non_exhaustive()
    }
}

/// The keep-alive frame: a comment, which every SSE client ignores.
pub const KEEPALIVE: &str = ": keep-alive\n\n";

/// Why a stream ended, for the log and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Stopped,
    FellBehindRetention,
    StoreFailed,
}

/// What ended a wait for new records.
enum Wake {
    MoreRecords,
    KeepAlive,
    Stop,
    LogGone,
}

struct Follower {
    log: Log,
    hub: Arc<Hub>,
    sub: Subscription,
    watch: watch::Receiver<Position>,
    preamble: Option<String>,
    ended: Option<End>,
    /// For the `replay-live-seam-gap` defect: the stream has caught up and
    /// not yet dropped a live record.
    seam_pending: bool,
    seam_used: bool,
    _guard: StreamGuard,
}

impl Follower {
    /// The next chunk of body, or `None` when the stream is over.
    async fn next_chunk(&mut self) -> Option<String> {
        if let Some(preamble) = self.preamble.take() {
            return Some(preamble);
        }
        if self.ended.is_some() {
            return None;
        }
        loop {
            if self.sub.stop.is_cancelled() {
                return self.end(End::Stopped);
            }
            let bounds = match self.log.bounds(&self.sub.stream) {
                Ok(bounds) => bounds,
                Err(_) => return self.end(End::StoreFailed),
            };
            // Records this stream has not delivered were removed by retention:
            // continuing would skip them silently. End it; the client's resume
            // then gets the API's expired-cursor answer. (Positions are
            // contiguous, so anything between `after` and the oldest record
            // kept, or the next position when nothing is kept, is gone.)
            if bounds.first.unwrap_or(bounds.next) > self.sub.after + 1 {
                self.ended = Some(End::FellBehindRetention);
                return Some(
                    ": this stream fell behind the retention window; resume with your cursor\n\n"
                        .to_owned(),
                );
            }
            let limit = ReadLimit {
                max_records: self.sub.read_batch,
                max_scanned: self.sub.read_batch,
            };
            let batch = match self
                .log
                .read_after(&self.sub.stream, self.sub.after, limit, Box::new(|_| true))
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, stream = %self.sub.stream, "reading the log for a stream failed");
                    return self.end(End::StoreFailed);
                }
            };
            self.sub.after = batch.scanned_to;
            let skip = usize::from(self.seam_pending && !batch.records.is_empty());
            if skip > 0 {
                self.seam_pending = false;
            }
            let mut frames: Vec<String> = batch
                .records
                .iter()
                .skip(skip)
                .filter_map(|record| (self.sub.render)(record))
                .collect();
            if self.sub.defects.reverse_batches {
                frames.reverse();
            }
            let frames = frames.concat();
            if !frames.is_empty() {
                return Some(frames);
            }
            if !batch.reached_end {
                continue;
            }
            if self.sub.defects.seam_gap && !self.seam_used {
                self.seam_used = true;
                self.seam_pending = true;
            }
            let after = self.sub.after;
            let stop = self.sub.stop.clone();
            let wake = tokio::select! {
                changed = self.watch.wait_for(|last| *last > after) => {
                    if changed.is_ok() { Wake::MoreRecords } else { Wake::LogGone }
                }
                () = keepalive(self.sub.keepalive, self.sub.defects.no_keepalive) => Wake::KeepAlive,
                () = stop.cancelled() => Wake::Stop,
            };
            match wake {
                Wake::MoreRecords => {}
                Wake::KeepAlive => return Some(KEEPALIVE.to_owned()),
                Wake::Stop => return self.end(End::Stopped),
                Wake::LogGone => return self.end(End::StoreFailed),
            }
        }
    }

    fn end(&mut self, why: End) -> Option<String> {
        if why == End::Stopped && !self.hub.shutting_down() {
            self.hub.count_forced_disconnect();
        }
        self.ended = Some(why);
        None
    }
}

/// Sleeps for the keep-alive interval, or forever under `no-keepalive`.
async fn keepalive(interval: Duration, disabled: bool) {
    if disabled {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(interval).await;
}

/// The response for a subscription: `200`, `text/event-stream`, never cached.
pub fn response(log: &Log, hub: &Arc<Hub>, mut sub: Subscription) -> Response {
    let watch = log.watch(&sub.stream);
    let preamble = sub.preamble.take();
    let follower = Follower {
        log: log.clone(),
        hub: Arc::clone(hub),
        watch,
        preamble,
        ended: None,
        seam_pending: false,
        seam_used: false,
        _guard: hub.open_stream(),
        sub,
    };
    let content_type = if follower.sub.defects.wrong_content_type {
        "text/plain; charset=utf-8"
    } else {
        "text/event-stream; charset=utf-8"
    };
    let body = futures_util::stream::unfold(follower, |mut follower| async move {
        let chunk = follower.next_chunk().await?;
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), follower))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
