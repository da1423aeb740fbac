//! atproto event-stream frames: the hand-written cases in `fixtures/wire/frame/`, and codec properties.

use proptest::collection::btree_map;
use proptest::prelude::*;
use wire::cbor::{DecodeLimits, Value, to_atproto_json};
use wire::frame::{Frame, FrameError, Header, decode_frame, encode_frame};

use crate::cbor::{Expect, arb_value, read_cases};
use crate::support;

/// The name a golden file uses for an error: the frame kind, then the DAG-CBOR kind underneath if any.
fn error_name(error: &FrameError) -> String {
    match error.decode_error() {
        Some(inner) => format!("{}/{}", error.kind(), inner.kind()),
        None => error.kind().to_owned(),
    }
}

#[test]
fn golden_cases() {
    let dir = support::wire_fixtures("frame");
    let cases = read_cases(&dir);
    assert!(!cases.is_empty(), "no golden cases in {}", dir.display());
    let limits = DecodeLimits::default();
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let at = format!("{file}:{}", case.line);
        match (&case.expect, decode_frame(&case.bytes, &limits)) {
            (Expect::Ok(json), Ok(frame)) => {
                let expected: serde_json::Value = serde_json::from_str(json).unwrap();
                let got = serde_json::json!({
                    "header": {"op": frame.header.op, "t": frame.header.t},
                    "body": to_atproto_json(&frame.body),
                });
                if got != expected {
                    failures.push(format!("{at}: got {got}, expected {expected}"));
                }
            }
            (Expect::Ok(_), Err(e)) => failures.push(format!("{at}: expected ok, got {e}")),
            (Expect::Err(kind), Ok(frame)) => {
                failures.push(format!("{at}: expected {kind}, got {frame:?}"))
            }
            (Expect::Err(kind), Err(e)) => {
                if error_name(&e) != *kind {
                    failures.push(format!(
                        "{at}: expected {kind}, got {} ({e})",
                        error_name(&e)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn arb_header() -> impl Strategy<Value = Header> {
    prop_oneof![
        "#[a-z]{1,10}".prop_map(Header::message),
        Just(Header::error()),
        (any::<i64>(), proptest::option::of(any::<String>())).prop_map(|(op, t)| Header { op, t }),
    ]
}

fn arb_body() -> impl Strategy<Value = Value> {
    btree_map(any::<String>(), arb_value(), 0..6).prop_map(Value::Map)
}

proptest! {
    #[test]
    fn round_trip(header in arb_header(), body in arb_body()) {
        let bytes = encode_frame(&header, &body);
        let frame = decode_frame(&bytes, &DecodeLimits::default());
        prop_assert_eq!(frame, Ok(Frame { header, body }));
    }

    #[test]
    fn every_truncation_is_an_error(header in arb_header(), body in arb_body()) {
        let bytes = encode_frame(&header, &body);
        for cut in 0..bytes.len() {
            prop_assert!(
                decode_frame(&bytes[..cut], &DecodeLimits::default()).is_err(),
                "a frame cut at {} of {} bytes decoded", cut, bytes.len()
            );
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode_frame(&bytes, &DecodeLimits::default());
    }

    #[test]
    fn appended_bytes_are_refused(header in arb_header(), body in arb_body(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = encode_frame(&header, &body);
        bytes.extend(extra);
        prop_assert!(decode_frame(&bytes, &DecodeLimits::default()).is_err());
    }
}
