//! The Actyx Events API v2 (seed 003): login, the event paths, publish and subscribe bodies, and the offset map a subscription resumes from.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// `POST` an app manifest here for a bearer token.
pub const AUTH: &str = "/api/v2/auth";
/// The media type of query and subscription feeds.
pub const NDJSON: &str = "application/x-ndjson";

/// The path of an events endpoint: `events("publish")` is `/api/v2/events/publish`.
pub fn events(endpoint: &str) -> String {
    format!("/api/v2/events/{endpoint}")
}

/// The app manifest a login posts. A `com.example.*` app id needs no
/// signature on a real node; `display_name` says which part of the harness asks.
pub fn manifest(app_id: &str, display_name: &str) -> Value {
    json!({"appId": app_id, "displayName": display_name, "version": "1.0"})
}

/// The token of a login's answer: a `200` with a non-empty `token`.
pub fn token(status: u16, answer: &Value) -> Option<&str> {
    answer["token"]
        .as_str()
        .filter(|token| status == 200 && !token.is_empty())
}

/// A publish body: one event per `(tags, payload)`.
pub fn publish(events: impl IntoIterator<Item = (Value, Value)>) -> Value {
    let data: Vec<Value> = events
        .into_iter()
        .map(|(tags, payload)| json!({"tags": tags, "payload": payload}))
        .collect();
    json!({"data": data})
}

/// The position a query or subscription resumes after: per stream, the
/// highest offset read (`lowerBound` is exclusive).
pub type OffsetMap = BTreeMap<String, u64>;

/// Moves `map` past `offset` of `stream`; an older offset leaves it as it is.
pub fn advance(map: &mut OffsetMap, stream: &str, offset: u64) {
    match map.get_mut(stream) {
        Some(seen) => *seen = (*seen).max(offset),
        None => {
            map.insert(stream.to_owned(), offset);
        }
    }
}

/// A subscription body for `query`, after `lower_bound` when given.
pub fn subscribe(query: &str, lower_bound: Option<&OffsetMap>) -> Value {
    let mut body = json!({"query": query});
    if let Some(bound) = lower_bound {
        body["lowerBound"] = json!(bound);
    }
    body
}

/// The `present` offsets of a `GET events/offsets` answer.
pub fn present(answer: &Value) -> Result<OffsetMap, String> {
    serde_json::from_value(answer["present"].clone())
        .map_err(|e| format!("GET /api/v2/events/offsets answered {answer}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_needs_a_200_and_a_non_empty_string() {
        assert_eq!(token(200, &json!({"token": "t"})), Some("t"));
        assert_eq!(token(200, &json!({"token": ""})), None);
        assert_eq!(token(401, &json!({"token": "t"})), None);
        assert_eq!(token(200, &json!({"code": "ERR"})), None);
    }

    #[test]
    fn the_offset_map_keeps_the_highest_offset_per_stream() {
        let mut map = OffsetMap::new();
        advance(&mut map, "a-0", 4);
        advance(&mut map, "a-0", 2);
        advance(&mut map, "b-1", 0);
        assert_eq!(map, OffsetMap::from([("a-0".into(), 4), ("b-1".into(), 0)]));
        assert_eq!(
            subscribe("FROM 'x'", Some(&map)),
            json!({"query": "FROM 'x'", "lowerBound": {"a-0": 4, "b-1": 0}})
        );
        assert_eq!(subscribe("FROM 'x'", None), json!({"query": "FROM 'x'"}));
    }
}
