//! The Fibric envelope stream over real sockets: list, stream, filters, cursors, tenancy, keep-alive, slow consumers.

mod list;
mod resume;
mod slow;
mod stream;

use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::{Running, start};
use serde_json::{Value, json};

use crate::support::{CONTROL_TOKEN, SseReader, client};

pub const KEY_A: &str = "sk_test_tenant_a";
pub const KEY_B: &str = "sk_test_tenant_b";
pub const WAIT: Duration = Duration::from_secs(5);

pub async fn server() -> Running {
    server_with(|_| {}).await
}

pub async fn server_with(adjust: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::ephemeral();
    config.fibric.keepalive = Duration::from_secs(30);
    adjust(&mut config);
    start(config).await.expect("start server")
}

/// An envelope for tenant `tn_a` with the given type and source.
pub fn envelope(event_type: &str, source: &str) -> Value {
    json!({"tenant_id": "tn_a", "event_type": event_type, "source": source, "payload": {"n": event_type}})
}

/// Appends envelopes through the control API; returns each one's (event_id, cursor).
pub async fn append(base_url: &str, envelopes: Vec<Value>) -> Vec<(String, String)> {
    let response = client()
        .post(format!("{base_url}/_control/fibric/envelopes"))
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({ "envelopes": envelopes }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["cursor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `GET /v1/events?{query}` as tenant A; returns the status and the body.
pub async fn list(base_url: &str, key: &str, query: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{base_url}/v1/events?{query}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Opens `GET /v1/events/stream?{query}` and checks it was accepted.
pub async fn open(
    base_url: &str,
    key: &str,
    query: &str,
    last_event_id: Option<&str>,
) -> SseReader {
    let mut request = client_without_timeout()
        .get(format!("{base_url}/v1/events/stream?{query}"))
        .bearer_auth(key)
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.headers());
    SseReader::new(response)
}

/// Streams outlive any fixed request timeout.
pub fn client_without_timeout() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// The JSON envelope an SSE event carries.
pub fn data(event: &wire::sse::SseEvent) -> Value {
    serde_json::from_str(&event.data).expect("JSON data")
}

pub fn event_types(events: &[wire::sse::SseEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| data(e)["event_type"].as_str().unwrap().to_owned())
        .collect()
}
