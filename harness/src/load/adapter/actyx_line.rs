//! A load subscriber's reading of an Actyx event line: only the fields it needs, borrowed, with the full JSON reading kept for lines that do not fit.
//!
//! At a hundred subscribers a load run reads hundreds of thousands of lines a
//! second on the same cores as the server it measures, so the common line
//! must not become a `serde_json::Value` (an ordered map per line and per
//! payload). A line the fast reading refuses, say a `timestamp` that is not an
//! integer, goes through the full reading and comes out the same as before.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::frames::{Event, Step, micros_time};
use super::json_events::Object;

/// The fields of a line a load subscriber reads.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    timestamp: Option<u64>,
    #[serde(borrow)]
    stream: Option<Cow<'a, str>>,
    offset: Option<u64>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// A payload `{"load": run, "k": k}`.
#[derive(Deserialize)]
struct Marker<'a> {
    #[serde(borrow)]
    load: Cow<'a, str>,
    k: u64,
}

/// The event and the offset step of one line; neither for a line that is not an event.
pub(super) fn read(line: &[u8], run: &str) -> (Option<Event>, Option<Step>) {
    match serde_json::from_slice::<Object<Line>>(line) {
        Ok(Object(fast)) => {
            if fast.kind != "event" {
                return (None, None);
            }
            let marker = fast
                .payload
                .and_then(|raw| serde_json::from_str::<Object<Marker>>(raw.get()).ok())
                .map(|Object(marker)| marker)
                .filter(|m| m.load == run)
                .map(|m| m.k);
            let event = Event {
                marker,
                at: fast.timestamp.map(micros_time),
            };
            let step = fast
                .stream
                .zip(fast.offset)
                .map(|(stream, offset)| Step::Offset(stream.into_owned(), offset));
            (Some(event), step)
        }
        Err(_) => read_value(line, run),
    }
}

/// The full reading: any JSON, each field taken where it has the right type.
fn read_value(line: &[u8], run: &str) -> (Option<Event>, Option<Step>) {
    let Ok(line) = serde_json::from_slice::<Value>(line) else {
        return (None, None);
    };
    if line["type"] != "event" {
        return (None, None);
    }
    let payload = &line["payload"];
    let event = Event {
        marker: (payload["load"] == run)
            .then(|| payload["k"].as_u64())
            .flatten(),
        at: line["timestamp"].as_u64().map(micros_time),
    };
    let step = match (line["stream"].as_str(), line["offset"].as_u64()) {
        (Some(stream), Some(offset)) => Some(Step::Offset(stream.to_owned(), offset)),
        _ => None,
    };
    (Some(event), step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &[&str] = &[
        r#"{"type":"event","lamport":3,"stream":"s-0","offset":2,"timestamp":1700000000000000,"tags":["a"],"appId":"x","payload":{"load":"run1","k":7}}"#,
        r#"{"type":"event","stream":"s\u002d0","offset":2,"timestamp":5,"payload":{"k":7,"load":"run1","extra":{"deep":[1,2,{"x":null}]}},"caughtUp":true}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":{"load":"other","k":7}}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":{"load":"run1","k":-1}}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":{"load":1,"k":7}}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":"run1"}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":[{"load":"run1","k":7}]}"#,
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5.5,"payload":{"load":"run1","k":7}}"#,
        r#"{"type":"event","stream":7,"offset":"2","payload":{"load":"run1","k":7}}"#,
        r#"{"type":"event","offset":2}"#,
        r#"{"type":"offsets","offsets":{"s-0":2}}"#,
        r#"{"type":"diagnostic","severity":"warning","message":"x"}"#,
        r#"{"offset":2}"#,
        r#"[1,2]"#,
        r#"{"type":"event","payload":{"load":"run1","k":7}"#,
        "not json",
        "",
        // Arrays, which serde's derived structs would read as their fields in order.
        r#"{"type":"event","stream":"s-0","offset":2,"timestamp":5,"payload":["run1",7]}"#,
        r#"["event",5,"s-0",2,{"load":"run1","k":7}]"#,
    ];

    #[test]
    fn the_fast_reading_agrees_with_the_full_one_on_every_line() {
        for line in LINES {
            assert_eq!(
                read(line.as_bytes(), "run1"),
                read_value(line.as_bytes(), "run1"),
                "{line}"
            );
        }
    }

    #[test]
    fn an_event_of_the_run_gives_its_marker_time_and_offset() {
        let (event, step) = read(LINES[0].as_bytes(), "run1");
        let event = event.expect("an event");
        assert_eq!(event.marker, Some(7));
        assert_eq!(event.at, Some(micros_time(1_700_000_000_000_000)));
        assert_eq!(step, Some(Step::Offset("s-0".to_owned(), 2)));
        assert_eq!(read(LINES[1].as_bytes(), "run1").0.unwrap().marker, Some(7));
        assert_eq!(read(LINES[2].as_bytes(), "run1").0.unwrap().marker, None);
        assert_eq!(read(LINES[10].as_bytes(), "run1"), (None, None));
    }
}
