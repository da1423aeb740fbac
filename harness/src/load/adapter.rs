//! How the load engine publishes to and subscribes on each API, with a marker in every payload.
//!
//! The marker is the run id and the event's number `k`: in the payload
//! (`{"load": RUN, "k": K}`) where the API carries one, in the record key
//! (`ld-K`, in an account made for the run) on the AT Protocol. Readers decode
//! with the same size limits as the checks, and read nothing they do not need
//! to find the marker.

use std::time::Duration;

use futures_util::stream::{BoxStream, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wire::cbor::{DecodeLimits, Value as Cbor};
use wire::frame::decode_frame;
use wire::jsonl::LineSplitter;
use wire::sse::{SseItem, SseLimits, SseParser};

use scenarios::Api;

/// One frame (SSE event or comment, line, WebSocket message) a subscriber read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub bytes: usize,
    /// `k` when the frame is an event of this run.
    pub marker: Option<u64>,
}

/// A subscriber's frames, ending with an error or the end of the stream.
pub type Frames = BoxStream<'static, Result<Frame, String>>;

/// The longest line or message a load subscriber reads.
const MAX_FRAME: usize = 4 << 20;
/// How long a publish or a connect may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The collection the AT Protocol load writes to.
const COLLECTION: &str = "com.example.harness.record";

/// What an adapter needs to reach the target.
#[derive(Debug, Clone)]
pub struct Access {
    pub base: String,
    /// Where subscribers connect: `base`, or a proxy in front of it.
    pub subscribe_base: String,
    pub control_token: String,
    pub fibric_key: String,
    pub fibric_tenant: String,
    pub pulse_key: String,
    pub fauna_secret: String,
    pub actyx_app_id: String,
}

/// A target's API as the load engine drives it.
#[derive(Debug)]
pub struct Adapter {
    http: reqwest::Client,
    access: Access,
    run: String,
    api: ApiState,
}

#[derive(Debug)]
enum ApiState {
    Fibric,
    /// The model the rows are written to.
    Pulse {
        model: String,
    },
    /// The collection the documents are created in, and its event source.
    Fauna {
        collection: String,
        token: String,
    },
    Actyx {
        token: String,
    },
    Atproto {
        did: String,
        jwt: String,
    },
}

/// The marker `k` of a JSON payload `{"load": run, "k": k}`.
fn payload_marker(payload: &Value, run: &str) -> Option<u64> {
    (payload["load"] == run)
        .then(|| payload["k"].as_u64())
        .flatten()
}

impl Adapter {
    /// Logs in or makes an account where the API needs one.
    pub async fn prepare(api: Api, access: Access, run: String) -> Result<Adapter, String> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?;
        let base = access.base.clone();
        let state = match api {
            Api::Fibric => ApiState::Fibric,
            Api::Pulse => {
                let model = format!("HarnessLoad_{run}");
                let declaration =
                    json!({"name": model, "primary_key": "id", "replica_identity": "default"});
                json_call(
                    http.post(format!("{base}/_control/pulse/models"))
                        .bearer_auth(&access.control_token)
                        .json(&declaration),
                )
                .await?;
                ApiState::Pulse { model }
            }
            Api::Fauna => {
                let collection = format!("HarnessLoad{run}");
                let fql = |text: String| {
                    http.post(format!("{base}/query/1"))
                        .bearer_auth(&access.fauna_secret)
                        .header("x-format", "tagged")
                        .json(&json!({"query": {"fql": [text]}}))
                };
                json_call(fql(format!(
                    "Collection.create({{ name: {} }})",
                    json!(collection)
                )))
                .await?;
                let answer = json_call(fql(format!("{collection}.all().eventSource()"))).await?;
                let token = answer["data"]["@stream"].as_str().ok_or_else(|| {
                    format!("`{collection}.all().eventSource()` answered {answer}")
                })?;
                ApiState::Fauna {
                    collection,
                    token: token.to_owned(),
                }
            }
            Api::Actyx => {
                let manifest = json!({"appId": access.actyx_app_id, "displayName": "streamcheck load", "version": "1.0"});
                let answer =
                    json_call(http.post(format!("{base}/api/v2/auth")).json(&manifest)).await?;
                let token = answer["token"]
                    .as_str()
                    .ok_or_else(|| format!("POST /api/v2/auth answered {answer}"))?;
                ApiState::Actyx {
                    token: token.to_owned(),
                }
            }
            Api::Atproto => {
                let handle = format!("ld{}.test", run.to_lowercase());
                let body = json!({"handle": handle, "password": format!("pw-{run}"), "email": format!("{handle}@example.com")});
                let answer = json_call(
                    http.post(format!("{base}/xrpc/com.atproto.server.createAccount"))
                        .json(&body),
                )
                .await?;
                match (answer["did"].as_str(), answer["accessJwt"].as_str()) {
                    (Some(did), Some(jwt)) => ApiState::Atproto {
                        did: did.to_owned(),
                        jwt: jwt.to_owned(),
                    },
                    _ => return Err(format!("createAccount answered {answer}")),
                }
            }
        };
        Ok(Adapter {
            http,
            access,
            run,
            api: state,
        })
    }

    /// Publishes event `k` and waits for the target's acknowledgement.
    pub async fn publish(&self, k: u64) -> Result<(), String> {
        let base = &self.access.base;
        let marker = json!({"load": self.run, "k": k});
        let request = match &self.api {
            ApiState::Fibric => {
                let envelope = json!({
                    "tenant_id": self.access.fibric_tenant,
                    "event_id": format!("ld_{}_{k}", self.run),
                    "event_type": "harness.load",
                    "source": "harness",
                    "payload": marker,
                });
                self.http
                    .post(format!("{base}/_control/fibric/envelopes"))
                    .bearer_auth(&self.access.control_token)
                    .json(&json!({"envelopes": [envelope]}))
            }
            ApiState::Pulse { model } => self
                .http
                .post(format!("{base}/_control/pulse/models/{model}/rows"))
                .bearer_auth(&self.access.control_token)
                .json(&json!({"action": "create", "row": {"id": format!("ld{k}"), "load": self.run, "k": k}})),
            ApiState::Fauna { collection, .. } => self
                .http
                .post(format!("{base}/query/1"))
                .bearer_auth(&self.access.fauna_secret)
                .json(&json!({"query": {"fql": [format!("{collection}.create({{ load: {}, k: {k} }})", json!(self.run))]}})),
            ApiState::Actyx { token } => self
                .http
                .post(format!("{base}/api/v2/events/publish"))
                .bearer_auth(token)
                .json(&json!({"data": [{"tags": [self.tag()], "payload": marker}]})),
            ApiState::Atproto { did, jwt } => {
                let record = json!({"$type": COLLECTION, "text": "load", "createdAt": "2026-01-01T00:00:00Z"});
                self.http
                    .post(format!("{base}/xrpc/com.atproto.repo.createRecord"))
                    .bearer_auth(jwt)
                    .json(&json!({"repo": did, "collection": COLLECTION, "rkey": format!("ld-{k}"), "record": record}))
            }
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(format!(
                "{status} {}",
                body.chars().take(200).collect::<String>()
            ))
        }
    }

    fn tag(&self) -> String {
        format!("harness.load.{}", self.run)
    }

    /// Opens one live subscription; returns once the stream has answered.
    pub async fn subscribe(&self) -> Result<Frames, String> {
        let base = &self.access.subscribe_base;
        match &self.api {
            ApiState::Fibric => {
                let request = self
                    .http
                    .get(format!("{base}/v1/events/stream?event_type=harness.load"))
                    .bearer_auth(&self.access.fibric_key)
                    .header("accept", "text/event-stream");
                let run = self.run.clone();
                Ok(sse_frames(open(request).await?, move |data| {
                    serde_json::from_str::<Value>(data)
                        .ok()
                        .and_then(|e| payload_marker(&e["payload"], &run))
                }))
            }
            ApiState::Pulse { model } => {
                let request = self
                    .http
                    .post(format!("{base}/subscribe"))
                    .bearer_auth(&self.access.pulse_key)
                    .header("accept", "text/event-stream")
                    .json(&json!({"model": model}));
                let run = self.run.clone();
                Ok(sse_frames(open(request).await?, move |data| {
                    serde_json::from_str::<Value>(data)
                        .ok()
                        .and_then(|e| payload_marker(&e["created"], &run))
                }))
            }
            ApiState::Fauna { token, .. } => {
                let request = self
                    .http
                    .post(format!("{base}/stream/1"))
                    .bearer_auth(&self.access.fauna_secret)
                    .json(&json!({"token": token}));
                let run = self.run.clone();
                Ok(line_frames(open(request).await?, move |line| {
                    let event: Value = serde_json::from_slice(line).ok()?;
                    let data = &event["data"];
                    let doc = data.get("@doc").unwrap_or(data);
                    let k = doc["k"]
                        .as_u64()
                        .or_else(|| doc["k"]["@int"].as_str()?.parse().ok())?;
                    (event["type"] == "add" && doc["load"] == run.as_str()).then_some(k)
                }))
            }
            ApiState::Actyx { token } => {
                let query = format!("FROM '{}'", self.tag());
                let request = self
                    .http
                    .post(format!("{base}/api/v2/events/subscribe"))
                    .bearer_auth(token)
                    .header("accept", "application/x-ndjson")
                    .json(&json!({"query": query}));
                let run = self.run.clone();
                Ok(line_frames(open(request).await?, move |line| {
                    let line: Value = serde_json::from_slice(line).ok()?;
                    (line["type"] == "event")
                        .then(|| payload_marker(&line["payload"], &run))
                        .flatten()
                }))
            }
            ApiState::Atproto { did, .. } => self.firehose(did.clone()).await,
        }
    }

    async fn firehose(&self, did: String) -> Result<Frames, String> {
        let url = format!(
            "{}/xrpc/com.atproto.sync.subscribeRepos",
            self.access.subscribe_base
        )
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let (ws, _) = tokio::time::timeout(REQUEST_TIMEOUT, connect)
            .await
            .map_err(|_| "no WebSocket upgrade in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let prefix = format!("{COLLECTION}/ld-");
        let frames = ws.filter_map(move |message| {
            let marker = |bytes: &[u8]| -> Option<u64> {
                let frame = decode_frame(bytes, &DecodeLimits::default()).ok()?;
                if frame.body.get("repo").and_then(Cbor::as_str) != Some(did.as_str()) {
                    return None;
                }
                let ops = frame.body.get("ops").and_then(Cbor::as_array)?;
                ops.iter()
                    .filter_map(|op| op.get("path").and_then(Cbor::as_str))
                    .find_map(|path| path.strip_prefix(prefix.as_str())?.parse().ok())
            };
            let frame = match message {
                Ok(Message::Binary(bytes)) => Some(Ok(Frame {
                    bytes: bytes.len(),
                    marker: marker(&bytes),
                })),
                Ok(Message::Close(_)) => Some(Err("the server closed the firehose".to_owned())),
                Ok(_) => None,
                Err(e) => Some(Err(e.to_string())),
            };
            std::future::ready(frame)
        });
        Ok(frames.boxed())
    }
}

/// Sends a request and returns its JSON answer, or why not.
async fn json_call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("{status}: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status} {body}"))
    }
}

/// Sends a streaming request and insists on a 2xx head.
async fn open(request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    // A stream runs as long as the run: only the head has a deadline.
    let response = tokio::time::timeout(
        REQUEST_TIMEOUT,
        request.timeout(Duration::from_secs(365 * 24 * 3600)).send(),
    )
    .await
    .map_err(|_| "the stream did not answer in time".to_owned())?
    .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(format!("the stream answered {}", response.status()))
    }
}

/// SSE events and comments of a response, each with the marker `marker` finds in its data.
fn sse_frames(
    response: reqwest::Response,
    marker: impl Fn(&str) -> Option<u64> + Send + 'static,
) -> Frames {
    let limits = SseLimits {
        max_line_bytes: MAX_FRAME,
        max_event_bytes: MAX_FRAME,
    };
    let mut parser = SseParser::new(limits);
    response
        .bytes_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(|e| e.to_string())?;
            parser.push(&chunk);
            let mut frames = Vec::new();
            let mut share = chunk.len();
            while let Some(item) = parser.next_item().map_err(|e| e.to_string())? {
                let marker = match &item {
                    SseItem::Event(event) => marker(&event.data),
                    _ => None,
                };
                frames.push(Ok(Frame {
                    bytes: std::mem::take(&mut share),
                    marker,
                }));
            }
            Ok::<_, String>(frames)
        })
        .flat_map(|result| futures_util::stream::iter(result.unwrap_or_else(|e| vec![Err(e)])))
        .boxed()
}

/// Lines of a response, each with the marker `marker` finds in it; blank lines count as frames.
fn line_frames(
    response: reqwest::Response,
    marker: impl Fn(&[u8]) -> Option<u64> + Send + 'static,
) -> Frames {
    let mut splitter = LineSplitter::new(MAX_FRAME);
    response
        .bytes_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(|e| e.to_string())?;
            splitter.push(&chunk);
            let mut frames = Vec::new();
            while let Some(line) = splitter.next_line().map_err(|e| e.to_string())? {
                let bytes = line.bytes();
                frames.push(Ok(Frame {
                    bytes: bytes.len() + 1,
                    marker: marker(bytes),
                }));
            }
            Ok::<_, String>(frames)
        })
        .flat_map(|result| futures_util::stream::iter(result.unwrap_or_else(|e| vec![Err(e)])))
        .boxed()
}
