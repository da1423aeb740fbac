//! The official atproto interop vectors (CC0) in `../shared/vectors/atproto-interop-tests/`, read in place.
//!
//! `testenv::vectors()` finds them (`STREAMCHECK_SHARED` or `../shared`); a
//! checkout without them fails these tests, and `./test.sh` leaves them out
//! and says why. A file that exists but yields no cases fails, so a moved or
//! emptied file cannot pass silently.

use std::fs;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use wire::cbor::{
    DecodeLimits, decode, encode, from_atproto_json, record_from_atproto_json, to_atproto_json,
};
use wire::cid::{Cid, CidError};

fn vectors_dir(sub: &str) -> PathBuf {
    testenv::vectors().join(sub)
}

fn load_json(dir: &std::path::Path, name: &str) -> Vec<serde_json::Value> {
    let path = dir.join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!cases.is_empty(), "{} holds no cases", path.display());
    cases
}

#[test]
fn data_model_fixtures() {
    let dir = vectors_dir("data-model");
    let limits = DecodeLimits::default();
    let cases = load_json(&dir, "data-model-fixtures.json");
    for (i, case) in cases.iter().enumerate() {
        let json = &case["json"];
        let cbor_base64 = case["cbor_base64"].as_str().expect("cbor_base64");
        // The vectors write base64 without padding; tolerate it either way.
        let cbor = STANDARD_NO_PAD
            .decode(cbor_base64.trim_end_matches('='))
            .unwrap_or_else(|e| panic!("case {i}: bad base64: {e}"));
        let cid = case["cid"].as_str().expect("cid");

        let value = from_atproto_json(json).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(encode(&value), cbor, "case {i}: encoding differs");
        let decoded = decode(&cbor, &limits).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(decoded, value, "case {i}: decoded value differs");
        assert_eq!(
            &to_atproto_json(&decoded),
            json,
            "case {i}: JSON form differs"
        );
        assert_eq!(
            Cid::for_dag_cbor(&cbor).to_string(),
            cid,
            "case {i}: CID differs"
        );
    }
}

#[test]
fn data_model_valid() {
    let dir = vectors_dir("data-model");
    for case in load_json(&dir, "data-model-valid.json") {
        let note = case["note"].as_str().unwrap_or("?");
        let value = record_from_atproto_json(&case["json"])
            .unwrap_or_else(|e| panic!("{note:?} should be valid: {e}"));
        // Valid data survives the trip through DAG-CBOR.
        let bytes = encode(&value);
        assert_eq!(
            decode(&bytes, &DecodeLimits::default()),
            Ok(value),
            "{note:?}"
        );
    }
}

#[test]
fn data_model_invalid() {
    let dir = vectors_dir("data-model");
    for case in load_json(&dir, "data-model-invalid.json") {
        let note = case["note"].as_str().unwrap_or("?");
        let result = record_from_atproto_json(&case["json"]);
        assert!(
            result.is_err(),
            "{note:?} should be refused, got {result:?}"
        );
    }
}

/// Reads a vectors text file: one case a line, `#` comments and blank lines skipped.
/// Lines keep their whitespace, because the invalid CID file tests it.
fn lines(dir: &std::path::Path, name: &str) -> Vec<String> {
    let path = dir.join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "{} holds no cases", path.display());
    lines
}

#[test]
fn cid_syntax() {
    let dir = vectors_dir("syntax");
    // Only base32 CIDv1 strings are atproto's form; the file also lists base58,
    // base16, base64 and base8 spellings, which the strict parser refuses by design.
    let valid = lines(&dir, "cid_syntax_valid.txt");
    let base32: Vec<_> = valid.iter().filter(|l| l.starts_with('b')).collect();
    assert!(!base32.is_empty(), "no base32 CIDs among the valid vectors");
    for text in base32 {
        let cid: Cid = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(&cid.to_string(), text);
    }
    // Base58btc CIDv1s are readable for reporting, though not in atproto form,
    // unless their hash function is not sha2-256.
    let mut base58_read = 0;
    for text in valid.iter().filter(|l| l.starts_with('z')) {
        assert!(text.parse::<Cid>().is_err(), "{text:?} is not base32");
        match Cid::parse_any_base(text) {
            Ok(cid) => {
                assert_eq!(Cid::parse_any_base(&cid.to_string()), Ok(cid));
                base58_read += 1;
            }
            Err(CidError::UnsupportedHash { .. }) => {}
            Err(e) => panic!("{text:?}: {e}"),
        }
    }
    assert!(
        base58_read > 0,
        "no base58btc sha2-256 CID among the valid vectors"
    );
    for text in lines(&dir, "cid_syntax_invalid.txt") {
        assert!(text.parse::<Cid>().is_err(), "{text:?} should be refused");
    }
}
