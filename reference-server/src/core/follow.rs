//! The one loop that follows the log for every stream: read a batch, hand it over, wait for more, a keep-alive or the stop.
//!
//! Every stream of the server (Fibric's and Pulse's SSE, Fauna's lines,
//! Actyx's NDJSON, the AT Protocol firehose) is a [`Follower`] around a
//! [`Feed`]. The follower owns what they share:
//!
//! - the position ([`Place`]): a [`LogCursor`] in one log stream, or Actyx's
//!   offsets across many, with the watch that says there is more;
//! - the read batch each step may read;
//! - the wait once caught up: the position's watch ([`Place::more`]), the
//!   keep-alive deadline, or the stream's token, whichever comes first;
//! - the end: why the stream ended ([`End`]), and the hub's accounting (the
//!   stream counted open while it lives, a forced disconnect counted when the
//!   token fired and the server is not shutting down).
//!
//! The feed is the API's framing: each step it reads after the position,
//! moves it on, and renders what it read into its own output (body text, or
//! WebSocket frames). So "where is the keep-alive applied?" has one answer:
//! in [`Follower::next`], with what [`Feed::keepalive`] gives.
//!
//! A stream is pulled, not pushed: hyper (or the firehose's socket loop) asks
//! for the next output when it can take it, so a consumer that reads slowly
//! slows only itself, and memory per stream is one read batch. A consumer
//! that stops reading is cut by [`crate::conn::StallGuard`]; one that falls
//! too far behind the firehose is cut by the firehose's feed.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::log::Log;
use crate::store::{Position, ReadBatch, ReadLimit, StoreError};
use crate::subscribers::{Hub, StreamGuard};

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The feed finished: a bounded query's end, or an error it reported.
    Finished,
    /// The stream's token fired: a forced disconnect, a delete, or shutdown.
    Stopped,
    /// Retention removed records the stream had not delivered.
    FellBehindRetention,
    /// The log failed, or went away.
    StoreFailed,
}

/// What one step of a feed came to.
#[derive(Debug)]
pub enum Step<T> {
    /// Output to hand over; the next step reads on.
    Send(T),
    /// Output to hand over, read up to the end of the log: the next step
    /// waits for more first instead of reading again.
    SendCaughtUp(T),
    /// Nothing to hand over yet, and more to read at once.
    Again,
    /// Caught up: wait for more.
    CaughtUp,
    /// The end, with last words if any.
    End(End, Option<T>),
}

/// Where a stream is in what it follows, and the watch that says there is more.
pub trait Place: Send {
    /// Resolves once there may be more to read after the position; `false`
    /// when the log is gone.
    fn more(&mut self) -> impl Future<Output = bool> + Send;
}

/// One API's framing and rendering over what it follows.
pub trait Feed: Send {
    /// What a step hands over: body bytes, or a batch of WebSocket frames.
    type Out: Send;
    /// The position the follower keeps for the feed.
    type Place: Place;

    /// Reads at most `batch` records after `at`, moves it on, and renders them.
    fn step(
        &mut self,
        at: &mut Self::Place,
        batch: usize,
    ) -> impl Future<Output = Step<Self::Out>> + Send;

    /// What an idle subscriber at `at` gets after the keep-alive interval; `None` sends nothing.
    fn keepalive(&mut self, at: &Self::Place) -> Option<Self::Out>;
}

/// How a follower waits and ends.
#[derive(Debug, Clone)]
pub struct Pace {
    /// The stream ends when this fires.
    pub stop: CancellationToken,
    /// A keep-alive after this long without output.
    pub keepalive: Duration,
    /// Records read per step.
    pub read_batch: usize,
}

/// A feed, followed: see the module doc.
pub struct Follower<F: Feed> {
    feed: F,
    at: F::Place,
    pace: Pace,
    hub: Arc<Hub>,
    ended: Option<End>,
    /// The last step read to the end of the log.
    caught_up: bool,
    _guard: StreamGuard,
}

impl<F: Feed> std::fmt::Debug for Follower<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("pace", &self.pace)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<F: Feed> Follower<F> {
    /// Follows `feed` from `at`; counts the stream open in `hub` until the
    /// follower is dropped.
    pub fn new(feed: F, at: F::Place, hub: &Arc<Hub>, mut pace: Pace) -> Self {
        pace.read_batch = pace.read_batch.max(1);
        Self {
            feed,
            at,
            pace,
            hub: Arc::clone(hub),
            ended: None,
            caught_up: false,
            _guard: hub.open_stream(),
        }
    }

    /// Why the stream ended, once it has.
    pub fn ended(&self) -> Option<End> {
        self.ended
    }

    /// The next output, or `None` once the stream is over.
    pub async fn next(&mut self) -> Option<F::Out> {
        if self.ended.is_some() {
            return None;
        }
        loop {
            if self.pace.stop.is_cancelled() {
                return self.end(End::Stopped, None);
            }
            if !std::mem::take(&mut self.caught_up) {
                match self.feed.step(&mut self.at, self.pace.read_batch).await {
                    Step::Send(out) => return Some(out),
                    Step::SendCaughtUp(out) => {
                        self.caught_up = true;
                        return Some(out);
                    }
                    Step::Again => continue,
                    Step::End(why, last) => return self.end(why, last),
                    Step::CaughtUp => {}
                }
            }
            let stop = self.pace.stop.clone();
            tokio::select! {
                more = self.at.more() => {
                    if !more {
                        return self.end(End::StoreFailed, None);
                    }
                }
                () = tokio::time::sleep(self.pace.keepalive) => {
                    if let Some(out) = self.feed.keepalive(&self.at) {
                        return Some(out);
                    }
                }
                () = stop.cancelled() => return self.end(End::Stopped, None),
            }
        }
    }

    fn end(&mut self, why: End, last: Option<F::Out>) -> Option<F::Out> {
        if why == End::Stopped && !self.hub.shutting_down() {
            self.hub.count_forced_disconnect();
        }
        self.ended = Some(why);
        last
    }
}

impl<F> Follower<F>
where
    F: Feed + 'static,
    F::Out: Into<Bytes>,
{
    /// The follower as a streamed response body.
    pub fn body(self) -> Body {
        let chunks = futures_util::stream::unfold(self, |mut follower| async move {
            let out = follower.next().await?;
            Some((Ok::<_, Infallible>(out.into()), follower))
        });
        Body::from_stream(chunks)
    }
}

/// A position in one log stream and the watch that says it moved on.
#[derive(Debug)]
pub struct LogCursor {
    log: Log,
    stream: String,
    /// Records after this position are still to read.
    pub after: Position,
    watch: watch::Receiver<Position>,
}

impl LogCursor {
    /// Follows `stream` from strictly after `after`.
    pub fn new(log: &Log, stream: impl Into<String>, after: Position) -> Self {
        let stream = stream.into();
        Self {
            watch: log.watch(&stream),
            log: log.clone(),
            stream,
            after,
        }
    }

    /// The log stream followed.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The next `batch` records after the position; the caller moves it on.
    /// A failure is logged here, with the stream, so a feed only ends.
    pub async fn read(&self, batch: usize) -> Result<ReadBatch, StoreError> {
        let limit = ReadLimit {
            max_records: batch,
            max_scanned: batch,
        };
        let read = self
            .log
            .read_after(&self.stream, self.after, limit, Box::new(|_| true))
            .await;
        if let Err(error) = &read {
            tracing::error!(%error, stream = %self.stream, "reading the log for a stream failed");
        }
        read
    }

    /// The first position retention kept (or the next one, when none is kept).
    pub fn oldest_kept(&self) -> Result<Position, StoreError> {
        let bounds = self.log.bounds(&self.stream)?;
        Ok(bounds.first.unwrap_or(bounds.next))
    }

    /// The newest position the log has announced.
    pub fn newest(&self) -> Position {
        *self.watch.borrow()
    }
}

impl Place for LogCursor {
    /// Resolves once the log holds a record after the position; `false` when it is gone.
    async fn more(&mut self) -> bool {
        let after = self.after;
        self.watch.wait_for(|last| *last > after).await.is_ok()
    }
}

#[cfg(test)]
mod tests;
