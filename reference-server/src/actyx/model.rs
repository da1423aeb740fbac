//! Actyx's identifiers and events: node ids, stream ids, event keys, and how an event is stored and sent.
//!
//! Node ids are 32 bytes written in base64 with the order-preserving "crypt"
//! alphabet (`./0-9A-Za-z`, no padding: 43 characters), as the Actyx node
//! writes them; a stream id is `<node id>-<stream number>`. Events sort by
//! lamport, then stream id (node id bytes, then stream number), then offset.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::alphabet::CRYPT;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

use axum::body::Bytes;

use crate::store::Record;

const NODE_ID_BASE64: GeneralPurpose = GeneralPurpose::new(
    &CRYPT,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 32]);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&NODE_ID_BASE64.encode(self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bytes = NODE_ID_BASE64
            .decode(text)
            .map_err(|e| format!("{text:?} is not a node id: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{text:?} is not a node id: it must encode 32 bytes"))?;
        Ok(NodeId(bytes))
    }
}

/// One stream of events, written by one node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub node: NodeId,
    pub nr: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.node, self.nr)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({self})")
    }
}

impl FromStr for StreamId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (node, nr) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a stream id: expected <node id>-<number>"))?;
        let nr = nr
            .parse()
            .map_err(|_| format!("{text:?} is not a stream id: {nr:?} is not a stream number"))?;
        Ok(StreamId {
            node: node.parse()?,
            nr,
        })
    }
}

impl Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where an event sorts: lamport, then stream, then offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub lamport: u64,
    pub stream: StreamId,
    pub offset: u64,
}

impl EventKey {
    pub fn to_json(self) -> Value {
        json!({"stream": self.stream, "lamport": self.lamport, "offset": self.offset})
    }
}

/// What a log record holds; the stream and offset come from where it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub lamport: u64,
    pub tags: Vec<String>,
    pub app_id: String,
    pub payload: Value,
}

/// An event as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub key: EventKey,
    /// Microseconds since the Unix epoch.
    pub timestamp: u64,
    pub tags: Vec<String>,
    pub app_id: String,
    pub payload: Value,
    /// The event's own line, once a feed has rendered it ([`Event::shared_line`]).
    /// Events are shared unchanged once rendered; a clone starts empty.
    pub line_cache: LineCache,
}

/// The log stream that holds an Actyx stream; position = offset + 1.
pub fn log_stream(stream: &StreamId) -> String {
    format!("actyx.{stream}")
}

impl Event {
    pub fn from_record(stream: StreamId, record: &Record) -> Result<Self, String> {
        let stored: Stored = serde_json::from_slice(&record.payload).map_err(|e| {
            format!(
                "stored Actyx event {stream}@{} is corrupt: {e}",
                record.position
            )
        })?;
        Ok(Event {
            key: EventKey {
                lamport: stored.lamport,
                stream,
                offset: record.position - 1,
            },
            timestamp: record.timestamp_micros,
            tags: stored.tags,
            app_id: stored.app_id,
            payload: stored.payload,
            line_cache: LineCache::default(),
        })
    }

    /// The `event` line, with `payload` replaced by what the query computed.
    pub fn line(&self, payload: &Value, caught_up: Option<bool>) -> Map<String, Value> {
        let mut line = Map::new();
        line.insert("type".into(), json!("event"));
        line.insert("lamport".into(), json!(self.key.lamport));
        line.insert("stream".into(), json!(self.key.stream));
        line.insert("offset".into(), json!(self.key.offset));
        line.insert("timestamp".into(), json!(self.timestamp));
        line.insert("tags".into(), json!(self.tags));
        line.insert("appId".into(), json!(self.app_id));
        line.insert("payload".into(), payload.clone());
        if let Some(caught_up) = caught_up {
            line.insert("caughtUp".into(), json!(caught_up));
        }
        line
    }
}

/// Where an [`Event`] keeps its rendered line. It is not part of the event's
/// value: clones start empty and every two caches compare equal.
#[derive(Default)]
pub struct LineCache(OnceLock<Bytes>);

impl LineCache {
    /// The line, rendered by `render` on first use (see [`super::line`]).
    pub fn get_or_init(&self, render: impl FnOnce() -> Bytes) -> &Bytes {
        self.0.get_or_init(render)
    }
}

impl Clone for LineCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for LineCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for LineCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "LineCache(rendered)"
        } else {
            "LineCache(empty)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example_stream_id_parses_and_prints_back() {
        let text = "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s-2";
        let stream: StreamId = text.parse().unwrap();
        assert_eq!(stream.nr, 2);
        assert_eq!(stream.to_string(), text);
        assert_eq!(stream.node.to_string().len(), 43);
    }

    #[test]
    fn node_id_text_sorts_as_its_bytes() {
        let a = NodeId([0; 32]);
        let mut bytes = [0; 32];
        bytes[31] = 1;
        let b = NodeId(bytes);
        bytes[0] = 0xff;
        let c = NodeId(bytes);
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
    }

    #[test]
    fn stream_numbers_sort_as_numbers() {
        let node = NodeId([7; 32]);
        let two = StreamId { node, nr: 2 };
        let ten = StreamId { node, nr: 10 };
        assert!(two < ten);
    }

    #[test]
    fn malformed_stream_ids_are_refused() {
        for bad in [
            "",
            "abc",
            "abc-1",
            "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s-x",
            "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s",
        ] {
            assert!(bad.parse::<StreamId>().is_err(), "{bad}");
        }
    }
}
