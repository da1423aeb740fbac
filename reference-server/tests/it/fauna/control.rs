//! `/_control/fauna`: collections, writes and tokens without FQL, for targets' test setups and the harness.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{kind_and_id, send, server};
use crate::support::CONTROL_TOKEN;

#[tokio::test]
async fn the_control_api_writes_documents_and_mints_tokens_that_stream() {
    let (_server, fauna) = server().await;
    let control = |path: &str, body: Value| {
        fauna
            .http
            .post(format!("{}/_control/fauna{path}", fauna.base))
            .bearer_auth(CONTROL_TOKEN)
            .json(&body)
    };
    let response = send(control(
        "/collections",
        json!({"name": "Items", "history_days": 2}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(control("/collections", json!({"name": "Items"}))).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    let response = send(control(
        "/tokens",
        json!({"collection": "Items", "where": {"path": ["kind"], "value": "a"}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let created: Value = send(control(
        "/documents",
        json!({"collection": "Items", "op": "create", "data": {"kind": "a"}}),
    ))
    .await
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let response = send(control(
        "/documents",
        json!({"collection": "Items", "op": "update", "id": id, "data": {"n": 1}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert!(updated["txn_ts"].as_u64() > created["txn_ts"].as_u64());
    let response = send(
        fauna
            .http
            .delete(format!(
                "{}/_control/fauna/documents/Items/{id}",
                fauna.base
            ))
            .bearer_auth(CONTROL_TOKEN),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let deleted: Value = response.json().await.unwrap();
    assert!(
        deleted["txn_ts"].as_u64() > updated["txn_ts"].as_u64(),
        "a delete has its own txn_ts: {deleted}"
    );
    assert!(deleted["document"].is_null());
    let response = send(control(
        "/documents",
        json!({"collection": "Items", "op": "update", "id": id, "data": {}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = send(control(
        "/documents",
        json!({"collection": "Nope", "op": "create", "data": {}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let mut events = fauna.stream(json!({"token": token})).await;
    assert_eq!(events.next().await["type"], "status");
    assert_eq!(
        kind_and_id(&events.next().await),
        ("add".to_owned(), id.clone())
    );
    assert_eq!(
        kind_and_id(&events.next().await),
        ("update".to_owned(), id.clone())
    );
    assert_eq!(kind_and_id(&events.next().await), ("remove".to_owned(), id));

    // Without the control token, nothing.
    let response = send(
        fauna
            .http
            .post(format!("{}/_control/fauna/collections", fauna.base))
            .json(&json!({"name": "X"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_write_nothing() {
    let mut config = reference_server::config::Config::ephemeral();
    config.max_body_bytes = 1024;
    let running = reference_server::server::start(config).await.unwrap();
    let fauna = super::Fauna::new(&running.base_url());
    fauna
        .query(r#"Collection.create({ name: "Orders" })"#)
        .await;
    let big = "x".repeat(4096);
    let response = fauna
        .query_as(
            super::SECRET,
            &format!(r#"Orders.create({{ blob: "{big}" }})"#),
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_size_exceeded");
    let token = fauna.token("Orders.all().eventSource()").await;
    let page: Value = fauna
        .feed(json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"], json!([]));
    let page: Value = fauna
        .feed(json!({"token": token, "start_ts": 1}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["error"]["code"], "invalid_request",
        "a start before the token: {page}"
    );
}
