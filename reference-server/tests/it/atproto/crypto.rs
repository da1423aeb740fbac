//! Signatures and TIDs against the interop vectors: K-256 valid, high-S and DER cases; TID syntax.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use reference_server::atproto::keys::{VerifyError, parse_public, verify};
use reference_server::atproto::tid::is_tid;

use super::{read_json, read_lines};

#[test]
fn k256_signature_vectors_verify_or_fail_as_listed() {
    let cases = read_json("crypto/signature-fixtures.json");
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        if case["algorithm"] != "ES256K" {
            continue; // P-256 keys are not used by this server.
        }
        let decode = |field: &str| {
            let text = case[field].as_str().unwrap().trim_end_matches('=');
            STANDARD_NO_PAD.decode(text).unwrap()
        };
        let message = decode("messageBase64");
        let signature = decode("signatureBase64");
        let did = case["publicKeyDid"].as_str().unwrap();
        let key = parse_public(did).unwrap();
        let result = verify(&key, &message, &signature);
        let comment = case["comment"].as_str().unwrap();
        if case["validSignature"] == true {
            assert_eq!(result, Ok(()), "{comment}");
        } else {
            assert!(result.is_err(), "{comment}");
            if case["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "high-s")
            {
                assert_eq!(result, Err(VerifyError::HighS), "{comment}");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "the valid, high-S and DER K-256 cases");
}

#[test]
fn tid_syntax_vectors() {
    let valid = read_lines("syntax/tid_syntax_valid.txt");
    assert!(!valid.is_empty());
    for tid in &valid {
        assert!(is_tid(tid), "{tid}");
    }
    for tid in read_lines("syntax/tid_syntax_invalid.txt") {
        assert!(!is_tid(&tid), "{tid}");
    }
}
