//! `POST /subscribe`: live only, in order, no duplicates, filtered; and keep-alive comments on idle streams.

use std::time::{Duration, Instant};

use reference_server::config::ReplicaIdentity::{Default as DefaultIdentity, Full};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Item, Sse, ids, send, server};
use crate::support::CONTROL_TOKEN;

#[tokio::test]
async fn a_subscription_sees_only_what_is_committed_after_it_once_and_in_order() {
    let (server, api) = server(&[("User", "id", Full), ("Other", "id", Full)]).await;
    let mut earlier = Vec::new();
    for id in 0..3 {
        earlier.push(api.row("User", "create", json!({"id": id})).await);
    }
    // Last-Event-ID means nothing to a subscription.
    let response = send(
        api.public(Method::POST, "/subscribe")
            .header("last-event-id", &earlier[0])
            .json(&json!({"model": "User"})),
    )
    .await;
    let mut sse = Sse::new(response);
    // Caught up with nothing to replay.
    assert_eq!(sse.until_keepalive().await, Vec::new());
    let mut later = Vec::new();
    for id in 10..15 {
        later.push(api.row("User", "create", json!({"id": id})).await);
        api.row("Other", "create", json!({"id": id})).await;
    }
    later.push(api.row("User", "update", json!({"id": 0, "x": 1})).await);
    let delivered = sse.take(later.len()).await;
    assert_eq!(ids(&delivered), later);
    assert_eq!(delivered[5].1["after"], json!({"id": 0, "x": 1}));
    assert_eq!(delivered[5].1["before"], json!({"id": 0}));
    // Nothing more, nothing twice: the next event is the next one committed.
    let marker = api.row("User", "delete", json!({"id": 10})).await;
    assert_eq!(ids(&sse.take(1).await), [marker]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_subscription_applies_its_filter() {
    let (server, api) = server(&[("User", "id", DefaultIdentity)]).await;
    let filter = json!({"create": {"role": "admin"}, "delete": {}});
    let response = api
        .subscribe(json!({"model": "User", "filter": filter}))
        .await;
    let mut sse = Sse::new(response);
    assert_eq!(sse.until_keepalive().await, Vec::new());
    let admin = api
        .row("User", "create", json!({"id": 1, "role": "admin"}))
        .await;
    api.row("User", "create", json!({"id": 2, "role": "user"}))
        .await;
    api.row("User", "update", json!({"id": 2, "role": "admin"}))
        .await;
    let deleted = api.row("User", "delete", json!({"id": 2})).await;
    let marker = api
        .row("User", "create", json!({"id": 3, "role": "admin"}))
        .await;
    let delivered = sse.take(3).await;
    assert_eq!(ids(&delivered), [admin, deleted, marker]);
    assert_eq!(delivered[1].1["deleted"], json!({"id": 2}));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_streams_send_keepalive_comments_and_end_on_a_forced_disconnect() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    api.stream("s", "User", None).await;
    for named in [false, true] {
        let mut sse = if named {
            api.consume("s", None).await
        } else {
            Sse::new(api.subscribe(json!({"model": "User"})).await)
        };
        let started = Instant::now();
        for _ in 0..3 {
            match sse.next().await {
                Item::Comment(text) => assert_eq!(text, "keep-alive"),
                other => panic!("expected a keep-alive, got {other:?}"),
            }
        }
        // The interval is the configured 100 ms; the bound below only rules out a busy loop.
        assert!(started.elapsed() >= Duration::from_millis(150));
        let response = send(
            api.anonymous(Method::POST, "/_control/disconnect")
                .bearer_auth(CONTROL_TOKEN)
                .json(&json!({"api": "pulse"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        sse.expect_end().await;
    }
    server.shutdown().await.unwrap();
}
