//! Named streams: creation and listing, delivery from creation on, acknowledgement by `Last-Event-ID`, one consumer at a time, deletion.

use std::collections::BTreeSet;

use reference_server::config::ReplicaIdentity::Full;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, expect_error, ids, send, server};
use crate::support::CONTROL_TOKEN;

/// Creates user rows `from..to` and returns their event ids.
async fn create_users(api: &Api, from: u64, to: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for id in from..to {
        ids.push(
            api.row(
                "User",
                "create",
                json!({"id": id, "name": format!("user {id}")}),
            )
            .await,
        );
    }
    ids
}

#[tokio::test]
async fn a_stream_holds_the_events_after_its_creation_for_a_consumer_that_comes_later() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    let earlier = api.row("User", "create", json!({"id": 0})).await;
    let info = api.stream("users", "User", None).await;
    assert_eq!(info["name"], "users");
    assert_eq!(info["model"], "User");
    assert_eq!(info["status"], "paused");
    assert!(info.get("cursor").is_none(), "{info}");
    humantime::parse_rfc3339(info["createdAt"].as_str().unwrap()).expect("RFC 3339");
    let keys: BTreeSet<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["name", "model", "status", "createdAt"])
    );
    let committed = create_users(&api, 1, 4).await;
    let mut sse = api.consume("users", None).await;
    let delivered = sse.until_keepalive().await;
    assert_eq!(ids(&delivered), committed);
    assert!(!ids(&delivered).contains(&earlier));
    assert_eq!(
        delivered[0].1,
        json!({"id": committed[0], "action": "create", "modelName": "User",
               "created": {"id": 1, "name": "user 1"}})
    );
    // Then it follows live.
    let live = api
        .row("User", "update", json!({"id": 2, "name": "two"}))
        .await;
    let next = sse.take(1).await;
    assert_eq!(ids(&next), [live]);
    assert_eq!(next[0].1["after"], json!({"id": 2, "name": "two"}));
    assert_eq!(next[0].1["before"], json!({"id": 2, "name": "user 2"}));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn creating_listing_and_deleting_streams_answer_each_status() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    for name in ["b", "a", "c"] {
        api.stream(name, "User", Some(json!({"create": {}}))).await;
    }
    let body = expect_error(
        api.create_stream(json!({"name": "a", "model": "User"}))
            .await,
        StatusCode::CONFLICT,
        "stream_exists",
    )
    .await;
    assert_eq!(body["meta"]["stream"], "a");
    let long = "x".repeat(201);
    for bad in [
        json!({"name": "", "model": "User"}),
        json!({"name": "a/b", "model": "User"}),
        json!({"name": "a\u{1}b", "model": "User"}),
        json!({"name": long, "model": "User"}),
        json!({"model": "User"}),
        json!({"name": "d"}),
        json!({"name": null, "model": "User"}),
    ] {
        expect_error(
            api.create_stream(bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    let listed = api.streams().await;
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    for info in &listed {
        assert_eq!(info["model"], "User");
        assert_eq!(info["status"], "paused");
    }
    let response = send(api.public(Method::DELETE, "/streams/b")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    for (method, path) in [
        (Method::DELETE, "/streams/b"),
        (Method::DELETE, "/streams/nope"),
        (Method::GET, "/streams/b/events"),
        (Method::GET, "/streams/nope/events"),
    ] {
        let body = expect_error(
            send(api.public(method, path)).await,
            StatusCode::NOT_FOUND,
            "stream_not_found",
        )
        .await;
        assert!(body["meta"]["stream"].is_string(), "{body}");
    }
    let names: Vec<String> = api
        .streams()
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "c"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn last_event_id_acknowledges_and_a_reconnect_without_it_resumes_after_the_acknowledgement() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    let before_stream = api.row("User", "create", json!({"id": 0})).await;
    api.stream("s", "User", None).await;
    let e = create_users(&api, 1, 5).await;
    // Nothing acknowledged: every reconnect redelivers from the start (at-least-once).
    let mut sse = api.consume("s", None).await;
    assert_eq!(ids(&sse.until_keepalive().await), e);
    drop(sse);
    let mut sse = api.reconsume("s", None).await;
    assert_eq!(ids(&sse.until_keepalive().await), e);
    drop(sse);
    assert!(api.info("s").await.unwrap().get("cursor").is_none());
    // Acknowledge e[1]: delivery resumes strictly after it, and it is saved.
    let mut sse = api.reconsume("s", Some(&e[1])).await;
    assert_eq!(ids(&sse.until_keepalive().await), e[2..]);
    let info = api.info("s").await.unwrap();
    assert_eq!(info["cursor"], e[1].as_str());
    assert_eq!(info["status"], "active");
    drop(sse);
    let mut sse = api.reconsume("s", None).await;
    assert_eq!(ids(&sse.until_keepalive().await), e[2..]);
    drop(sse);
    // Acknowledge everything, then follow live.
    let mut sse = api.reconsume("s", Some(&e[3])).await;
    assert_eq!(ids(&sse.until_keepalive().await), Vec::<String>::new());
    let live = api.row("User", "delete", json!({"id": 1})).await;
    assert_eq!(ids(&sse.take(1).await), std::slice::from_ref(&live));
    drop(sse);
    // An older id rewinds the cursor: the consumer asked to see the rest again.
    let mut sse = api.reconsume("s", Some(&e[0])).await;
    let mut expected = e[1..].to_vec();
    expected.push(live.clone());
    assert_eq!(ids(&sse.until_keepalive().await), expected);
    drop(sse);
    // Bad cursors are refused (404: the seed documents no 400 for consuming) and move nothing.
    for bad in [
        "garbage".to_owned(),
        "01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
        e[0].to_lowercase(),
    ] {
        let response = api.reconsume_response("s", Some(&bad)).await;
        expect_error(response, StatusCode::NOT_FOUND, "invalid_cursor").await;
    }
    assert_eq!(api.info("s").await.unwrap()["cursor"], e[0].as_str());
    // An id from before the stream existed acknowledges nothing of it.
    let mut sse = api.reconsume("s", Some(&before_stream)).await;
    let mut everything = e.clone();
    everything.push(live);
    assert_eq!(ids(&sse.until_keepalive().await), everything);
    assert!(api.info("s").await.unwrap().get("cursor").is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_consumer_takes_the_stream_over_and_the_first_ends() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    api.stream("s", "User", None).await;
    let e = create_users(&api, 1, 3).await;
    let mut first = api.consume("s", None).await;
    assert_eq!(ids(&first.until_keepalive().await), e);
    assert_eq!(api.info("s").await.unwrap()["status"], "active");
    // The seed documents no status to refuse a second consumer: it takes
    // the stream over, acknowledging as any consumer does, and the first ends.
    let mut second = api.consume("s", Some(&e[0])).await;
    first.expect_end().await;
    assert_eq!(ids(&second.until_keepalive().await), e[1..]);
    assert_eq!(api.info("s").await.unwrap()["cursor"], e[0].as_str());
    assert_eq!(api.info("s").await.unwrap()["status"], "active");
    let live = api.row("User", "create", json!({"id": 9})).await;
    assert_eq!(ids(&second.take(1).await), std::slice::from_ref(&live));
    // A forced disconnect ends the holder and frees the name.
    let response = send(
        api.anonymous(Method::POST, "/_control/disconnect")
            .bearer_auth(CONTROL_TOKEN)
            .json(&json!({"api": "pulse"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    second.expect_end().await;
    assert_eq!(api.info("s").await.unwrap()["status"], "paused");
    // Without Last-Event-ID, the next consumer resumes after what the second acknowledged.
    let mut third = api.consume("s", None).await;
    assert_eq!(ids(&third.until_keepalive().await), [e[1].clone(), live]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleting_a_stream_ends_its_consumer_and_a_new_stream_of_that_name_starts_fresh() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    api.stream("s", "User", None).await;
    let old = create_users(&api, 1, 3).await;
    let mut consumer = api.consume("s", Some(&old[0])).await;
    assert_eq!(ids(&consumer.until_keepalive().await), old[1..]);
    let response = send(api.public(Method::DELETE, "/streams/s")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    consumer.expect_end().await;
    assert!(api.info("s").await.is_none());
    let between = create_users(&api, 3, 4).await;
    let info = api.stream("s", "User", Some(json!({"create": {}}))).await;
    assert_eq!(info["status"], "paused");
    assert!(info.get("cursor").is_none(), "{info}");
    let fresh = create_users(&api, 4, 6).await;
    // The old stream's acknowledgement and events are gone; so is what came between.
    let mut consumer = api.consume("s", Some(&old[1])).await;
    let delivered = consumer.until_keepalive().await;
    assert_eq!(ids(&delivered), fresh);
    assert!(!ids(&delivered).contains(&between[0]));
    drop(consumer);
    let mut consumer = api.reconsume("s", None).await;
    assert_eq!(ids(&consumer.until_keepalive().await), fresh);
    let infos: Vec<Value> = api.streams().await;
    assert_eq!(infos.len(), 1);
    server.shutdown().await.unwrap();
}
