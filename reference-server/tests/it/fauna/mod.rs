//! Fauna over real sockets: the FQL subset, tokens, `/stream/1` framing, set semantics, replay rules and limits, feeds, restarts, h2c.

mod control;
mod feed;
mod query;
mod restart;
mod stream;

use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::{Running, start};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const SECRET: &str = "fauna_test_secret";
pub const OTHER_SECRET: &str = "fauna_test_secret_2";
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Fauna {
    pub base: String,
    pub http: reqwest::Client,
}

impl Fauna {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .connect_timeout(WAIT)
                .build()
                .unwrap(),
        }
    }

    /// `POST /query/1` with FQL text, as a driver sends it.
    pub async fn query_as(&self, secret: &str, fql: &str) -> Response {
        send(
            self.http
                .post(format!("{}/query/1", self.base))
                .bearer_auth(secret)
                .header("x-format", "tagged")
                .json(&json!({"query": {"fql": [fql]}, "arguments": {}})),
        )
        .await
    }

    /// A query that must succeed; its `data`.
    pub async fn query(&self, fql: &str) -> Value {
        let response = self.query_as(SECRET, fql).await;
        assert_eq!(response.status(), StatusCode::OK, "{fql}");
        let body: Value = response.json().await.unwrap();
        body["data"].clone()
    }

    /// Creates a document; its id.
    pub async fn create(&self, collection: &str, fields: &str) -> String {
        let doc = self.query(&format!("{collection}.create({fields})")).await;
        doc["@doc"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn update(&self, collection: &str, id: &str, fields: &str) {
        self.query(&format!("{collection}.byId(\"{id}\")!.update({fields})"))
            .await;
    }

    pub async fn delete(&self, collection: &str, id: &str) {
        self.query(&format!("{collection}.byId(\"{id}\")!.delete()"))
            .await;
    }

    /// An event source token from FQL.
    pub async fn token(&self, fql: &str) -> String {
        let data = self.query(fql).await;
        data["@stream"]
            .as_str()
            .expect("an @stream token")
            .to_owned()
    }

    pub async fn stream_as(&self, secret: &str, body: Value) -> Response {
        send(
            self.http
                .post(format!("{}/stream/1", self.base))
                .bearer_auth(secret)
                .json(&body),
        )
        .await
    }

    pub async fn stream(&self, body: Value) -> Events {
        let response = self.stream_as(SECRET, body).await;
        assert_eq!(response.status(), StatusCode::OK);
        Events::new(response)
    }

    pub async fn feed(&self, body: Value) -> Response {
        send(
            self.http
                .post(format!("{}/feed/1", self.base))
                .bearer_auth(SECRET)
                .json(&body),
        )
        .await
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Response {
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("the server answered in time")
        .expect("request sent")
}

/// An in-process server with a 300 ms status interval and an `Orders` collection.
pub async fn server() -> (Running, Fauna) {
    let mut config = Config::ephemeral();
    config.fauna.status_interval = Duration::from_millis(300);
    let running = start(config).await.unwrap();
    let fauna = Fauna::new(&running.base_url());
    fauna
        .query(r#"Collection.create({ name: "Orders" })"#)
        .await;
    (running, fauna)
}

/// The events of a `/stream/1` response: each line is checked to end in `\r\n` and hold one JSON object.
pub struct Events {
    response: Response,
    buffer: Vec<u8>,
    pub ended: bool,
}

impl Events {
    pub fn new(response: Response) -> Self {
        Self {
            response,
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// The next event, or `None` if the stream ended or nothing came within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = std::str::from_utf8(&line[..end]).expect("utf-8");
                assert!(!text.is_empty(), "blank lines break both drivers");
                assert!(!text.contains('\n'), "one object per line: {text:?}");
                let value: Value = serde_json::from_str(text).expect("each line is JSON");
                assert_eq!(text, value.to_string(), "compact JSON");
                return Some(value);
            }
            if self.ended {
                assert!(
                    self.buffer.is_empty(),
                    "the stream ended inside a line: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                );
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(WAIT)
            .await
            .expect("an event within the wait")
    }

    /// The next event that is not `status`.
    pub async fn next_data(&mut self) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] != "status" {
                return event;
            }
        }
    }
}

/// `(type, id)` of a data event.
pub fn kind_and_id(event: &Value) -> (String, String) {
    (
        event["type"].as_str().unwrap().to_owned(),
        event["data"]["@doc"]["id"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// Asserts a protocol error body: status, `{error: {code, message}}` and nothing else.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}
