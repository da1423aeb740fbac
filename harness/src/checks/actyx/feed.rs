//! Recorded HTTP exchanges with an Actyx node, its NDJSON feeds read line by line with a size limit and timeouts, and the helpers that judge a query's lines.
//!
//! Credentials are recorded by name only: the `Authorization` header and an
//! `access_token` query parameter are redacted, because reports get shared.
//! Feed lines are recorded as notes (`line: …`), blank keep-alives as `line: (blank)`.

use std::collections::BTreeMap;
use std::time::Duration;

use scenarios::Finding;
use scenarios::actyx::lines::{self, EventLine, FeedLine};
use scenarios::actyx::order::Key;
use scenarios::transcript::Observed;
use wire::jsonl::LineSplitter;

use crate::record::{HttpResponse, Recorder};

/// The longest feed line the harness holds.
pub const MAX_LINE: usize = 1 << 20;
/// The largest non-streaming body the harness holds.
pub const MAX_BODY: usize = 4 << 20;

fn redact_url(url: &str) -> String {
    match url.split_once("access_token=") {
        Some((head, tail)) => {
            let rest = tail.find('&').map_or("", |i| &tail[i..]);
            format!("{head}access_token=<redacted>{rest}")
        }
        None => url.to_owned(),
    }
}

fn record_request(recorder: &Recorder, conn: u32, request: &reqwest::Request) {
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = if k == reqwest::header::AUTHORIZATION {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_owned(), value)
        })
        .collect();
    recorder.record(
        conn,
        Observed::Request {
            method: request.method().to_string(),
            url: redact_url(request.url().as_str()),
            headers,
        },
    );
}

fn headers_of(map: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Reads a body up to [`MAX_BODY`] within `timeout`.
async fn read_body(response: &mut reqwest::Response, timeout: Duration) -> Result<String, String> {
    let mut body = Vec::new();
    let read = tokio::time::timeout(timeout, async {
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("the body passed the {MAX_BODY}-byte limit"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|_| Err(format!("no complete body within {timeout:?}")));
    read.map(|()| String::from_utf8_lossy(&body).into_owned())
}

/// An answer: a whole response, or an open feed (a `2xx` to a feed request).
#[derive(Debug)]
pub enum Answer {
    Whole(HttpResponse),
    /// Boxed: a feed holds its response and line buffer.
    Feed(Box<Feed>),
}

/// Sends a request; a `2xx` is kept open as a feed when `feed` is set, else read whole.
pub async fn send(
    recorder: &Recorder,
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    feed: bool,
    timeout: Duration,
) -> Result<Answer, String> {
    let conn = recorder.new_conn();
    let request = request.build().map_err(|e| e.to_string())?;
    record_request(recorder, conn, &request);
    let closed = |reason: String| {
        recorder.record(
            conn,
            Observed::Closed {
                reason: reason.clone(),
            },
        );
        reason
    };
    let mut response = match tokio::time::timeout(timeout, client.execute(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Err(closed(error.to_string())),
        Err(_) => return Err(closed(format!("no response head within {timeout:?}"))),
    };
    let status = response.status().as_u16();
    let headers = headers_of(response.headers());
    if feed && response.status().is_success() {
        recorder.record(
            conn,
            Observed::Response {
                status,
                headers: headers.clone(),
                body: None,
            },
        );
        return Ok(Answer::Feed(Box::new(Feed {
            conn,
            status,
            headers,
            response: Some(response),
            splitter: LineSplitter::new(MAX_LINE),
            recorder: recorder.clone(),
            closed: None,
        })));
    }
    let body = read_body(&mut response, timeout).await.map_err(closed)?;
    recorder.record(
        conn,
        Observed::Response {
            status,
            headers: headers.clone(),
            body: Some(body.clone()),
        },
    );
    Ok(Answer::Whole(HttpResponse {
        conn,
        status,
        headers,
        body,
    }))
}

/// An open NDJSON response, read one line at a time.
#[derive(Debug)]
pub struct Feed {
    pub conn: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    response: Option<reqwest::Response>,
    splitter: LineSplitter,
    recorder: Recorder,
    /// Set once the feed has ended, with why.
    pub closed: Option<String>,
}

impl Feed {
    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }

    /// The next line within `timeout`, recorded; `None` on timeout or once closed.
    pub async fn next_line(&mut self, timeout: Duration) -> Option<FeedLine> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.splitter.next_line() {
                Ok(Some(line)) => {
                    let text = String::from_utf8_lossy(line.bytes());
                    let text = if text.is_empty() {
                        "line: (blank)".to_owned()
                    } else {
                        format!("line: {text}")
                    };
                    self.recorder.record(self.conn, Observed::Note { text });
                    return Some(lines::decode(&line));
                }
                Ok(None) => {}
                Err(error) => {
                    self.close(format!("the feed broke the line limit: {error}"));
                    return None;
                }
            }
            let response = self.response.as_mut()?;
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => self.splitter.push(&chunk),
                Ok(Ok(None)) => {
                    let reason = match self.splitter.finish() {
                        Ok(()) => "end of stream".to_owned(),
                        Err(error) => format!("end of stream: {error}"),
                    };
                    self.close(reason);
                    return None;
                }
                Ok(Err(error)) => {
                    self.close(format!("connection error: {error}"));
                    return None;
                }
            }
        }
    }

    /// The next line that is not a keep-alive nor a type the harness ignores.
    pub async fn next_significant(&mut self, timeout: Duration) -> Option<FeedLine> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await? {
                FeedLine::Blank | FeedLine::Skipped(_) => {}
                line => return Some(line),
            }
        }
    }

    /// Events up to the `offsets` line, and that line; anything else first is a finding.
    pub async fn until_offsets(
        &mut self,
        timeout: Duration,
    ) -> Result<(Vec<EventLine>, BTreeMap<String, u64>), Finding> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_significant(left).await {
                Some(FeedLine::Event(event)) => events.push(event),
                Some(FeedLine::Offsets(offsets)) => return Ok((events, offsets)),
                Some(other) => {
                    return Err(Finding::new(
                        "feed-line",
                        format!("before the offsets line, the feed sent {other:?}"),
                    ));
                }
                None => {
                    return Err(Finding::new(
                        "no-offsets-line",
                        format!(
                            "no offsets line after {} event(s) within {timeout:?} ({})",
                            events.len(),
                            self.closed.as_deref().unwrap_or("still open")
                        ),
                    ));
                }
            }
        }
    }

    /// Whether the feed ends within `timeout` (significant lines read meanwhile are returned).
    pub async fn ends_within(&mut self, timeout: Duration) -> (bool, Vec<FeedLine>) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut extra = Vec::new();
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(line) = self.next_significant(left).await {
                extra.push(line);
            }
        }
        (self.closed.is_some(), extra)
    }

    /// Closes the feed from the harness's side.
    pub fn close(&mut self, reason: String) {
        if self.closed.is_none() {
            self.recorder.record(
                self.conn,
                Observed::Closed {
                    reason: reason.clone(),
                },
            );
            self.closed = Some(reason);
        }
        self.response = None;
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.close("closed by the harness".to_owned());
    }
}

/// Events of a query's lines, and whether it ended with an `offsets` line; other lines are findings.
pub fn query_events(what: &str, lines: &[FeedLine]) -> (Vec<EventLine>, Vec<Finding>) {
    let mut events = Vec::new();
    let mut findings = Vec::new();
    for line in lines {
        match line {
            FeedLine::Event(event) => events.push(event.clone()),
            FeedLine::Offsets(_) => {}
            other => findings.push(Finding::new(
                "feed-line",
                format!("{what}: unexpected line {other:?}"),
            )),
        }
    }
    if !matches!(lines.last(), Some(FeedLine::Offsets(_))) {
        findings.push(Finding::new(
            "no-offsets-line",
            format!("{what}: the query did not end with an offsets line"),
        ));
    }
    (events, findings)
}

/// Per stream, the newest offset among `keys`: a lower bound that excludes them all.
pub fn bound_after<'a>(keys: impl IntoIterator<Item = &'a Key>) -> BTreeMap<String, u64> {
    let mut bound = BTreeMap::new();
    for key in keys {
        let entry = bound.entry(key.stream.clone()).or_insert(key.offset);
        *entry = (*entry).max(key.offset);
    }
    bound
}
