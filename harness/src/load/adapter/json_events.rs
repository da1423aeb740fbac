//! A load subscriber's reading of Fibric envelopes, Pulse events and Fauna lines: the marker, time and cursor borrowed from the JSON, with the full `Value` reading kept for what does not fit.
//!
//! A delivery's JSON is read into borrowed structs that name only the fields
//! the load needs; serde skips the rest without building anything. The
//! payload is read as a `{"load", "k"}` pair the same way. Whatever the
//! borrowed reading refuses (a field of another type, a duplicate key, a
//! payload that is not the marker) goes through the full reading, which
//! takes each field where it has the right type, so both give the same answer
//! for every input (the tests below hold them to that). Only this run's own
//! deliveries are on the fast path; foreign events cost what they did.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::frames::{Event, Step, micros_time, ulid_time};

/// `T` read only from a JSON object. serde's derived structs also read an
/// array as their fields in order, where the full reading (`value["field"]`)
/// finds nothing; this asks the parser for a map, and hands the map to `T`
/// as it comes, so the text is still read once and nothing is copied.
pub(super) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Map<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Map<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        deserializer.deserialize_map(Map(std::marker::PhantomData))
    }
}

/// A payload `{"load": run, "k": k}`, other fields aside.
#[derive(Deserialize)]
struct Marker<'a> {
    #[serde(borrow)]
    load: Cow<'a, str>,
    k: u64,
}

/// The marker `k` of a JSON payload `{"load": run, "k": k}`, read from its text.
fn raw_marker(payload: Option<&RawValue>, run: &str) -> Option<u64> {
    let payload = payload?;
    match serde_json::from_str::<Object<Marker>>(payload.get()) {
        Ok(Object(marker)) => (marker.load == run).then_some(marker.k),
        Err(_) => serde_json::from_str::<Value>(payload.get())
            .ok()
            .and_then(|value| value_marker(&value, run)),
    }
}

/// The marker `k` of a JSON payload already read as a `Value`.
fn value_marker(payload: &Value, run: &str) -> Option<u64> {
    (payload["load"] == run)
        .then(|| payload["k"].as_u64())
        .flatten()
}

/// The fields of a Fibric envelope the load reads.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// What a Fibric envelope says: its marker (envelopes carry no time of their own).
pub(super) fn fibric_event(data: &str, run: &str) -> Event {
    match serde_json::from_str::<Object<Envelope>>(data) {
        Ok(Object(envelope)) => Event {
            marker: raw_marker(envelope.payload, run),
            at: None,
        },
        Err(_) => fibric_value(data, run),
    }
}

/// The full reading of a Fibric envelope.
fn fibric_value(data: &str, run: &str) -> Event {
    let envelope = serde_json::from_str::<Value>(data).ok();
    Event {
        marker: envelope.and_then(|e| value_marker(&e["payload"], run)),
        at: None,
    }
}

/// The fields of a Pulse `/subscribe` event the load reads.
#[derive(Deserialize)]
struct PulseEvent<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created: Option<&'a RawValue>,
}

/// What a Pulse `/subscribe` event says: its marker, and the time its ULID id carries.
pub(super) fn pulse_event(data: &str, run: &str) -> Event {
    match serde_json::from_str::<Object<PulseEvent>>(data) {
        Ok(Object(event)) => Event {
            marker: raw_marker(event.created, run),
            at: event.id.as_deref().and_then(ulid_time),
        },
        Err(_) => pulse_value(data, run),
    }
}

/// The full reading of a Pulse event.
fn pulse_value(data: &str, run: &str) -> Event {
    let Ok(event) = serde_json::from_str::<Value>(data) else {
        return Event::default();
    };
    Event {
        marker: value_marker(&event["created"], run),
        at: event["id"].as_str().and_then(ulid_time),
    }
}

/// The fields of a Fauna `/stream/1` line the load reads.
#[derive(Deserialize)]
struct FaunaLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cursor: Option<Cow<'a, str>>,
    txn_ts: Option<u64>,
    #[serde(borrow)]
    data: Option<Object<FaunaDoc<'a>>>,
}

/// A change event's data: plain fields, or a document tagged as `{"@doc": {...}}`.
#[derive(Deserialize)]
struct FaunaDoc<'a> {
    /// Kept as text whatever it holds (`null` too), as the full reading keeps it.
    #[serde(rename = "@doc", default, borrow, deserialize_with = "present")]
    doc: Option<&'a RawValue>,
    #[serde(borrow)]
    load: Option<Cow<'a, str>>,
    /// A number, or `{"@int": "K"}`.
    #[serde(default, borrow, deserialize_with = "present")]
    k: Option<&'a RawValue>,
}

/// `{"@int": "K"}`.
#[derive(Deserialize)]
struct TaggedInt<'a> {
    #[serde(rename = "@int", borrow)]
    int: Cow<'a, str>,
}

/// A field's text, `null` included (serde's `Option` would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// What a Fauna `/stream/1` line says: a change event of this run (its
/// marker, its `txn_ts`), and the cursor it carries (status events carry one too).
pub(super) fn fauna_line(line: &[u8], run: &str) -> (Option<Event>, Option<Step>) {
    let Ok(Object(fast)) = serde_json::from_slice::<Object<FaunaLine>>(line) else {
        return fauna_value(line, run);
    };
    let data = fast.data.map(|Object(data)| data);
    let kind = fast.kind.as_deref();
    let changed = matches!(kind, Some("add" | "update" | "remove"));
    let doc = match data {
        Some(FaunaDoc { doc: Some(raw), .. }) if changed => {
            match serde_json::from_str::<Object<FaunaDoc>>(raw.get()) {
                Ok(Object(doc)) if doc.doc.is_none() => Some(doc),
                // `{"@doc": {"@doc": ...}}` or not an object: the full reading decides.
                _ => return fauna_value(line, run),
            }
        }
        data => data,
    };
    let step = fast.cursor.map(|c| Step::Id(c.into_owned()));
    if !changed {
        return (None, step);
    }
    let (load, k) = doc.map_or((None, None), |doc| (doc.load, doc.k));
    let k = match k.map(fauna_int) {
        None => None,
        Some(Ok(k)) => k,
        Some(Err(())) => return fauna_value(line, run),
    };
    let ours = kind == Some("add") && load.as_deref() == Some(run);
    let seen = Event {
        marker: k.filter(|_| ours),
        at: fast.txn_ts.map(micros_time),
    };
    (Some(seen), step)
}

/// `k` as the full reading takes it: a `u64`, or the digits of `{"@int": "K"}`; `None` for
/// anything else. `Err` when the text is neither a number nor an object (the full reading decides).
fn fauna_int(raw: &RawValue) -> Result<Option<u64>, ()> {
    let text = raw.get();
    if text.starts_with('{') {
        return match serde_json::from_str::<TaggedInt>(text) {
            Ok(tagged) => Ok(tagged.int.parse().ok()),
            Err(_) => Err(()),
        };
    }
    Ok(serde_json::from_str::<u64>(text).ok())
}

/// The full reading of a Fauna line: any JSON, each field taken where it has the right type.
fn fauna_value(line: &[u8], run: &str) -> (Option<Event>, Option<Step>) {
    let Ok(event) = serde_json::from_slice::<Value>(line) else {
        return (None, None);
    };
    let step = event["cursor"].as_str().map(|c| Step::Id(c.to_owned()));
    if !matches!(event["type"].as_str(), Some("add" | "update" | "remove")) {
        return (None, step);
    }
    let data = &event["data"];
    let doc = data.get("@doc").unwrap_or(data);
    let k = doc["k"]
        .as_u64()
        .or_else(|| doc["k"]["@int"].as_str()?.parse().ok());
    let ours = event["type"] == "add" && doc["load"] == run;
    let seen = Event {
        marker: k.filter(|_| ours),
        at: event["txn_ts"].as_u64().map(micros_time),
    };
    (Some(seen), step)
}

#[cfg(test)]
mod tests;
