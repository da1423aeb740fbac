//! Pulse's request/response surface: health, the API key on every route, and error bodies.

use std::time::{Duration, SystemTime};

use reference_server::config::ReplicaIdentity::Default as DefaultIdentity;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{KEY, config, expect_error, send, server, start_with};
use crate::support::CONTROL_TOKEN;

/// A well-formed id that no event has.
pub const UNKNOWN_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

#[tokio::test]
async fn health_needs_no_key_and_reports_a_healthy_connected_service() {
    let (server, api) = server(&[]).await;
    for request in [
        api.anonymous(Method::GET, "/health"),
        api.anonymous(Method::GET, "/health").bearer_auth("wrong"),
        api.public(Method::GET, "/health"),
    ] {
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "healthy", "{body}");
        assert_eq!(body["replicationStatus"], "connected", "{body}");
        let timestamp = body["timestamp"].as_str().expect("a timestamp");
        let time = humantime::parse_rfc3339(timestamp).expect("RFC 3339");
        let skew = SystemTime::now()
            .duration_since(time)
            .unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_secs(60), "{timestamp}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_route_but_health_needs_the_api_key() {
    let (server, api) = server(&[("User", "id", DefaultIdentity)]).await;
    let stream = json!({"name": "s", "model": "User"});
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/streams".to_owned(), None),
        (Method::POST, "/streams".to_owned(), Some(stream.clone())),
        (Method::DELETE, "/streams/s".to_owned(), None),
        (Method::GET, "/streams/s/events".to_owned(), None),
        (
            Method::POST,
            "/subscribe".to_owned(),
            Some(json!({"model": "User"})),
        ),
        (Method::GET, format!("/events/{UNKNOWN_ID}"), None),
    ];
    for (method, path, body) in &routes {
        let with_body = |request: reqwest::RequestBuilder| match body {
            Some(body) => request.json(body),
            None => request,
        };
        let refused = [
            api.anonymous(method.clone(), path),
            api.anonymous(method.clone(), path).bearer_auth("wrong"),
            api.anonymous(method.clone(), path)
                .bearer_auth(CONTROL_TOKEN),
            api.anonymous(method.clone(), path)
                .header("authorization", format!("Basic {KEY}")),
            api.anonymous(method.clone(), path)
                .header("authorization", KEY),
        ];
        for request in refused {
            let response = send(with_body(request)).await;
            assert!(response.headers().contains_key("www-authenticate"));
            let body = expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
            assert!(body.get("meta").is_none(), "{method} {path}: {body}");
        }
    }
    // Nothing the refused requests carried took effect.
    assert_eq!(api.streams().await, Vec::<Value>::new());
    // With the key the same requests get past the check; the scheme is case-insensitive.
    let response = send(
        api.anonymous(Method::POST, "/streams")
            .header("authorization", format!("bearer {KEY}"))
            .json(&stream),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(api.public(Method::DELETE, "/streams/s")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The key is checked before the body is read.
    let response = send(
        api.anonymous(Method::POST, "/streams")
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_bodies_and_wrong_methods_get_pulse_error_bodies() {
    let mut config = config(&[("User", "id", DefaultIdentity)]);
    config.max_body_bytes = 1024;
    let (server, api) = start_with(config).await;
    for path in ["/streams", "/subscribe"] {
        let malformed = api
            .public(Method::POST, path)
            .header("content-type", "application/json")
            .body("{\"model\": ");
        let text_plain = api
            .public(Method::POST, path)
            .header("content-type", "text/plain")
            .body("{\"name\": \"s\", \"model\": \"User\"}");
        let no_type = api
            .public(Method::POST, path)
            .body("{\"name\": \"s\", \"model\": \"User\"}");
        let not_an_object = api.public(Method::POST, path).json(&json!(["User"]));
        let unknown_field = api
            .public(Method::POST, path)
            .json(&json!({"name": "s", "model": "User", "extra": 1}));
        let wrong_type = api
            .public(Method::POST, path)
            .json(&json!({"name": "s", "model": 7}));
        // Both bodies require `model` (and a stream's its `name`).
        let missing_fields = api.public(Method::POST, path).json(&json!({}));
        for request in [
            malformed,
            text_plain,
            no_type,
            not_an_object,
            unknown_field,
            wrong_type,
            missing_fields,
        ] {
            expect_error(
                send(request).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            )
            .await;
        }
        let big =
            json!({"name": "s", "model": "User", "filter": {"create": {"x": "y".repeat(2000)}}});
        // The seed documents 400 for a bad request to these operations, and no 413.
        let response = send(api.public(Method::POST, path).json(&big)).await;
        expect_error(response, StatusCode::BAD_REQUEST, "payload_too_large").await;
    }
    let response = send(
        api.control(Method::POST, "/models/User/rows")
            .header("content-type", "application/json")
            .body("{\"action\": \"create\", "),
    )
    .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    for (method, path) in [
        (Method::PUT, "/streams"),
        (Method::GET, "/subscribe"),
        (Method::POST, "/health"),
        (Method::POST, "/streams/s"),
        (Method::DELETE, "/events/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ] {
        let response = send(api.public(method, path)).await;
        expect_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
    server.shutdown().await.unwrap();
}
