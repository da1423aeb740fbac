//! DAG-CBOR: the hand-written golden cases in `fixtures/wire/cbor/`, and codec properties.

use std::fs;
use std::path::Path;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use wire::cbor::{
    self, DecodeLimits, Value, decode, decode_prefix, encode, from_atproto_json, to_atproto_json,
};
use wire::cid::{Cid, DAG_CBOR, RAW};

use crate::support;

/// One line of a golden file: the bytes, and what must come out.
#[derive(Debug)]
pub struct Case {
    pub line: usize,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

#[derive(Debug)]
pub enum Expect {
    /// Decodes to something whose JSON form is this (text, parsed by the caller).
    Ok(String),
    /// Fails with an error of this kind.
    Err(String),
}

/// Parses hex written as whitespace-separated runs of hex digits, where `run*N` repeats a run N times.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let (run, times) = match token.split_once('*') {
            Some((run, n)) => (
                run,
                n.parse::<usize>().map_err(|e| format!("{token}: {e}"))?,
            ),
            None => (token, 1),
        };
        if run.len() % 2 != 0 {
            return Err(format!("odd-length hex run {run:?}"));
        }
        let bytes = (0..run.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&run[i..i + 2], 16).map_err(|e| format!("{run}: {e}")))
            .collect::<Result<Vec<u8>, String>>()?;
        for _ in 0..times {
            out.extend_from_slice(&bytes);
        }
    }
    Ok(out)
}

/// Reads every `*.txt` golden file in `dir`: `ok <hex> | <json>` and `err <hex> | <kind>` lines.
pub fn read_cases(dir: &Path) -> Vec<(String, Case)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&path).unwrap();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let where_ = format!("{name}:{}", index + 1);
            let (label, rest) = line
                .split_once(char::is_whitespace)
                .unwrap_or_else(|| panic!("{where_}: no label"));
            let (hex, expected) = rest
                .split_once('|')
                .unwrap_or_else(|| panic!("{where_}: no '|'"));
            let bytes = parse_hex(hex).unwrap_or_else(|e| panic!("{where_}: {e}"));
            let expected = expected.trim().to_owned();
            let expect = match label {
                "ok" => Expect::Ok(expected),
                "err" => Expect::Err(expected),
                other => panic!("{where_}: unknown label {other:?}"),
            };
            cases.push((
                name.clone(),
                Case {
                    line: index + 1,
                    bytes,
                    expect,
                },
            ));
        }
    }
    cases
}

/// Runs every golden case in `dir`: the number of cases when all pass, else a description of each
/// mismatch. A folder without cases is a failure, so a moved fixture cannot pass silently.
fn check(dir: &Path) -> Result<usize, String> {
    let cases = read_cases(dir);
    if cases.is_empty() {
        return Err(format!("no golden cases in {}", dir.display()));
    }
    let limits = DecodeLimits::default();
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let at = format!("{file}:{}", case.line);
        let result = decode(&case.bytes, &limits);
        match (&case.expect, result) {
            (Expect::Ok(json), Ok(value)) => {
                let expected: serde_json::Value = match serde_json::from_str(json) {
                    Ok(v) => v,
                    Err(e) => {
                        failures.push(format!("{at}: bad expected JSON: {e}"));
                        continue;
                    }
                };
                let got = to_atproto_json(&value);
                if got != expected {
                    failures.push(format!("{at}: decoded to {got}, expected {expected}"));
                }
                if encode(&value) != case.bytes {
                    failures.push(format!("{at}: re-encoding gave different bytes"));
                }
                if from_atproto_json(&expected).as_ref() != Ok(&value) {
                    failures.push(format!(
                        "{at}: the expected JSON does not convert to the same value"
                    ));
                }
            }
            (Expect::Ok(_), Err(e)) => failures.push(format!("{at}: expected ok, got {e}")),
            (Expect::Err(kind), Ok(value)) => {
                failures.push(format!("{at}: expected {kind}, decoded {value:?}"))
            }
            (Expect::Err(kind), Err(e)) => {
                if e.kind() != kind {
                    failures.push(format!("{at}: expected {kind}, got {} ({e})", e.kind()));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(cases.len())
    } else {
        Err(format!(
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        ))
    }
}

#[test]
fn golden_cases() {
    if let Err(report) = check(&support::wire_fixtures("cbor")) {
        panic!("{report}");
    }
}

#[test]
fn golden_cases_cover_every_strictness_rule() {
    let cases = read_cases(&support::wire_fixtures("cbor"));
    let kinds: Vec<&str> = cases
        .iter()
        .filter_map(|(_, case)| match &case.expect {
            Expect::Err(kind) => Some(kind.as_str()),
            Expect::Ok(_) => None,
        })
        .collect();
    let required = [
        "empty",
        "truncated",
        "length-exceeds-input",
        "trailing-bytes",
        "non-minimal",
        "indefinite",
        "reserved",
        "float",
        "simple-value",
        "unsupported-tag",
        "link-not-bytes",
        "link-prefix",
        "link-cid",
        "integer-out-of-range",
        "invalid-utf8",
        "key-not-text",
        "key-order",
        "duplicate-key",
        "collection-too-long",
        "too-deep",
    ];
    let missing: Vec<_> = required.iter().filter(|k| !kinds.contains(k)).collect();
    assert!(missing.is_empty(), "no golden case for {missing:?}");
}

#[test]
fn check_fails_on_an_empty_folder() {
    let dir = std::env::temp_dir().join(format!("wire-cbor-empty-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let result = check(&dir);
    fs::remove_dir_all(&dir).ok();
    assert!(result.is_err(), "an empty folder passed: {result:?}");
}

#[test]
fn decode_prefix_reports_the_bytes_used() {
    let bytes = [0x82, 0x01, 0x02, 0xa0, 0xff];
    let (value, used) = decode_prefix(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(
        value,
        Value::Array(vec![Value::Integer(1), Value::Integer(2)])
    );
    assert_eq!(used, 3);
}

#[test]
fn size_limit_is_checked_first() {
    let limits = DecodeLimits {
        max_bytes: 2,
        ..DecodeLimits::default()
    };
    let err = decode(&[0x19, 0x01, 0x00], &limits).unwrap_err();
    assert_eq!(err.kind(), "too-large");
}

#[test]
fn encoder_can_write_deliberately_unsorted_keys() {
    let mut encoder = cbor::Encoder::new();
    encoder.write_map_header(2);
    encoder.write_text("b");
    encoder.write_integer(1);
    encoder.write_text("a");
    encoder.write_integer(2);
    let err = decode(encoder.as_bytes(), &DecodeLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "key-order");
    assert_eq!(err.offset(), 4);
}

fn arb_cid() -> impl Strategy<Value = Cid> {
    let codec = prop_oneof![Just(DAG_CBOR), Just(RAW), 0u64..(1 << 63)];
    (codec, any::<[u8; 32]>()).prop_map(|(codec, digest)| Cid::new(codec, digest))
}

/// Keys mix a tiny alphabet (so that length-first and bytewise order disagree often) with any text.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof!["[ab]{0,3}", any::<String>()]
}

pub fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), -25i64..25].prop_map(Value::Integer),
        any::<String>().prop_map(Value::String),
        vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        arb_cid().prop_map(Value::Link),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            btree_map(arb_key(), inner, 0..8).prop_map(Value::Map),
        ]
    })
}

/// A value whose map keys never start with `$`, so that its JSON form cannot be mistaken for a link or bytes.
fn arb_json_safe_value() -> impl Strategy<Value = Value> {
    arb_value().prop_filter("keys starting with $ are reserved", |v| !has_dollar_key(v))
}

fn has_dollar_key(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_dollar_key),
        Value::Map(map) => map
            .iter()
            .any(|(k, v)| k.starts_with('$') || has_dollar_key(v)),
        _ => false,
    }
}

proptest! {
    #[test]
    fn round_trip(value in arb_value()) {
        let bytes = encode(&value);
        prop_assert_eq!(decode(&bytes, &DecodeLimits::default()), Ok(value));
    }

    #[test]
    fn encoding_is_canonical_after_mutation(value in arb_value(), index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        // A changed byte either breaks the encoding or yields another canonical one:
        // whatever the strict decoder accepts re-encodes to the same bytes.
        let mut bytes = encode(&value);
        let i = index.index(bytes.len());
        bytes[i] = byte;
        if let Ok(decoded) = decode(&bytes, &DecodeLimits::default()) {
            prop_assert_eq!(encode(&decoded), bytes);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        if let Ok((value, used)) = decode_prefix(&bytes, &DecodeLimits::default()) {
            prop_assert_eq!(&encode(&value)[..], &bytes[..used]);
        }
    }

    #[test]
    fn random_heads_never_panic(head in 0x80u8..=0xff, tail in vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![head];
        bytes.extend(tail);
        let _ = decode(&bytes, &DecodeLimits::default());
    }

    #[test]
    fn truncation_is_always_an_error(value in arb_value(), index in any::<prop::sample::Index>()) {
        let bytes = encode(&value);
        let cut = index.index(bytes.len());
        prop_assert!(decode(&bytes[..cut], &DecodeLimits::default()).is_err());
    }

    #[test]
    fn json_round_trip(value in arb_json_safe_value()) {
        let json = to_atproto_json(&value);
        prop_assert_eq!(from_atproto_json(&json), Ok(value));
    }
}
