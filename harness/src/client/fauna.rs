//! Fauna event streaming (seed 000): FQL queries, event sources, and the stream body that resumes from a cursor.

use serde_json::{Value, json};

pub const QUERY: &str = "/query/1";
pub const STREAM: &str = "/stream/1";
/// The answer format the harness asks for: tagged, so documents and event
/// sources say what they are (`@doc`, `@stream`).
pub const FORMAT: (&str, &str) = ("x-format", "tagged");

/// A `/query/1` body for FQL `text`.
pub fn query(text: &str) -> Value {
    json!({"query": {"fql": [text]}})
}

/// The FQL making an event source of `set`, such as `Product.all()`.
pub fn event_source(set: &str) -> String {
    format!("{set}.eventSource()")
}

/// The event-source token in a query's `data`.
pub fn stream_token(data: &Value) -> Option<&str> {
    data.get("@stream").and_then(Value::as_str)
}

/// A `/stream/1` body for the event source `token`, resuming after `cursor` when given.
pub fn stream(token: &str, cursor: Option<&str>) -> Value {
    let mut body = json!({"token": token});
    if let Some(cursor) = cursor {
        body["cursor"] = json!(cursor);
    }
    body
}

/// The cursor an event line carries: every event, status events included,
/// says how far the stream has gone.
pub fn cursor(event: &Value) -> Option<&str> {
    event["cursor"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_body_resumes_after_its_cursor() {
        assert_eq!(stream("T", None), json!({"token": "T"}));
        assert_eq!(stream("T", Some("C")), json!({"token": "T", "cursor": "C"}));
        assert_eq!(stream_token(&json!({"@stream": "T"})), Some("T"));
        assert_eq!(stream_token(&json!({"@doc": {}})), None);
        assert_eq!(cursor(&json!({"type": "status", "cursor": "C"})), Some("C"));
    }
}
