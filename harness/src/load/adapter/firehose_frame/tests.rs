//! The walk over a frame reads what the full decode reads, and refuses hostile bytes without panicking or looping.

use wire::cbor::{DecodeLimits, Value};
use wire::cid::Cid;
use wire::frame::{Header, decode_frame, encode_frame};

use super::*;

const DID: &str = "did:plc:ours";
const PREFIX: &str = "com.example.harness.record/ld-";

/// The reading the load path used before the walk: a strict decode, then fields.
fn decoded(bytes: &[u8]) -> Option<(Event, Option<i64>)> {
    let frame = decode_frame(bytes, &DecodeLimits::default()).ok()?;
    if frame.header.t.as_deref().is_none_or(|t| t == "#info") {
        return None;
    }
    let body = &frame.body;
    let at = body
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    let ours = body.get("repo").and_then(Value::as_str) == Some(DID);
    let marker = body
        .get("ops")
        .and_then(Value::as_array)
        .filter(|_| ours)
        .and_then(|ops| {
            ops.iter()
                .filter_map(|op| op.get("path").and_then(Value::as_str))
                .find_map(|path| path.strip_prefix(PREFIX)?.parse().ok())
        });
    Some((
        Event { marker, at },
        body.get("seq").and_then(Value::as_i64),
    ))
}

fn op(path: &str) -> Value {
    Value::map([
        ("action", Value::String("create".into())),
        ("path", Value::String(path.into())),
        ("cid", Value::Link(Cid::for_raw(path.as_bytes()))),
    ])
}

fn commit(repo: &str, seq: i64, ops: Vec<Value>) -> Vec<u8> {
    let body = Value::map([
        ("seq", Value::Integer(seq)),
        ("repo", Value::String(repo.into())),
        ("time", Value::String("2026-11-23T20:00:00.123Z".into())),
        ("rebase", Value::Bool(false)),
        ("tooBig", Value::Bool(false)),
        ("since", Value::Null),
        ("blocks", Value::Bytes(vec![0xa5; 3000])),
        ("ops", Value::Array(ops)),
        ("blobs", Value::Array(vec![])),
        ("commit", Value::Link(Cid::for_dag_cbor(b"commit"))),
        ("rev", Value::String("3l".into())),
        ("prevData", Value::Null),
    ]);
    encode_frame(&Header::message("#commit"), &body)
}

fn frames() -> Vec<Vec<u8>> {
    vec![
        commit(DID, 7, vec![op("com.example.harness.record/ld-42")]),
        commit(
            DID,
            -3,
            vec![
                op("other/ld-1"),
                op(&format!("{PREFIX}x")),
                op(&format!("{PREFIX}9")),
            ],
        ),
        commit("did:plc:theirs", 8, vec![op(&format!("{PREFIX}5"))]),
        commit(
            DID,
            9,
            vec![
                Value::Integer(1),
                Value::map([("path", Value::Integer(3))]),
                op(&format!("{PREFIX}6")),
            ],
        ),
        commit(DID, 10, vec![]),
        encode_frame(
            &Header::message("#identity"),
            &Value::map([
                ("seq", Value::Integer(i64::MAX)),
                ("did", Value::String(DID.into())),
                ("time", Value::String("not a time".into())),
            ]),
        ),
        encode_frame(
            &Header::message("#commit"),
            &Value::map([
                ("seq", Value::String("11".into())),
                ("repo", Value::Integer(1)),
                ("time", Value::Bytes(vec![1])),
                (
                    "ops",
                    Value::map([("path", Value::String(format!("{PREFIX}1")))]),
                ),
            ]),
        ),
        encode_frame(
            &Header::message("#info"),
            &Value::map([("name", Value::String("OutdatedCursor".into()))]),
        ),
        encode_frame(
            &Header::error(),
            &Value::map([("error", Value::String("FutureCursor".into()))]),
        ),
    ]
}

#[test]
fn the_walk_reads_every_frame_as_the_full_decode_does() {
    for (n, frame) in frames().iter().enumerate() {
        assert_eq!(read(frame, DID, PREFIX), decoded(frame), "frame {n}");
    }
    let (event, seq) = read(&frames()[0], DID, PREFIX).expect("an event");
    assert_eq!((event.marker, seq), (Some(42), Some(7)));
    assert!(event.at.is_some());
    assert_eq!(read(&frames()[1], DID, PREFIX).unwrap().0.marker, Some(9));
    assert_eq!(read(&frames()[2], DID, PREFIX).unwrap().0.marker, None);
}

#[test]
fn a_cut_or_padded_frame_is_refused() {
    for frame in frames() {
        for len in 0..frame.len() {
            assert_eq!(read(&frame[..len], DID, PREFIX), None, "a cut at {len}");
        }
        let mut padded = frame.clone();
        padded.push(0);
        assert_eq!(read(&padded, DID, PREFIX), None);
    }
}

#[test]
fn hostile_heads_are_refused_at_once() {
    let header = encode_frame(&Header::message("#commit"), &Value::map::<&str>([]));
    let header = &header[..header.len() - 1];
    let hostile: [&[u8]; 5] = [
        // A map claiming 2^64-1 entries, of nothing.
        &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        // A byte string claiming 2^62 bytes.
        &[0xa1, 0x61, b'x', 0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0],
        // Indefinite lengths and reserved heads.
        &[0xbf, 0xff],
        &[0xa1, 0x61, b'x', 0x1c],
        // An array claiming 2^63 items inside a map value.
        &[0xa1, 0x61, b'x', 0x9b, 0x80, 0, 0, 0, 0, 0, 0, 0],
    ];
    for body in hostile {
        let frame = [header, body].concat();
        assert_eq!(
            read(&frame, DID, PREFIX),
            None,
            "{:x?}",
            &body[..body.len().min(12)]
        );
    }
}

#[test]
fn nesting_deeper_than_any_decoder_recurses_is_walked_without_recursion() {
    let mut frame = encode_frame(&Header::message("#commit"), &Value::map::<&str>([]));
    frame.pop();
    frame.extend_from_slice(&[0xa2, 0x63, b's', b'e', b'q', 0x05, 0x61, b'x']);
    frame.extend(std::iter::repeat_n(0x81, 1_000_000));
    frame.push(0x00);
    let (event, seq) = read(&frame, DID, PREFIX).expect("a frame of no interest");
    assert_eq!((event.marker, seq), (None, Some(5)));
}
