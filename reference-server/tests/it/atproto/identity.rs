//! The PDS's own status and handle methods: `deactivateAccount` / `activateAccount` and `updateHandle`, and the frames they send.

use serde_json::json;
use wire::cbor::Value;

use super::client::{Firehose, Pds, REPOS, kind, text};
use super::firehose::server;

#[tokio::test]
async fn deactivate_and_activate_account_send_account_frames_and_gate_writes() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(3)).await;
    let (status, body) = pds
        .post(
            "com.atproto.server.deactivateAccount",
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let frame = firehose.frame().await;
    assert_eq!(kind(&frame), "#account");
    assert_eq!(text(&frame, "did"), alice.did);
    assert_eq!(frame.body.get("active"), Some(&Value::Bool(false)));
    assert_eq!(text(&frame, "status"), "deactivated");
    let record =
        json!({"repo": alice.did, "collection": "app.bsky.feed.post", "record": {"text": "x"}});
    let (status, _) = pds
        .post(
            "com.atproto.repo.createRecord",
            Some(&alice.access),
            &record,
        )
        .await;
    assert_eq!(status, 400, "a deactivated account's writes are refused");

    // activateAccount has no input: a bare POST.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/xrpc/com.atproto.server.activateAccount",
            pds.base
        ))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let frame = firehose.frame().await;
    assert_eq!(kind(&frame), "#account");
    assert_eq!(frame.body.get("active"), Some(&Value::Bool(true)));
    assert!(frame.body.get("status").is_none());
    let (status, body) = pds
        .post(
            "com.atproto.repo.createRecord",
            Some(&alice.access),
            &record,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = pds
        .post("com.atproto.server.deactivateAccount", None, &json!({}))
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn update_handle_sends_identity_with_the_new_handle_and_frees_the_old_one() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    pds.create_account("bob.test").await;
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(6)).await;
    let update = "com.atproto.identity.updateHandle";
    let (status, body) = pds
        .post(
            update,
            Some(&alice.access),
            &json!({"handle": "Alicia.test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let frame = firehose.frame().await;
    assert_eq!(kind(&frame), "#identity");
    assert_eq!(text(&frame, "did"), alice.did);
    assert_eq!(text(&frame, "handle"), "alicia.test");
    let (_, document) = pds.get_json(&format!("/_plc/{}", alice.did)).await;
    assert_eq!(document["alsoKnownAs"][0], "at://alicia.test");

    let (status, body) = pds
        .post(update, Some(&alice.access), &json!({"handle": "bob.test"}))
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("HandleNotAvailable"))
    );
    let (status, body) = pds
        .post(
            update,
            Some(&alice.access),
            &json!({"handle": "alice.example.com"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("InvalidHandle"))
    );
    // The old handle is free again.
    pds.create_account("alice.test").await;
}
