//! Prisma Pulse over real sockets: auth and errors, models and rows, event ids, filters, named streams, environments, subscriptions, restarts.
//!
//! Negative assertions ("nothing else is delivered") do not wait and hope:
//! the SSE follower sends a keep-alive comment only once it has read to the
//! end of the log and found nothing more, so the events before the first
//! keep-alive of a consumer that connected after some commits are exactly
//! the matching ones among them. Live tests close with a marker event instead.

mod api;
mod environments;
mod filters;
mod restart;
mod rows;
mod streams;
mod subscribe;

use std::time::Duration;

use reference_server::config::{Config, ModelDecl, ReplicaIdentity};
use reference_server::server::{Running, start};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use wire::sse::{SseItem, SseParser};

use crate::support::CONTROL_TOKEN;

pub const KEY: &str = "pulse_test_key";
/// How long any single read or poll may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

/// A Pulse client for one server, in-process or a child process.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            // No overall timeout: SSE responses stay open; reads use their own deadlines.
            http: reqwest::Client::builder()
                .connect_timeout(WAIT)
                .build()
                .expect("client"),
        }
    }

    /// A request to a public Pulse route, without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request to a public Pulse route with the API key.
    pub fn public(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(KEY)
    }

    /// A request to `/_control/pulse{path}` with the control token.
    pub fn control(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/_control/pulse{path}", self.base))
            .bearer_auth(CONTROL_TOKEN)
    }

    pub async fn declare(&self, name: &str, primary_key: &str, identity: &str) -> Response {
        let body = json!({"name": name, "primary_key": primary_key, "replica_identity": identity});
        send(self.control(Method::POST, "/models").json(&body)).await
    }

    /// Changes a row and returns the answer as is.
    pub async fn change(&self, model: &str, action: &str, row: Value) -> Response {
        let body = json!({"action": action, "row": row});
        send(
            self.control(Method::POST, &format!("/models/{model}/rows"))
                .json(&body),
        )
        .await
    }

    /// Changes a row, expecting success; returns the event id.
    pub async fn row(&self, model: &str, action: &str, row: Value) -> String {
        let response = self.change(model, action, row.clone()).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{action} {row}");
        let body: Value = response.json().await.expect("json");
        let id = body["id"].as_str().expect("an id").to_owned();
        assert_ulid(&id);
        id
    }

    pub async fn event(&self, id: &str) -> Response {
        send(self.public(Method::GET, &format!("/events/{id}"))).await
    }

    pub async fn create_stream(&self, body: Value) -> Response {
        send(self.public(Method::POST, "/streams").json(&body)).await
    }

    /// Creates a stream, expecting `201`; returns its StreamInfo.
    pub async fn stream(&self, name: &str, model: &str, filter: Option<Value>) -> Value {
        let mut body = json!({"name": name, "model": model});
        if let Some(filter) = filter {
            body["filter"] = filter;
        }
        let response = self.create_stream(body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create {name}");
        response.json().await.expect("json")
    }

    /// `GET /streams` as a list.
    pub async fn streams(&self) -> Vec<Value> {
        let response = send(self.public(Method::GET, "/streams")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["data"].as_array().expect("data").clone()
    }

    /// The StreamInfo of `name` from `GET /streams`.
    pub async fn info(&self, name: &str) -> Option<Value> {
        self.streams()
            .await
            .into_iter()
            .find(|info| info["name"] == name)
    }

    /// `GET /streams/{name}/events`, with `Last-Event-ID` when given.
    pub async fn consume_response(&self, name: &str, last_event_id: Option<&str>) -> Response {
        let mut request = self.public(Method::GET, &format!("/streams/{name}/events"));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        send(request).await
    }

    pub async fn consume(&self, name: &str, last_event_id: Option<&str>) -> Sse {
        Sse::new(self.consume_response(name, last_event_id).await)
    }

    /// Consumes `name` once its previous consumer is gone: the server frees a
    /// name when it notices the closed connection, at its next write.
    pub async fn reconsume_response(&self, name: &str, last_event_id: Option<&str>) -> Response {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let response = self.consume_response(name, last_event_id).await;
            if response.status() != StatusCode::CONFLICT {
                return response;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the stream {name} stayed busy after its consumer left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn reconsume(&self, name: &str, last_event_id: Option<&str>) -> Sse {
        Sse::new(self.reconsume_response(name, last_event_id).await)
    }

    pub async fn subscribe(&self, body: Value) -> Response {
        send(self.public(Method::POST, "/subscribe").json(&body)).await
    }
}

pub async fn send(request: RequestBuilder) -> Response {
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("the server answered in time")
        .expect("request sent")
}

/// An in-process server with `models` (name, primary key, identity) and a 100 ms keep-alive.
pub async fn server(models: &[(&str, &str, ReplicaIdentity)]) -> (Running, Api) {
    start_with(config(models)).await
}

pub async fn start_with(config: Config) -> (Running, Api) {
    let running = start(config).await.expect("start server");
    let api = Api::new(&running.base_url());
    (running, api)
}

/// The ephemeral configuration with `models` and a 100 ms keep-alive.
pub fn config(models: &[(&str, &str, ReplicaIdentity)]) -> Config {
    let mut config = Config::ephemeral();
    config.pulse.keepalive = Duration::from_millis(100);
    config.pulse.models = models
        .iter()
        .map(|(name, primary_key, replica_identity)| ModelDecl {
            name: (*name).to_owned(),
            primary_key: (*primary_key).to_owned(),
            replica_identity: *replica_identity,
        })
        .collect();
    config
}

/// Asserts a Pulse error: the status, `application/json`, `{code, message, meta?}`
/// and nothing else. Returns the body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.url().path());
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let object = body.as_object().expect("an object");
    assert!(
        object
            .keys()
            .all(|key| ["code", "message", "meta"].contains(&key.as_str())),
        "{body}"
    );
    if let Some(meta) = object.get("meta") {
        assert!(meta.is_object(), "{body}");
    }
    body
}

/// Asserts the seed's pattern `^[0-9A-HJKMNP-TV-Z]{26}$`.
pub fn assert_ulid(id: &str) {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    assert!(
        id.len() == 26 && id.chars().all(|c| ALPHABET.contains(c)),
        "{id:?} is not a ULID"
    );
}

/// One thing read from an SSE response.
#[derive(Debug)]
pub enum Item {
    /// An event: its SSE id and its data as JSON.
    Event(String, Value),
    Comment(String),
    End,
}

/// An SSE response being read.
pub struct Sse {
    response: Response,
    parser: SseParser,
    ended: bool,
}

impl Sse {
    /// Checks the headers of an SSE answer and starts reading its body.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.url());
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"),
            "{headers:?}"
        );
        assert_eq!(headers["cache-control"], "no-store");
        Self {
            response,
            parser: SseParser::default(),
            ended: false,
        }
    }

    /// The next item; fails the test after [`WAIT`] without one.
    pub async fn next(&mut self) -> Item {
        loop {
            match self.parser.next_item().expect("valid SSE") {
                Some(SseItem::Event(event)) => {
                    // No `event:` field, so an EventSource's onmessage fires.
                    assert_eq!(event.event_type, "message");
                    assert!(event.id_field_seen, "every event has an id: {event:?}");
                    let data: Value = serde_json::from_str(&event.data).expect("JSON data");
                    assert_eq!(
                        data["id"],
                        event.last_event_id.as_str(),
                        "SSE id = event id"
                    );
                    return Item::Event(event.last_event_id, data);
                }
                Some(SseItem::Comment(text)) => return Item::Comment(text),
                Some(SseItem::Retry(_)) => {}
                None if self.ended => return Item::End,
                None => {
                    let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                        .await
                        .expect("an SSE item in time");
                    match chunk {
                        Ok(Some(bytes)) => self.parser.push(&bytes),
                        Ok(None) | Err(_) => self.ended = true,
                    }
                }
            }
        }
    }

    /// The next `n` events, skipping comments.
    pub async fn take(&mut self, n: usize) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        while events.len() < n {
            match self.next().await {
                Item::Event(id, data) => events.push((id, data)),
                Item::Comment(_) => {}
                Item::End => panic!("the stream ended after {events:?}"),
            }
        }
        events
    }

    /// The events before the next keep-alive comment: when the consumer
    /// connected after the commits of interest, exactly those that match.
    pub async fn until_keepalive(&mut self) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        loop {
            match self.next().await {
                Item::Event(id, data) => events.push((id, data)),
                Item::Comment(text) => {
                    assert_eq!(text, "keep-alive");
                    return events;
                }
                Item::End => panic!("the stream ended after {events:?}"),
            }
        }
    }

    /// Reads until the response ends; fails on any event.
    pub async fn expect_end(&mut self) {
        loop {
            match self.next().await {
                Item::End => return,
                Item::Comment(_) => {}
                Item::Event(id, data) => panic!("expected the end, got {id} {data}"),
            }
        }
    }
}

/// The ids of `events`.
pub fn ids(events: &[(String, Value)]) -> Vec<String> {
    events.iter().map(|(id, _)| id.clone()).collect()
}
