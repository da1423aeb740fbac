//! A `/stream/1` response read line by line, each line recorded, with a line-length limit and timeouts.
//!
//! The transcript has no entry kind for JSON lines, so each line is recorded
//! as a note on its connection: `CRLF line: {...}` or `LF line: {...}`.

use std::time::Duration;

use scenarios::transcript::Observed;
use serde_json::Value;
use wire::jsonl::{Line, LineSplitter, Terminator};

use crate::record::{self, HttpResponse, ReadLimits, Recorder};

/// The longest line kept in a note of the transcript.
const NOTE_CHARS: usize = 2_000;

/// What one read of a stream came to.
#[derive(Debug)]
pub enum Read {
    Line(Line),
    /// Nothing complete came in time; the stream is still open.
    Timeout,
    /// The stream ended (or broke the limits), with why.
    Ended(String),
}

/// An open `/stream/1` response.
#[derive(Debug)]
pub struct LineConn {
    pub conn: u32,
    pub headers: Vec<(String, String)>,
    response: Option<reqwest::Response>,
    splitter: LineSplitter,
    recorder: Recorder,
    /// Set once the stream has ended, with why.
    pub closed: Option<String>,
}

/// Opens a stream; a non-2xx answer is read whole (up to the limit) and returned as `Err`.
pub async fn open(
    recorder: &Recorder,
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    limits: &ReadLimits,
    timeout: Duration,
) -> Result<Result<LineConn, HttpResponse>, String> {
    let opened = record::open_stream(recorder, client, request, limits, timeout)
        .await
        .map_err(|e| e.0)?;
    Ok(opened.map(|open| LineConn {
        conn: open.conn,
        headers: open.headers,
        response: Some(open.response),
        splitter: LineSplitter::new(limits.sse.max_line_bytes),
        recorder: recorder.clone(),
        closed: None,
    }))
}

impl LineConn {
    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }

    /// The next complete line within `wait`, recorded.
    pub async fn next_line(&mut self, wait: Duration) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.splitter.next_line() {
                Ok(Some(line)) => {
                    self.record_line(&line);
                    return Read::Line(line);
                }
                Ok(None) => {}
                Err(error) => return Read::Ended(self.close(format!("the stream broke: {error}"))),
            }
            let Some(response) = self.response.as_mut() else {
                return Read::Ended(self.closed.clone().unwrap_or_default());
            };
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return Read::Timeout,
                Ok(Ok(Some(chunk))) => self.splitter.push(&chunk),
                Ok(Ok(None)) => {
                    let reason = match self.splitter.finish() {
                        Err(error) => format!("end of stream: {error}"),
                        Ok(()) => "end of stream".to_owned(),
                    };
                    return Read::Ended(self.close(reason));
                }
                Ok(Err(error)) => {
                    return Read::Ended(self.close(format!("connection error: {error}")));
                }
            }
        }
    }

    /// The next JSON event within `wait`; blank lines and lines that are not
    /// JSON objects are skipped (the line-format check judges them). `None`
    /// on timeout or at the end.
    pub async fn next_event(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await {
                Read::Line(line) => {
                    if let Some(Ok(value @ Value::Object(_))) = line.parse_json() {
                        return Some(value);
                    }
                }
                Read::Timeout | Read::Ended(_) => return None,
            }
        }
    }

    /// Reads events until one satisfies `stop` (kept), `max` have come, the
    /// stream ends, or `wait` passes.
    pub async fn read_until(
        &mut self,
        wait: Duration,
        max: usize,
        stop: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        while events.len() < max {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.next_event(left).await else {
                break;
            };
            let done = stop(&event);
            events.push(event);
            if done {
                break;
            }
        }
        events
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

    fn record_line(&self, line: &Line) {
        let ending = match line.terminator() {
            Terminator::CrLf => "CRLF",
            Terminator::Lf => "LF",
        };
        let text: String = String::from_utf8_lossy(line.bytes())
            .chars()
            .take(NOTE_CHARS)
            .collect();
        self.recorder.record(
            self.conn,
            Observed::Note {
                text: format!("{ending} line: {text}"),
            },
        );
    }
}

impl Drop for LineConn {
    fn drop(&mut self) {
        self.close("closed by the harness".to_owned());
    }
}
