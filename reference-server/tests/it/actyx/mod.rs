//! The Actyx Events API v2 over real sockets: auth and errors, offsets, publish, query, subscribe, monotonic sessions, replication, restarts, and the real `ax_sdk` client.
//!
//! Live tests never wait and hope for silence: a subscription's `offsets`
//! line marks the end of catch-up, and the node's keep-alive (a blank line)
//! comes only once a feed has read everything and found nothing more.

mod auth;
mod events;
mod live;
mod property;
mod restart;
mod sdk;

use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::{Running, start};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::CONTROL_TOKEN;

/// How long any single read may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);
pub const APP: &str = "com.example.tests";

/// An Actyx client for one server, authenticated as [`APP`].
pub struct Ax {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl Ax {
    pub async fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(WAIT)
            .build()
            .expect("client");
        let mut ax = Self {
            base: base.to_owned(),
            http,
            token: String::new(),
        };
        ax.token = ax.login(APP).await;
        ax
    }

    pub async fn login(&self, app: &str) -> String {
        let response = send(
            self.http
                .post(format!("{}/api/v2/auth", self.base))
                .json(&json!({"appId": app, "displayName": "Tests", "version": "1.0.0"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// `POST /api/v2/events/{path}` with the token and a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http
            .post(format!("{}/api/v2/events/{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
    }

    pub async fn publish(&self, events: &[(&[&str], Value)]) -> Vec<Value> {
        let data: Vec<Value> = events
            .iter()
            .map(|(tags, payload)| json!({"tags": tags, "payload": payload}))
            .collect();
        let response = send(self.post("publish", &json!({ "data": data }))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["data"].as_array().expect("data").clone()
    }

    pub async fn offsets(&self) -> Value {
        let response = send(
            self.http
                .get(format!("{}/api/v2/events/offsets", self.base))
                .bearer_auth(&self.token),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }

    /// Every line of a query (a bounded stream), parsed.
    pub async fn query(&self, body: &Value) -> Vec<Value> {
        let response = send(self.post("query", body)).await;
        assert_eq!(response.status(), StatusCode::OK, "query {body}");
        let mut lines = Lines::new(response);
        let mut out = Vec::new();
        while let Some(line) = lines.next(WAIT).await {
            out.push(line);
        }
        assert!(lines.ended, "the query ended within {WAIT:?}");
        out
    }

    /// `POST /_control/actyx/replicate`.
    pub async fn replicate(&self, body: &Value) -> Response {
        send(
            self.http
                .post(format!("{}/_control/actyx/replicate", self.base))
                .bearer_auth(CONTROL_TOKEN)
                .json(body),
        )
        .await
    }

    /// The node's id, from `GET /api/v2/node/id`.
    pub async fn node_id(&self) -> String {
        let response = send(self.http.get(format!("{}/api/v2/node/id", self.base))).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("text")
    }
}

pub async fn send(request: RequestBuilder) -> Response {
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("the server answered in time")
        .expect("request sent")
}

/// An in-process server with a 200 ms keep-alive.
pub async fn server() -> (Running, Ax) {
    let mut config = Config::ephemeral();
    config.actyx.keepalive = Duration::from_millis(200);
    start_with(config).await
}

pub async fn start_with(config: Config) -> (Running, Ax) {
    let running = start(config).await.expect("start server");
    let ax = Ax::new(&running.base_url()).await;
    (running, ax)
}

/// A stream id of another node: 43 crypt characters (the last one canonical), `-`, a number.
pub fn foreign_stream(fill: char, nr: u64) -> String {
    format!("{}.-{nr}", fill.to_string().repeat(42))
}

/// NDJSON lines of a streaming response; blank lines come back as `Value::Null`.
pub struct Lines {
    response: Response,
    buffer: Vec<u8>,
    pub ended: bool,
    /// Raw text of every line read, terminators included, for wire checks.
    pub raw: String,
}

impl Lines {
    pub fn new(response: Response) -> Self {
        Self {
            response,
            buffer: Vec::new(),
            ended: false,
            raw: String::new(),
        }
    }

    /// The next line, or `None` if none arrives within `timeout` or the body ended.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let text = String::from_utf8(line).expect("utf-8 line");
                self.raw.push_str(&text);
                let text = text.trim_end_matches('\n');
                if text.is_empty() {
                    return Some(Value::Null);
                }
                return Some(serde_json::from_str(text).expect("each line is JSON"));
            }
            if self.ended {
                assert!(self.buffer.is_empty(), "the body ended inside a line");
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    /// The next line that is not a keep-alive, failing the test if none comes in time.
    pub async fn next_json(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Value::Null) => continue,
                Some(line) => return line,
                None => panic!("no line within {WAIT:?} (ended: {})", self.ended),
            }
        }
    }

    /// Lines up to and including the first of type `kind`.
    pub async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let line = self.next_json().await;
            let done = line["type"] == kind;
            out.push(line);
            if done {
                return out;
            }
        }
    }

    /// Asserts that the feed goes quiet: the next line is a keep-alive.
    pub async fn expect_quiet(&mut self) {
        match self.next(WAIT).await {
            Some(Value::Null) => {}
            other => panic!("expected a keep-alive, got {other:?}"),
        }
    }
}

/// Asserts an Actyx error: status, `application/json`, exactly `{code, message}`.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.url().path());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["code"], code, "{body}");
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 2, "only code and message: {body}");
    body["message"].as_str().expect("a message").to_owned()
}

/// The events of a list of lines.
pub fn events(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["type"] == "event").collect()
}
