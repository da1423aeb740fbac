//! Server-sent-event streams over the log, for Fibric and Pulse: replay after a position, then follow live, with keep-alive comments.
//!
//! The stream is a [`Follower`] (see [`crate::core::follow`]) around an SSE
//! feed: each step reads a batch of records after its position, renders the
//! ones its subscriber wants with the API's [`Render`], and hands them over
//! as one chunk. This module adds what SSE itself needs: the preamble, the
//! keep-alive comment, the retention comment, the headers, and the defects
//! that live in the framing.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

use crate::core::follow::{End, Feed, Follower, LogCursor, Pace, Step};
use crate::log::Log;
use crate::store::{Position, Record};
use crate::subscribers::Hub;

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

/// The retention comment: the stream fell behind what the log keeps.
const FELL_BEHIND: &str =
    ": this stream fell behind the retention window; resume with your cursor\n\n";

/// SSE framing over one log stream, for the [`Follower`].
struct SseFeed {
    render: Render,
    preamble: Option<String>,
    defects: StreamDefects,
    /// For the `replay-live-seam-gap` defect: the stream has caught up and
    /// not yet dropped a live record.
    seam_pending: bool,
    seam_used: bool,
}

impl Feed for SseFeed {
    type Out = String;
    type Place = LogCursor;

    async fn step(&mut self, cursor: &mut LogCursor, batch: usize) -> Step<String> {
        if let Some(preamble) = self.preamble.take() {
            return Step::Send(preamble);
        }
        // Records this stream has not delivered were removed by retention:
        // continuing would skip them silently. End it; the client's resume
        // then gets the API's expired-cursor answer. (Positions are
        // contiguous, so anything between `after` and the oldest record
        // kept, or the next position when nothing is kept, is gone.)
        match cursor.oldest_kept() {
            Ok(oldest) if oldest > cursor.after + 1 => {
                return Step::End(End::FellBehindRetention, Some(FELL_BEHIND.to_owned()));
            }
            Ok(_) => {}
            Err(_) => return Step::End(End::StoreFailed, None),
        }
        let Ok(read) = cursor.read(batch).await else {
            return Step::End(End::StoreFailed, None);
        };
        cursor.after = read.scanned_to;
        let skip = usize::from(self.seam_pending && !read.records.is_empty());
        if skip > 0 {
            self.seam_pending = false;
        }
        let mut frames: Vec<String> = read
            .records
            .iter()
            .skip(skip)
            .filter_map(|record| (self.render)(record))
            .collect();
        if self.defects.reverse_batches {
            frames.reverse();
        }
        if !frames.is_empty() {
            return Step::Send(frames.concat());
        }
        if !read.reached_end {
            return Step::Again;
        }
        if self.defects.seam_gap && !self.seam_used {
            self.seam_used = true;
            self.seam_pending = true;
        }
        Step::CaughtUp
    }

    fn keepalive(&mut self, _at: &LogCursor) -> Option<String> {
        (!self.defects.no_keepalive).then(|| KEEPALIVE.to_owned())
    }
}

/// The response for a subscription: `200`, `text/event-stream`, never cached.
pub fn response(log: &Log, hub: &Arc<Hub>, sub: Subscription) -> Response {
    let content_type = if sub.defects.wrong_content_type {
        "text/plain; charset=utf-8"
    } else {
        "text/event-stream; charset=utf-8"
    };
    let pace = Pace {
        stop: sub.stop,
        keepalive: sub.keepalive,
        read_batch: sub.read_batch,
    };
    let cursor = LogCursor::new(log, sub.stream, sub.after);
    let feed = SseFeed {
        render: sub.render,
        preamble: sub.preamble,
        defects: sub.defects,
        seam_pending: false,
        seam_used: false,
    };
    let body = Follower::new(feed, cursor, hub, pace).body();
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
