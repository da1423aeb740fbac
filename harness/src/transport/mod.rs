//! Recorded HTTP streams: one reader for every framing the checks read, with its limits and timeouts.
//!
//! [`Stream`] owns what every streamed response needs: the body read chunk
//! by chunk against a deadline, the end of the stream and why, closing from
//! the harness's side, and the `closed` entry in the transcript (once, also
//! when the stream is dropped). A [`Framing`] turns the bytes into items,
//! enforces its size limits, and says what each item records:
//!
//! - [`sse`]: server-sent events (Fibric, Pulse), over `wire::sse`;
//! - [`lines::Lines`]: JSON lines (Fauna's `/stream/1`, Actyx's NDJSON
//!   feeds), over `wire::jsonl`; each API decodes its lines on top.
//!
//! Streams are opened with [`crate::record::open_stream`], which records the
//! request and the response head.

pub mod lines;
pub mod sse;

use std::time::Duration;

use scenarios::transcript::Observed;

use crate::record::{OpenStream, Recorder};

/// How a stream's bytes become items.
pub trait Framing {
    type Item;
    /// Bytes as they came.
    fn push(&mut self, chunk: &[u8]);
    /// The next complete item; `Err` with the reason to close the stream when
    /// the bytes broke the framing's limits.
    fn next(&mut self) -> Result<Option<Self::Item>, String>;
    /// Why the stream ended, once the body is over (an unfinished item says so).
    fn finish(&mut self) -> String;
    /// What the transcript holds for an item.
    fn observe(&self, item: &Self::Item) -> Observed;
}

/// What one read of a stream came to.
#[derive(Debug)]
pub enum Read<T> {
    Item(T),
    /// Nothing complete came in time; the stream is still open.
    Timeout,
    /// The stream ended (or broke the limits), with why.
    Ended(String),
}

/// An open streamed response, read one item at a time, every item recorded.
#[derive(Debug)]
pub struct Stream<F: Framing> {
    pub conn: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    response: Option<reqwest::Response>,
    framing: F,
    recorder: Recorder,
    /// Set once the stream has ended, with why.
    pub closed: Option<String>,
}

impl<F: Framing> Stream<F> {
    /// Reads `open`'s body with `framing`, recording into `recorder`.
    pub fn new(open: OpenStream, framing: F, recorder: &Recorder) -> Stream<F> {
        Stream {
            conn: open.conn,
            status: open.status,
            headers: open.headers,
            response: Some(open.response),
            framing,
            recorder: recorder.clone(),
            closed: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }

    /// The next item within `wait`, recorded.
    pub async fn read(&mut self, wait: Duration) -> Read<F::Item> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.framing.next() {
                Ok(Some(item)) => {
                    let observed = self.framing.observe(&item);
                    self.recorder.record(self.conn, observed);
                    return Read::Item(item);
                }
                Ok(None) => {}
                Err(reason) => return Read::Ended(self.close(reason)),
            }
            let Some(response) = self.response.as_mut() else {
                return Read::Ended(self.closed.clone().unwrap_or_default());
            };
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return Read::Timeout,
                Ok(Ok(Some(chunk))) => self.framing.push(&chunk),
                Ok(Ok(None)) => {
                    let reason = self.framing.finish();
                    return Read::Ended(self.close(reason));
                }
                Ok(Err(error)) => {
                    return Read::Ended(self.close(format!("connection error: {error}")));
                }
            }
        }
    }

    /// The next item within `wait`; `None` on timeout or once the stream has ended.
    pub async fn next(&mut self, wait: Duration) -> Option<F::Item> {
        match self.read(wait).await {
            Read::Item(item) => Some(item),
            Read::Timeout | Read::Ended(_) => None,
        }
    }

    /// Whether the stream ends within `wait`; what comes meanwhile is read and recorded.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next(left).await.is_none() {
                break;
            }
        }
        self.closed.is_some()
    }

    /// Closes the stream from the harness's side (or records why it ended); returns the reason.
    pub fn close(&mut self, reason: String) -> String {
        if self.closed.is_none() {
            self.recorder.record(
                self.conn,
                Observed::Closed {
                    reason: reason.clone(),
                },
            );
            self.closed = Some(reason.clone());
        }
        self.response = None;
        reason
    }
}

impl<F: Framing> Drop for Stream<F> {
    fn drop(&mut self) {
        self.close("closed by the harness".to_owned());
    }
}
