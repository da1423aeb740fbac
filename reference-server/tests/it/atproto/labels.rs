//! The built-in directory (`/_plc/{did}`) and `subscribeLabels`: DID documents with both keys, labels signed with the label key, negations, cursors.

use std::collections::BTreeMap;

use reference_server::atproto::keys::{parse_public, verify};
use serde_json::json;
use wire::cbor::{Value, encode};

use super::client::{Firehose, LABELS, Pds, kind, seq, text};
use super::firehose::server;

/// The `publicKeyMultibase` of `did`'s verification method `#fragment`, from the directory.
pub async fn resolve_key(pds: &Pds, did: &str, fragment: &str) -> String {
    let (status, doc) = pds.get_json(&format!("/_plc/{did}")).await;
    assert_eq!(status, 200, "{doc}");
    let method = doc["verificationMethod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == format!("{did}#{fragment}"))
        .unwrap_or_else(|| panic!("no #{fragment} in {doc}"));
    assert_eq!(method["type"], "Multikey");
    assert_eq!(method["controller"], did);
    method["publicKeyMultibase"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_directory_serves_did_documents_with_both_keys_and_the_pds() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    assert!(
        alice.did.starts_with("did:plc:") && alice.did.len() == 32,
        "{}",
        alice.did
    );
    let (status, doc) = pds.get_json(&format!("/_plc/{}", alice.did)).await;
    assert_eq!(status, 200);
    assert_eq!(doc["id"], alice.did.as_str());
    assert_eq!(doc["alsoKnownAs"], json!(["at://alice.test"]));
    assert_eq!(doc["service"][0]["id"], "#atproto_pds");
    assert_eq!(doc["service"][0]["type"], "AtprotoPersonalDataServer");
    assert_eq!(doc["service"][0]["serviceEndpoint"], pds.base.as_str());
    let signing = resolve_key(&pds, &alice.did, "atproto").await;
    let label = resolve_key(&pds, &alice.did, "atproto_label").await;
    assert_ne!(signing, label);
    assert!(
        signing.starts_with("zQ3s"),
        "a compressed K-256 key: {signing}"
    );
    let (status, body) = pds.get_json("/_plc/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert_eq!(status, 404, "{body}");
}

/// Verifies a label's signature with `key` over the label without `sig`.
fn verify_label(label: &Value, key: &str) {
    let Value::Map(fields) = label else {
        panic!("a label is a map: {label:?}")
    };
    let mut unsigned: BTreeMap<String, Value> = fields.clone();
    let Some(Value::Bytes(sig)) = unsigned.remove("sig") else {
        panic!("a label has sig bytes: {label:?}")
    };
    let key = parse_public(key).unwrap();
    verify(&key, &encode(&Value::Map(unsigned)), &sig).expect("the label signature verifies");
}

#[tokio::test]
async fn labels_and_negations_are_signed_sequenced_and_replayed() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let mut live = Firehose::connect(&pds.base, LABELS, None).await;
    let uri = format!("at://{}/app.bsky.feed.post/3kabc", alice.did);
    let (status, first) = pds
        .control("labels", &json!({"uri": uri, "val": "spam"}))
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = pds
        .control(
            "labels",
            &json!({"uri": uri, "val": "spam", "neg": true, "src": alice.did}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let frames = live.frames(2).await;
    assert_eq!(frames.iter().map(seq).collect::<Vec<_>>(), [1, 2]);
    for frame in &frames {
        assert_eq!(kind(frame), "#labels");
    }
    let label = |i: usize| {
        frames[i]
            .body
            .get("labels")
            .and_then(Value::as_array)
            .unwrap()[0]
            .clone()
    };
    let (one, two) = (label(0), label(1));
    assert_eq!(one.get("ver").and_then(Value::as_i64), Some(1));
    assert_eq!(one.get("val").and_then(Value::as_str), Some("spam"));
    assert!(one.get("neg").is_none());
    assert_eq!(two.get("neg"), Some(&Value::Bool(true)));
    let labeler = one.get("src").and_then(Value::as_str).unwrap().to_owned();
    verify_label(&one, &resolve_key(&pds, &labeler, "atproto_label").await);
    verify_label(&two, &resolve_key(&pds, &alice.did, "atproto_label").await);
    let (_, labeler_doc) = pds.get_json(&format!("/_plc/{labeler}")).await;
    assert_eq!(labeler_doc["service"][1]["type"], "AtprotoLabeler");

    let mut replay = Firehose::connect(&pds.base, LABELS, Some(1)).await;
    assert_eq!(seq(&replay.frame().await), 2, "replay is > cursor");
    let mut future = Firehose::connect(&pds.base, LABELS, Some(3)).await;
    assert_eq!(text(&future.frame().await, "error"), "FutureCursor");
    future.expect_close().await;
    let (status, _) = pds
        .control("labels", &json!({"uri": "nonsense", "val": "x"}))
        .await;
    assert_eq!(status, 400);
}
