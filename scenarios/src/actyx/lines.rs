//! One NDJSON line of an Actyx feed as the harness reads it: events, `offsets`, `timeTravel`, blank keep-alives, and what a client must skip.
//!
//! The seed says clients should be prepared to ignore line types it does not
//! list, so an unknown `type` (and a `diagnostic`, which carries no event) is
//! [`FeedLine::Skipped`], never a failure of the reader. A line that is not a
//! JSON object, or an `event` without its fields, is [`FeedLine::Malformed`]:
//! a finding for the check that reads it.

use std::collections::BTreeMap;

use serde_json::Value;
use wire::jsonl::Line;

use super::order::Key;

/// An `event` line, with what the checks compare.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    pub key: Key,
    pub timestamp: u64,
    pub tags: Vec<String>,
    pub app_id: String,
    pub payload: Value,
    /// `caughtUp`, when the line has it (subscribe_monotonic); `Some(None)` when present but not a boolean.
    pub caught_up: Option<Option<bool>>,
}

/// What one line says.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedLine {
    Event(EventLine),
    /// `{type: offsets, offsets: {stream: offset}}`.
    Offsets(BTreeMap<String, u64>),
    /// `{type: timeTravel, newStart: {stream, lamport, offset}}`.
    TimeTravel(Key),
    /// `{code, message}`: the stream ended with an error.
    Error {
        code: String,
        message: String,
    },
    /// An empty line: a keep-alive.
    Blank,
    /// A type the reader ignores (`diagnostic`, or one the seed does not list), with the type.
    Skipped(String),
    /// Not a line of the protocol, with why.
    Malformed(String),
}

fn u64_field(object: &Value, name: &str) -> Result<u64, String> {
    object[name]
        .as_u64()
        .ok_or_else(|| format!("{name} is {}, not a non-negative integer", object[name]))
}

fn str_field(object: &Value, name: &str) -> Result<String, String> {
    object[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{name} is {}, not a string", object[name]))
}

fn key_of(object: &Value) -> Result<Key, String> {
    Ok(Key {
        lamport: u64_field(object, "lamport")?,
        stream: str_field(object, "stream")?,
        offset: u64_field(object, "offset")?,
    })
}

fn event_of(object: &Value) -> Result<EventLine, String> {
    let tags = object["tags"]
        .as_array()
        .and_then(|tags| {
            tags.iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| format!("tags is {}, not an array of strings", object["tags"]))?;
    let app_id = str_field(object, "appId")?;
    let caught_up = object.get("caughtUp").map(Value::as_bool);
    Ok(EventLine {
        key: key_of(object)?,
        timestamp: u64_field(object, "timestamp")?,
        tags,
        app_id,
        payload: object.get("payload").cloned().unwrap_or(Value::Null),
        caught_up,
    })
}

fn offsets_of(object: &Value) -> Result<BTreeMap<String, u64>, String> {
    let map = object["offsets"]
        .as_object()
        .ok_or_else(|| format!("offsets is {}, not an object", object["offsets"]))?;
    map.iter()
        .map(|(stream, offset)| {
            offset
                .as_u64()
                .map(|o| (stream.clone(), o))
                .ok_or_else(|| format!("the offset of {stream} is {offset}, not an integer"))
        })
        .collect()
}

/// Decodes one JSON value of a feed.
pub fn decode_value(value: &Value) -> FeedLine {
    if !value.is_object() {
        return FeedLine::Malformed(format!("{value} is not a JSON object"));
    }
    let result = match value.get("type").and_then(Value::as_str) {
        Some("event") => event_of(value).map(FeedLine::Event),
        Some("offsets") => offsets_of(value).map(FeedLine::Offsets),
        Some("timeTravel") => key_of(&value["newStart"])
            .map(FeedLine::TimeTravel)
            .map_err(|e| format!("timeTravel newStart: {e}")),
        Some(other) => Ok(FeedLine::Skipped(other.to_owned())),
        None => match (value["code"].as_str(), value["message"].as_str()) {
            (Some(code), Some(message)) => Ok(FeedLine::Error {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            _ => Err("a line with neither a type nor {code, message}".to_owned()),
        },
    };
    result.unwrap_or_else(|why| FeedLine::Malformed(format!("{why}: {value}")))
}

/// Decodes one line of a feed.
pub fn decode(line: &Line) -> FeedLine {
    match line.parse_json() {
        None => FeedLine::Blank,
        Some(Ok(value)) => decode_value(&value),
        Some(Err(error)) => FeedLine::Malformed(format!(
            "not JSON ({error}): {}",
            String::from_utf8_lossy(line.bytes())
                .chars()
                .take(200)
                .collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wire::jsonl::LineSplitter;

    use super::*;

    fn lines_of(text: &str) -> Vec<FeedLine> {
        let mut splitter = LineSplitter::new(1 << 16);
        splitter.push(text.as_bytes());
        let mut out = Vec::new();
        while let Some(line) = splitter.next_line().unwrap() {
            out.push(decode(&line));
        }
        out
    }

    const STREAM: &str = "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s-2";

    #[test]
    fn the_seed_examples_decode() {
        let event = json!({"type": "event", "lamport": 28, "stream": STREAM, "offset": 4,
            "timestamp": 1_622_108_806_233_884_u64, "tags": ["tag-01", "tag-02"],
            "appId": "com.example.app", "payload": {"value": 2}, "caughtUp": true});
        let FeedLine::Event(line) = decode_value(&event) else {
            panic!("not an event")
        };
        assert_eq!(line.key.lamport, 28);
        assert_eq!(line.key.offset, 4);
        assert_eq!(line.caught_up, Some(Some(true)));
        assert_eq!(line.app_id, "com.example.app");
        assert_eq!(
            decode_value(&json!({"type": "offsets", "offsets": {STREAM: 49}})),
            FeedLine::Offsets([(STREAM.to_owned(), 49)].into())
        );
        let travel = json!({"type": "timeTravel", "newStart": {"stream": STREAM, "lamport": 3, "offset": 0}});
        assert!(matches!(decode_value(&travel), FeedLine::TimeTravel(k) if k.lamport == 3));
        assert!(matches!(
            decode_value(&json!({"code": "ERR_INTERNAL", "message": "m"})),
            FeedLine::Error { .. }
        ));
    }

    /// Unknown types and diagnostics are skipped, not failures, and reading goes on after them.
    #[test]
    fn unknown_line_types_and_diagnostics_are_skipped() {
        let text = format!(
            "{}\n{}\n\n{}\r\n{}\n",
            json!({"type": "diagnostic", "severity": "warning", "message": "m"}),
            json!({"type": "somethingNew", "whatever": [1, 2]}),
            json!({"type": "future", "lamport": "not a number"}),
            json!({"type": "offsets", "offsets": {}}),
        );
        assert_eq!(
            lines_of(&text),
            vec![
                FeedLine::Skipped("diagnostic".into()),
                FeedLine::Skipped("somethingNew".into()),
                FeedLine::Blank,
                FeedLine::Skipped("future".into()),
                FeedLine::Offsets(BTreeMap::new()),
            ]
        );
    }

    #[test]
    fn broken_lines_are_malformed_not_panics() {
        for text in [
            "not json\n",
            "[1]\n",
            "{\"type\": \"event\", \"lamport\": -1}\n",
            "{\"type\": \"offsets\", \"offsets\": {\"s\": \"x\"}}\n",
            "{\"type\": \"timeTravel\"}\n",
            "{}\n",
        ] {
            assert!(
                matches!(lines_of(text)[..], [FeedLine::Malformed(_)]),
                "{text}"
            );
        }
    }
}
