//! The firehose's messages as frames: `#commit`, `#sync`, `#identity`, `#account`, `#labels`, `#info` and error frames.
//!
//! A message is encoded once, with its `seq`, when it is committed; the
//! stored record *is* the frame every subscriber gets.

use std::collections::BTreeMap;

use wire::car::write_car;
use wire::cbor::Value;
use wire::frame::{Header, encode_frame};

use super::repo::Applied;

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn seq_value(seq: u64) -> Value {
    Value::Integer(i64::try_from(seq).unwrap_or(i64::MAX))
}

/// `#commit` for one applied commit (`time` left out when empty: a defect).
pub fn commit(seq: u64, did: &str, applied: &Applied, time: &str) -> Vec<u8> {
    let ops = applied
        .ops
        .iter()
        .map(|op| {
            let mut fields = vec![
                ("action", text(op.action)),
                ("path", text(&op.path)),
                ("cid", op.cid.map_or(Value::Null, Value::Link)),
            ];
            if let Some(prev) = op.prev {
                fields.push(("prev", Value::Link(prev)));
            }
            map(fields)
        })
        .collect();
    let mut fields = vec![
        ("seq", seq_value(seq)),
        ("rebase", Value::Bool(false)),
        ("tooBig", Value::Bool(false)),
        ("repo", text(did)),
        ("commit", Value::Link(applied.commit)),
        ("rev", text(&applied.rev)),
        ("since", applied.since.as_deref().map_or(Value::Null, text)),
        ("blocks", Value::Bytes(applied.car.clone())),
        ("ops", Value::Array(ops)),
        ("blobs", Value::Array(Vec::new())),
    ];
    if !time.is_empty() {
        fields.push(("time", text(time)));
    }
    if let Some(prev_data) = applied.prev_data {
        fields.push(("prevData", Value::Link(prev_data)));
    }
    encode_frame(&Header::message("#commit"), &map(fields))
}

/// `#sync`: the repository's current commit, alone in its CAR.
pub fn sync(seq: u64, did: &str, applied: &Applied, time: &str) -> Vec<u8> {
    let car = write_car(
        &[applied.commit],
        &[(applied.commit, applied.commit_block.clone())],
    );
    let mut fields = vec![
        ("seq", seq_value(seq)),
        ("did", text(did)),
        ("blocks", Value::Bytes(car)),
        ("rev", text(&applied.rev)),
    ];
    if !time.is_empty() {
        fields.push(("time", text(time)));
    }
    encode_frame(&Header::message("#sync"), &map(fields))
}

pub fn identity(seq: u64, did: &str, handle: &str, time: &str) -> Vec<u8> {
    let body = map(vec![
        ("seq", seq_value(seq)),
        ("did", text(did)),
        ("time", text(time)),
        ("handle", text(handle)),
    ]);
    encode_frame(&Header::message("#identity"), &body)
}

pub fn account(seq: u64, did: &str, active: bool, status: Option<&str>, time: &str) -> Vec<u8> {
    let mut fields = vec![
        ("seq", seq_value(seq)),
        ("did", text(did)),
        ("time", text(time)),
        ("active", Value::Bool(active)),
    ];
    if let Some(status) = status {
        fields.push(("status", text(status)));
    }
    encode_frame(&Header::message("#account"), &map(fields))
}

/// `#labels` with one signed label.
pub fn labels(seq: u64, label: Value) -> Vec<u8> {
    let body = map(vec![
        ("seq", seq_value(seq)),
        ("labels", Value::Array(vec![label])),
    ]);
    encode_frame(&Header::message("#labels"), &body)
}

/// `#info` (`OutdatedCursor`).
pub fn info(name: &str, message: &str) -> Vec<u8> {
    let body = map(vec![("name", text(name)), ("message", text(message))]);
    encode_frame(&Header::message("#info"), &body)
}

/// An error frame: header `{op: -1}`, body `{error, message}`; with
/// `typed` (the `error-frame-with-type` defect) the header also has `t`.
pub fn error(error: &str, message: &str, typed: bool) -> Vec<u8> {
    let body = map(vec![("error", text(error)), ("message", text(message))]);
    let mut header = Header::error();
    if typed {
        header.t = Some("#error".to_owned());
    }
    encode_frame(&header, &body)
}

/// The same frame with the body's top-level map keys in reverse canonical
/// order: still CBOR, no longer DAG-CBOR (the `cbor-keys-unsorted` defect).
pub fn reverse_body_keys(frame: &[u8]) -> Vec<u8> {
    let limits = wire::cbor::DecodeLimits::default();
    let Ok((header, used)) = wire::cbor::decode_prefix(frame, &limits) else {
        return frame.to_vec();
    };
    let Ok(Value::Map(fields)) = wire::cbor::decode(&frame[used..], &limits) else {
        return frame.to_vec();
    };
    let mut encoder = wire::cbor::Encoder::new();
    encoder.write_raw(&wire::cbor::encode(&header));
    encoder.write_head(wire::cbor::Major::Map, fields.len() as u64);
    for (key, value) in fields.iter().rev() {
        encoder.write_raw(&wire::cbor::encode(&Value::String(key.clone())));
        encoder.write_raw(&wire::cbor::encode(value));
    }
    encoder.into_bytes()
}

/// A time as the firehose writes it: RFC 3339 with milliseconds, UTC.
pub fn time(micros: u64) -> String {
    crate::core::clock::rfc3339_millis(micros)
}
