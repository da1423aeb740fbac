//! Environments: an API key names one; its named streams are its own, while models and their events are shared.

use reference_server::config::ReplicaIdentity::Full;
use reference_server::defects::Defects;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::{Api, KEY, Sse, config, expect_error, ids, send, server, start_with};

/// The dev key of the second environment.
const KEY_2: &str = "pulse_test_key_2";

fn with_key(api: &Api, key: &str, method: Method, path: &str) -> RequestBuilder {
    api.anonymous(method, path).bearer_auth(key)
}

/// The names `GET /streams` lists with `key`, and their statuses.
async fn listed(api: &Api, key: &str) -> Vec<(String, String)> {
    let response = send(with_key(api, key, Method::GET, "/streams")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|info| {
            let field = |name: &str| info[name].as_str().unwrap().to_owned();
            (field("name"), field("status"))
        })
        .collect()
}

async fn create(api: &Api, key: &str, name: &str) -> StatusCode {
    let body = json!({"name": name, "model": "User"});
    send(with_key(api, key, Method::POST, "/streams").json(&body))
        .await
        .status()
}

fn paused(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|name| ((*name).to_owned(), "paused".to_owned()))
        .collect()
}

#[tokio::test]
async fn another_environments_key_neither_lists_consumes_nor_deletes_a_stream() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    assert_eq!(create(&api, KEY, "orders").await, StatusCode::CREATED);
    assert_eq!(listed(&api, KEY_2).await, []);
    for (method, path) in [
        (Method::GET, "/streams/orders/events"),
        (Method::DELETE, "/streams/orders"),
        // A name with '/' is no way into another environment either.
        (Method::DELETE, "/streams/second%2Forders"),
        (Method::GET, "/streams/default%2Forders/events"),
    ] {
        expect_error(
            send(with_key(&api, KEY_2, method.clone(), path)).await,
            StatusCode::NOT_FOUND,
            "stream_not_found",
        )
        .await;
    }
    assert_eq!(listed(&api, KEY).await, paused(&["orders"]));
    // The same name is free in the other environment, and a stream of its own.
    assert_eq!(create(&api, KEY_2, "orders").await, StatusCode::CREATED);
    assert_eq!(create(&api, KEY_2, "audit").await, StatusCode::CREATED);
    assert_eq!(create(&api, KEY, "orders").await, StatusCode::CONFLICT);
    assert_eq!(listed(&api, KEY).await, paused(&["orders"]));
    assert_eq!(listed(&api, KEY_2).await, paused(&["audit", "orders"]));
    let response = send(with_key(&api, KEY_2, Method::DELETE, "/streams/orders")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(&api, KEY).await, paused(&["orders"]));
    assert_eq!(listed(&api, KEY_2).await, paused(&["audit"]));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn models_and_events_are_shared_and_each_environment_has_its_own_consumer_and_cursor() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    assert_eq!(create(&api, KEY, "users").await, StatusCode::CREATED);
    assert_eq!(create(&api, KEY_2, "users").await, StatusCode::CREATED);
    let id = api.row("User", "create", json!({"id": 1})).await;
    let lookup = send(with_key(&api, KEY_2, Method::GET, &format!("/events/{id}"))).await;
    assert_eq!(lookup.status(), StatusCode::OK);
    // Both consumers at once: neither takes the other's stream over.
    let mut first = Sse::new(send(with_key(&api, KEY, Method::GET, "/streams/users/events")).await);
    let mut second =
        Sse::new(send(with_key(&api, KEY_2, Method::GET, "/streams/users/events")).await);
    assert_eq!(ids(&first.until_keepalive().await), vec![id.clone()]);
    assert_eq!(ids(&second.until_keepalive().await), vec![id.clone()]);
    let active = vec![("users".to_owned(), "active".to_owned())];
    assert_eq!(listed(&api, KEY).await, active);
    assert_eq!(listed(&api, KEY_2).await, active);
    // An acknowledgement moves only its own environment's cursor.
    drop(first);
    let acknowledged = with_key(&api, KEY, Method::GET, "/streams/users/events")
        .header("last-event-id", id.as_str());
    let _first = Sse::new(send(acknowledged).await);
    let cursor = |key| {
        let api = &api;
        async move {
            let response = send(with_key(api, key, Method::GET, "/streams")).await;
            let body: Value = response.json().await.expect("json");
            body["data"][0].get("cursor").cloned()
        }
    };
    assert_eq!(cursor(KEY).await, Some(json!(id)));
    assert_eq!(cursor(KEY_2).await, None);
    drop(second);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn under_streams_ignore_environment_every_key_sees_every_stream() {
    let mut config = config(&[("User", "id", Full)]);
    config.defects = Defects::parse(&["streams-ignore-environment"]).unwrap();
    let (server, api) = start_with(config).await;
    assert_eq!(create(&api, KEY, "orders").await, StatusCode::CREATED);
    assert_eq!(listed(&api, KEY_2).await, paused(&["orders"]));
    let response = send(with_key(&api, KEY_2, Method::DELETE, "/streams/orders")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(&api, KEY).await, []);
    server.shutdown().await.unwrap();
}
