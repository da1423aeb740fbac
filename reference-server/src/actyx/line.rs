//! The NDJSON lines of query and subscribe bodies; an event's own line is rendered once and shared.
//!
//! A hundred subscribers to one tag send the same line for every event; only
//! `caughtUp` (monotonic subscriptions) differs between them. So the line
//! without `caughtUp` is rendered the first time a feed needs it, kept in the
//! shared [`Event`], and copied into each feed's body; a feed that needs
//! `caughtUp` writes it in place of the closing brace. Feeds whose query
//! changes the payload (`FILTER`, `SELECT`) render their own lines with
//! [`event_line`]. The shared rendering writes the fields in the order
//! [`Event::line`] inserts them, so both give the same bytes (see the tests).

use std::collections::BTreeMap;

use axum::body::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use super::aql::eval::Output;
use super::model::{Event, EventKey, LineCache, NodeId, StreamId};

/// The fields of an `event` line, in the order the node writes them.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    lamport: u64,
    stream: &'a StreamId,
    offset: u64,
    timestamp: u64,
    tags: &'a [String],
    #[serde(rename = "appId")]
    app_id: &'a str,
    payload: &'a Value,
}

/// The closing of a line that ends with `caughtUp`, in place of `}\n`.
fn caught_up_tail(caught_up: bool) -> &'static [u8] {
    if caught_up {
        b",\"caughtUp\":true}\n"
    } else {
        b",\"caughtUp\":false}\n"
    }
}

impl Event {
    /// The event's own `event` line without `caughtUp`, newline included;
    /// rendered on first use. Shared events are never changed, so the bytes
    /// stay those of the event.
    pub fn shared_line(&self) -> &Bytes {
        self.line_cache.get_or_init(|| {
            let line = Line {
                kind: "event",
                lamport: self.key.lamport,
                stream: &self.key.stream,
                offset: self.key.offset,
                timestamp: self.timestamp,
                tags: &self.tags,
                app_id: &self.app_id,
                payload: &self.payload,
            };
            let mut out = Vec::with_capacity(256);
            // Writing plain data to a Vec cannot fail.
            serde_json::to_writer(&mut out, &line).expect("an event line serialises");
            out.push(b'\n');
            Bytes::from(out)
        })
    }

    /// Appends the event's own line to `out`, with `caughtUp` when given.
    pub fn write_shared_line(&self, caught_up: Option<bool>, out: &mut Vec<u8>) {
        let line = self.shared_line();
        match caught_up {
            None => out.extend_from_slice(line),
            Some(flag) => {
                // The line ends with `}\n`; `caughtUp` goes before the brace.
                let body = &line[..line.len().saturating_sub(2)];
                out.extend_from_slice(body);
                out.extend_from_slice(caught_up_tail(flag));
            }
        }
    }
}

/// The stream id of values that come from no event (43 dots: node id zero).
fn synthetic_stream() -> StreamId {
    StreamId {
        node: NodeId([0; 32]),
        nr: 0,
    }
}

/// Appends the `event` line of one output of a query that changes payloads.
pub fn event_line(event: &Event, output: &Output, caught_up: Option<bool>, out: &mut Vec<u8>) {
    let line = if output.synthetic {
        let empty = Event {
            key: EventKey {
                lamport: 0,
                stream: synthetic_stream(),
                offset: 0,
            },
            timestamp: 0,
            tags: Vec::new(),
            app_id: "none".to_owned(),
            payload: Value::Null,
            line_cache: LineCache::default(),
        };
        empty.line(&output.value, caught_up)
    } else {
        event.line(&output.value, caught_up)
    };
    // Writing a JSON value to a Vec cannot fail.
    serde_json::to_writer(&mut *out, &Value::Object(line)).expect("an event line serialises");
    out.push(b'\n');
}

pub fn offsets_line(offsets: &BTreeMap<StreamId, u64>) -> String {
    let map: serde_json::Map<String, Value> = offsets
        .iter()
        .map(|(s, o)| (s.to_string(), json!(o)))
        .collect();
    format!("{}\n", json!({"type": "offsets", "offsets": map}))
}

pub fn diagnostic_line(severity: &str, message: &str) -> String {
    format!(
        "{}\n",
        json!({"type": "diagnostic", "severity": severity, "message": message})
    )
}

/// The line that ends a monotonic subscription at an event sorting at or before one it sent.
pub fn time_travel_line(key: EventKey) -> String {
    let line = json!({"type": "timeTravel", "newStart": {
        "lamport": key.lamport,
        "stream": key.stream,
        "offset": key.offset,
    }});
    format!("{line}\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::actyx::model::{EventKey, NodeId};

    fn event(tags: &[&str], app_id: &str, payload: Value) -> Event {
        Event {
            key: EventKey {
                lamport: 12_345_678_901,
                stream: StreamId {
                    node: NodeId([0xa5; 32]),
                    nr: 7,
                },
                offset: 42,
            },
            timestamp: 1_700_000_000_123_456,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            app_id: app_id.to_owned(),
            payload,
            line_cache: LineCache::default(),
        }
    }

    /// What the feeds sent before lines were shared: the map of [`Event::line`], serialised.
    fn reference(event: &Event, caught_up: Option<bool>) -> Vec<u8> {
        let mut text = Value::Object(event.line(&event.payload, caught_up)).to_string();
        text.push('\n');
        text.into_bytes()
    }

    fn shared(event: &Event, caught_up: Option<bool>) -> Vec<u8> {
        let mut out = Vec::new();
        event.write_shared_line(caught_up, &mut out);
        out
    }

    #[test]
    fn the_shared_line_is_byte_for_byte_the_event_line() {
        let events = [
            event(&[], "com.example.app", json!(null)),
            event(&["plain"], "com.example.app", json!(0)),
            event(
                &["quote\"back\\slash", "tab\tnew\nline", "\u{1}\u{1f}\u{7f}"],
                "com.example.ünïcødé/😀",
                json!({
                    "z": "last key first",
                    "a": ["\u{2028}\u{2029}", "日本語", "\"</script>\"", -1.5e300, 0.1, -0],
                    "nested": {"empty": {}, "list": [], "bool": true, "null": null},
                    "big": u64::MAX,
                    "neg": i64::MIN,
                }),
            ),
            event(&["ß", "🎉 party"], "a\"b", json!("just a \u{0} string")),
        ];
        for event in &events {
            for caught_up in [None, Some(true), Some(false)] {
                // Twice: the first call renders, the second uses the cache.
                for _ in 0..2 {
                    assert_eq!(
                        String::from_utf8(shared(event, caught_up)).unwrap(),
                        String::from_utf8(reference(event, caught_up)).unwrap(),
                        "{event:?} caughtUp {caught_up:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_clone_renders_its_own_line_and_compares_equal() {
        let original = event(&["t"], "a", json!({"k": 1}));
        original.shared_line();
        let mut changed = original.clone();
        assert_eq!(changed, original);
        changed.payload = json!({"k": 2});
        assert_eq!(shared(&changed, None), reference(&changed, None));
    }
}
