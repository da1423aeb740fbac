//! Exchanges: one request and what came back, as raw as the wire gave it.
//!
//! A [`Session`] runs a script's requests against the target and keeps each
//! snapshotted exchange. Reads are bounded (bytes, items and time), because
//! the server under test may be broken: a stream that never ends or a body
//! that never stops is cut and the snapshot says so.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::record::headers_of;
use crate::transport::ws;

/// The most bytes one exchange's body may hold.
pub const MAX_BODY: usize = 4 << 20;

/// How long a script waits for an answer, or for the next item of a stream.
pub const WAIT: Duration = Duration::from_secs(5);

/// The longest one read of a body or a WebSocket may last, however steadily
/// the server sends: a trickle of keep-alives or bytes must not hold a script.
pub const READ_LIMIT: Duration = Duration::from_secs(30);

/// A request as the script sent it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path and query, without the target's base URL.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path).json(body)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn bearer(self, secret: &str) -> Self {
        self.header("authorization", format!("Bearer {secret}"))
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self.header("content-type", "application/json")
    }
}

/// How a streamed body is cut into items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The whole body is one document.
    Whole,
    /// Server-sent events; read until this many events (not comments) arrived.
    Sse(usize),
    /// JSON lines; read until this many non-blank lines arrived.
    Lines(usize),
}

/// How a stream's reading ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The body ended (or the script had what it asked for).
    Complete,
    /// The server closed the stream or the connection.
    Closed(String),
    /// Nothing more arrived within the wait.
    Quiet,
    /// The body passed [`MAX_BODY`].
    TooLarge,
    /// The read lasted longer than the session's read limit.
    TooLong(Duration),
}

/// The answer to an exchange.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub framing: Framing,
    pub body: Vec<u8>,
    /// WebSocket messages (binary or text), in order.
    pub messages: Vec<Message>,
    pub end: End,
}

impl Response {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }
}

/// One snapshotted exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `NN-name`, the snapshot file's stem.
    pub name: String,
    /// One sentence: what the step does and why it is in the script.
    pub about: String,
    pub request: Request,
    pub response: Response,
}

/// A script's connection to the target, and what it has recorded so far.
#[derive(Debug)]
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
    /// A tag unique to this run, for the names a script creates; it becomes `<run>`.
    pub tag: String,
    pub exchanges: Vec<Exchange>,
    /// Literal values to normalise, and their names: the tag is `<run>`.
    pub literals: Vec<(String, String)>,
    /// The longest one read may last ([`READ_LIMIT`] unless a test says otherwise).
    pub read_limit: Duration,
}

/// Why a script could not go on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScriptError(pub String);

impl Session {
    pub fn new(http: reqwest::Client, base: String) -> Self {
        let tag = format!("snap{}", &ulid::Ulid::generate().to_string()[16..]).to_lowercase();
        Self {
            http,
            base,
            literals: vec![(tag.clone(), "run".to_owned())],
            tag,
            exchanges: Vec::new(),
            read_limit: READ_LIMIT,
        }
    }

    /// Sends a request whose exchange is not snapshotted (setup), and reads the whole answer.
    pub async fn setup(&self, request: Request) -> Result<Response, ScriptError> {
        self.send(&request, Framing::Whole).await
    }

    /// Like [`Session::setup`], but the answer must be a 2xx with a JSON body.
    pub async fn setup_json(&self, request: Request) -> Result<Value, ScriptError> {
        let what = format!("{} {}", request.method, request.path);
        let response = self.setup(request).await?;
        if !(200..300).contains(&response.status) {
            return Err(ScriptError(format!(
                "setup step {what} answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )));
        }
        response
            .json()
            .ok_or_else(|| ScriptError(format!("setup step {what} answered no JSON")))
    }

    /// Sends a request, reads the answer as `framing` says, and snapshots the exchange.
    pub async fn exchange(
        &mut self,
        name: &str,
        about: &str,
        request: Request,
        framing: Framing,
    ) -> Result<Response, ScriptError> {
        let response = self.send(&request, framing).await?;
        self.keep(name, about, request, response.clone());
        Ok(response)
    }

    /// Keeps an exchange the script made itself (a stream opened before a write).
    pub fn keep(&mut self, name: &str, about: &str, request: Request, response: Response) {
        let name = format!("{:02}-{name}", self.exchanges.len() + 1);
        self.exchanges.push(Exchange {
            name,
            about: about.to_owned(),
            request,
            response,
        });
    }

    fn build(&self, request: &Request) -> reqwest::RequestBuilder {
        let mut builder = self.http.request(
            request.method.clone(),
            format!("{}{}", self.base, request.path),
        );
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.to_string());
        }
        builder
    }

    /// Sends a request and reads its answer.
    pub async fn send(&self, request: &Request, framing: Framing) -> Result<Response, ScriptError> {
        let mut open = self.open(request, framing).await?;
        open.read().await;
        Ok(open.response)
    }

    /// Sends a request and returns once the head has arrived; the body is read by [`Open::read`].
    pub async fn open(&self, request: &Request, framing: Framing) -> Result<Open, ScriptError> {
        let what = format!("{} {}", request.method, request.path);
        let http = tokio::time::timeout(WAIT, self.build(request).send())
            .await
            .map_err(|_| ScriptError(format!("{what}: no answer within {WAIT:?}")))?
            .map_err(|e| ScriptError(format!("{what}: {e}")))?;
        let status = http.status().as_u16();
        let headers = headers_of(http.headers());
        // An error answer is a document, whatever the request asked for.
        let framing = if (200..300).contains(&status) {
            framing
        } else {
            Framing::Whole
        };
        Ok(Open {
            http,
            read_limit: self.read_limit,
            counted: Counted::default(),
            response: Response {
                status,
                headers,
                framing,
                body: Vec::new(),
                messages: Vec::new(),
                end: End::Complete,
            },
        })
    }

    /// Opens a WebSocket at `path`, reads up to `frames` messages, and snapshots the exchange.
    pub async fn websocket(
        &mut self,
        name: &str,
        about: &str,
        path: &str,
        frames: usize,
    ) -> Result<Response, ScriptError> {
        let url = crate::client::ws_url(&format!("{}{path}", self.base));
        let (mut socket, head) = ws::open(&url, MAX_BODY, WAIT)
            .await
            .map_err(|e| ScriptError(format!("GET {path}: {e}")))?;
        let mut response = Response {
            status: head.status().as_u16(),
            headers: headers_of(head.headers()),
            framing: Framing::Whole,
            body: Vec::new(),
            messages: Vec::new(),
            end: End::Complete,
        };
        let deadline = tokio::time::Instant::now() + self.read_limit;
        while response.messages.len() < frames {
            let wait = (tokio::time::Instant::now() + WAIT).min(deadline);
            match tokio::time::timeout_at(wait, socket.next()).await {
                Err(_) if wait == deadline => {
                    response.end = End::TooLong(self.read_limit);
                    break;
                }
                Err(_) => {
                    response.end = End::Quiet;
                    break;
                }
                Ok(None) => {
                    response.end = End::Closed("the connection ended without a close frame".into());
                    break;
                }
                Ok(Some(Err(error))) => {
                    response.end = End::Closed(format!("connection error: {error}"));
                    break;
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    response.end = End::Closed(match frame {
                        Some(f) => {
                            format!("close frame {} {:?}", u16::from(f.code), f.reason.as_str())
                        }
                        None => "close frame without a code".into(),
                    });
                    break;
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => {}
                Ok(Some(Ok(message))) => response.messages.push(message),
            }
        }
        let _ = socket.close(None).await;
        self.keep(name, about, Request::get(path), response.clone());
        Ok(response)
    }
}

/// A response whose head has arrived.
#[derive(Debug)]
pub struct Open {
    http: reqwest::Response,
    read_limit: Duration,
    counted: Counted,
    pub response: Response,
}

/// How far the body has been counted: each byte is looked at about once, so
/// a server that sends its stream a byte at a time costs no more than one
/// that sends it whole.
#[derive(Debug, Default)]
struct Counted {
    /// The end of the last complete line counted.
    scanned: usize,
    /// Complete items (non-blank lines, or SSE events) so far.
    items: usize,
    /// Whether the SSE block being read has a field (not only comments).
    has_field: bool,
}

impl Open {
    /// Reads the body as its framing says: to the end, or until the stream holds enough items.
    pub async fn read(&mut self) {
        let deadline = tokio::time::Instant::now() + self.read_limit;
        self.count();
        loop {
            if self.enough() {
                self.response.end = End::Complete;
                return;
            }
            let wait = (tokio::time::Instant::now() + WAIT).min(deadline);
            match tokio::time::timeout_at(wait, self.http.chunk()).await {
                Err(_) if wait == deadline => {
                    self.response.end = End::TooLong(self.read_limit);
                    return;
                }
                Err(_) => {
                    self.response.end = End::Quiet;
                    return;
                }
                Ok(Ok(Some(chunk))) => {
                    if self.response.body.len() + chunk.len() > MAX_BODY {
                        self.response.end = End::TooLarge;
                        return;
                    }
                    self.response.body.extend_from_slice(&chunk);
                    if chunk.iter().any(|b| matches!(b, b'\n' | b'\r')) {
                        self.count();
                    }
                }
                Ok(Ok(None)) => {
                    self.response.end = match self.response.framing {
                        Framing::Whole => End::Complete,
                        _ => End::Closed("the server ended the body".into()),
                    };
                    return;
                }
                Ok(Err(error)) => {
                    self.response.end = End::Closed(format!("connection error: {error}"));
                    return;
                }
            }
        }
    }

    fn enough(&self) -> bool {
        match self.response.framing {
            Framing::Whole => false,
            Framing::Sse(n) | Framing::Lines(n) => self.counted.items >= n,
        }
    }

    /// Counts the complete lines after the last counted one.
    fn count(&mut self) {
        let sse = matches!(self.response.framing, Framing::Sse(_));
        let rest = &self.response.body[self.counted.scanned..];
        let (mut start, mut i) = (0, 0);
        while i < rest.len() {
            let width = match rest[i] {
                b'\n' => 1,
                b'\r' if rest.get(i + 1) == Some(&b'\n') => 2,
                // A CR at the very end may be the first half of a CRLF still to come.
                b'\r' if i + 1 == rest.len() => break,
                b'\r' => 1,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let line = &rest[start..i];
            let counted = &mut self.counted;
            if !sse {
                counted.items += usize::from(!line.iter().all(u8::is_ascii_whitespace));
            } else if line.is_empty() {
                counted.items += usize::from(counted.has_field);
                counted.has_field = false;
            } else if line[0] != b':' {
                counted.has_field = true;
            }
            i += width;
            start = i;
        }
        self.counted.scanned += start;
    }
}
