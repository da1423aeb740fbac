//! A small XRPC client and a firehose reader for the AT Protocol tests, speaking to the server over real sockets.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;
use wire::cbor::{DecodeLimits, Value};
use wire::frame::{Frame, decode_frame};

use crate::support::CONTROL_TOKEN;

/// The XRPC side of a server.
#[derive(Debug, Clone)]
pub struct Pds {
    pub base: String,
    http: reqwest::Client,
}

/// An account's DID and access token.
#[derive(Debug, Clone)]
pub struct Session {
    pub did: String,
    pub access: String,
}

impl Pds {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `POST /xrpc/{method}` with a JSON body and an optional bearer token.
    pub async fn post(&self, method: &str, token: Option<&str>, body: &Json) -> (StatusCode, Json) {
        let mut request = self
            .http
            .post(format!("{}/xrpc/{method}", self.base))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("XRPC call");
        let status = response.status();
        (status, response.json().await.unwrap_or(Json::Null))
    }

    /// `GET {path}` (path includes `/xrpc/…?…` or `/_plc/…`).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Json) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Json::Null))
    }

    pub async fn create_account(&self, handle: &str) -> Session {
        let (status, body) = self
            .post(
                "com.atproto.server.createAccount",
                None,
                &json!({"handle": handle, "password": "secret-password", "email": format!("{handle}@example.com")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session {
            did: body["did"].as_str().unwrap().to_owned(),
            access: body["accessJwt"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a record and returns the answer (`uri`, `cid`, `commit`).
    pub async fn create_record(&self, session: &Session, collection: &str, record: Json) -> Json {
        let (status, body) = self
            .post(
                "com.atproto.repo.createRecord",
                Some(&session.access),
                &json!({"repo": session.did, "collection": collection, "record": record}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST /_control/atproto/{path}`.
    pub async fn control(&self, path: &str, body: &Json) -> (StatusCode, Json) {
        let response = self
            .http
            .post(format!("{}/_control/atproto/{path}", self.base))
            .bearer_auth(CONTROL_TOKEN)
            .json(body)
            .send()
            .await
            .expect("control call");
        let status = response.status();
        (status, response.json().await.unwrap_or(Json::Null))
    }
}

/// One received WebSocket message.
#[derive(Debug, Clone)]
pub enum Received {
    Frame(Frame),
    Ping,
    Closed,
}

/// A subscription to `subscribeRepos` or `subscribeLabels`.
#[derive(Debug)]
pub struct Firehose {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

pub const REPOS: &str = "com.atproto.sync.subscribeRepos";
pub const LABELS: &str = "com.atproto.label.subscribeLabels";

impl Firehose {
    pub async fn connect(base: &str, method: &str, cursor: Option<u64>) -> Self {
        let ws_base = base.replacen("http://", "ws://", 1);
        let url = match cursor {
            Some(cursor) => format!("{ws_base}/xrpc/{method}?cursor={cursor}"),
            None => format!("{ws_base}/xrpc/{method}"),
        };
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket connect");
        Self { ws }
    }

    /// The next message within `wait`, or `None` when nothing came.
    pub async fn receive(&mut self, wait: Duration) -> Option<Received> {
        loop {
            let message = match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return None,
                Ok(None | Some(Err(_))) => return Some(Received::Closed),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Binary(bytes) => {
                    let frame = decode_frame(&bytes, &DecodeLimits::default())
                        .unwrap_or_else(|e| panic!("a strict DAG-CBOR frame: {e}"));
                    return Some(Received::Frame(frame));
                }
                Message::Ping(_) => return Some(Received::Ping),
                Message::Close(_) => return Some(Received::Closed),
                _ => {}
            }
        }
    }

    /// The next frame (skipping pings), panicking after 5 s or on a close.
    pub async fn frame(&mut self) -> Frame {
        loop {
            match self.receive(Duration::from_secs(5)).await {
                Some(Received::Frame(frame)) => return frame,
                Some(Received::Ping) => {}
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// The next `n` frames.
    pub async fn frames(&mut self, n: usize) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            frames.push(self.frame().await);
        }
        frames
    }

    /// Sends a WebSocket ping and waits for its pong (frames in between are skipped).
    pub async fn ping(&mut self, payload: &[u8]) -> bool {
        use futures_util::SinkExt;
        self.ws
            .send(Message::Ping(payload.to_vec().into()))
            .await
            .expect("ping sent");
        let wait = async {
            while let Some(Ok(message)) = self.ws.next().await {
                if let Message::Pong(got) = message {
                    return got.as_ref() == payload;
                }
            }
            false
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or(false)
    }

    /// Asserts that no frame arrives within `quiet`.
    pub async fn expect_quiet(&mut self, quiet: Duration) {
        if let Some(Received::Frame(frame)) = self.receive(quiet).await {
            panic!("expected no frame, got {frame:?}");
        }
    }

    /// Asserts that the server closes the connection (after any frames already sent).
    pub async fn expect_close(&mut self) {
        loop {
            match self.receive(Duration::from_secs(5)).await {
                Some(Received::Closed) => return,
                Some(Received::Ping) => {}
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }
}

/// `seq` of a frame body.
pub fn seq(frame: &Frame) -> u64 {
    frame
        .body
        .get("seq")
        .and_then(Value::as_i64)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or_else(|| panic!("a seq in {frame:?}"))
}

/// The message type of a frame (`#commit`, …), or `error` for an error frame.
pub fn kind(frame: &Frame) -> &str {
    frame.header.t.as_deref().unwrap_or("error")
}

pub fn text<'a>(frame: &'a Frame, field: &str) -> &'a str {
    frame
        .body
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a text {field} in {frame:?}"))
}
