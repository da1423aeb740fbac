//! Recording what crosses the wire: a shared transcript, and HTTP calls that write into it (streams: [`crate::transport`]).
//!
//! Every read from a target has a size limit and a timeout, because the
//! server under test may be broken or hostile: an endless line or a silent
//! connection ends the read with a recorded `Closed`, never a hang or an
//! unbounded buffer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scenarios::transcript::{Observed, Transcript};
use wire::sse::SseLimits;

/// Limits on what one response may make the harness hold.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// A non-streaming body larger than this is cut and recorded as such.
    pub max_body: usize,
    pub sse: SseLimits,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_body: 8 << 20,
            sse: SseLimits {
                max_line_bytes: 4 << 20,
                max_event_bytes: 8 << 20,
            },
        }
    }
}

/// The transcript of one case, shared by everything that records into it.
#[derive(Debug, Clone)]
pub struct Recorder {
    started: Instant,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    transcript: Transcript,
    next_conn: u32,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            inner: Arc::new(Mutex::new(Inner {
                transcript: Transcript::default(),
                next_conn: 1,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection number (1, 2, …); 0 is for entries of no connection.
    pub fn new_conn(&self) -> u32 {
        let mut inner = self.lock();
        let conn = inner.next_conn;
        inner.next_conn += 1;
        conn
    }

    pub fn record(&self, conn: u32, observed: Observed) {
        let at = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.lock().transcript.push(at, conn, observed);
    }

    pub fn note(&self, text: impl Into<String>) {
        self.record(0, Observed::Note { text: text.into() });
    }

    /// A copy of everything recorded so far.
    pub fn transcript(&self) -> Transcript {
        self.lock().transcript.clone()
    }
}

/// The head and body of a non-streaming response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub conn: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }
}

/// A response's headers as (name, value) pairs, values read lossily.
pub(crate) fn headers_of(map: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Records a request. Credentials are recorded by name only, because reports
/// get shared: the `Authorization` header and an `access_token` query
/// parameter (Actyx) are redacted.
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

fn redact_url(url: &str) -> String {
    match url.split_once("access_token=") {
        Some((head, tail)) => {
            let rest = tail.find('&').map_or("", |i| &tail[i..]);
            format!("{head}access_token=<redacted>{rest}")
        }
        None => url.to_owned(),
    }
}

/// Why a call could not complete; the transcript holds the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sends a request and reads its whole body (up to the limit), recording both.
pub async fn call(
    recorder: &Recorder,
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    limits: &ReadLimits,
    timeout: Duration,
) -> Result<HttpResponse, CallError> {
    let conn = recorder.new_conn();
    let request = request.build().map_err(|e| CallError(e.to_string()))?;
    record_request(recorder, conn, &request);
    let outcome = tokio::time::timeout(timeout, async {
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| CallError(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = headers_of(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CallError(e.to_string()))?
        {
            if body.len() + chunk.len() > limits.max_body {
                return Err(CallError(format!(
                    "the body passed the {}-byte limit",
                    limits.max_body
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
    })
    .await
    .unwrap_or_else(|_| Err(CallError(format!("no complete answer within {timeout:?}"))));
    match outcome {
        Ok((status, headers, body)) => {
            recorder.record(
                conn,
                Observed::Response {
                    status,
                    headers: headers.clone(),
                    body: Some(body.clone()),
                },
            );
            Ok(HttpResponse {
                conn,
                status,
                headers,
                body,
            })
        }
        Err(error) => {
            recorder.record(
                conn,
                Observed::Closed {
                    reason: error.0.clone(),
                },
            );
            Err(error)
        }
    }
}

/// A response whose head arrived with a 2xx status; its body is still to be read.
#[derive(Debug)]
pub struct OpenStream {
    pub conn: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub response: reqwest::Response,
}

/// Sends a request and waits `timeout` for its head, recording both. A 2xx
/// is returned open, for the caller's stream reader; any other answer is read
/// whole (up to the limit, within `timeout`) and returned as `Err(response)`.
pub async fn open_stream(
    recorder: &Recorder,
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    limits: &ReadLimits,
    timeout: Duration,
) -> Result<Result<OpenStream, HttpResponse>, CallError> {
    let conn = recorder.new_conn();
    let request = request.build().map_err(|e| CallError(e.to_string()))?;
    record_request(recorder, conn, &request);
    let closed = |reason: String| {
        recorder.record(
            conn,
            Observed::Closed {
                reason: reason.clone(),
            },
        );
        CallError(reason)
    };
    let mut response = match tokio::time::timeout(timeout, client.execute(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Err(closed(error.to_string())),
        Err(_) => return Err(closed(format!("no response head within {timeout:?}"))),
    };
    let status = response.status().as_u16();
    let headers = headers_of(response.headers());
    if !response.status().is_success() {
        let mut body = Vec::new();
        let read = tokio::time::timeout(timeout, async {
            while let Ok(Some(chunk)) = response.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() > limits.max_body {
                    body.truncate(limits.max_body);
                    break;
                }
            }
        });
        let _ = read.await;
        let body = String::from_utf8_lossy(&body).into_owned();
        recorder.record(
            conn,
            Observed::Response {
                status,
                headers: headers.clone(),
                body: Some(body.clone()),
            },
        );
        return Ok(Err(HttpResponse {
            conn,
            status,
            headers,
            body,
        }));
    }
    recorder.record(
        conn,
        Observed::Response {
            status,
            headers: headers.clone(),
            body: None,
        },
    );
    Ok(Ok(OpenStream {
        conn,
        status,
        headers,
        response,
    }))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn an_access_token_in_the_query_is_recorded_by_name_only() {
        assert_eq!(
            redact_url("http://n/api/v2/events/offsets?access_token=abc.def&x=1"),
            "http://n/api/v2/events/offsets?access_token=<redacted>&x=1"
        );
        assert_eq!(
            redact_url("http://n/q?access_token=abc"),
            "http://n/q?access_token=<redacted>"
        );
        assert_eq!(redact_url("http://n/q?cursor=3"), "http://n/q?cursor=3");
    }
}
