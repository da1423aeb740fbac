//! Auth, the node id, and the node's error answers for headers, bodies, paths and methods.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Ax, expect_error, send, server};

#[tokio::test]
async fn node_id_is_plain_text_without_auth_or_newline() {
    let (_server, ax) = server().await;
    let response = send(ax.http.get(format!("{}/api/v2/node/id", ax.base))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let id = response.text().await.unwrap();
    assert_eq!(id.len(), 43, "{id:?}");
    assert!(
        id.bytes()
            .all(|b| b == b'.' || b == b'/' || b.is_ascii_alphanumeric())
    );
    let response = send(
        ax.http
            .get(format!("{}/api/v2/node/id", ax.base))
            .header("accept", "application/json"),
    )
    .await;
    let message = expect_error(response, StatusCode::NOT_ACCEPTABLE, "ERR_NOT_ACCEPTABLE").await;
    assert!(message.contains("*/*, text/plain"), "{message}");
}

#[tokio::test]
async fn trial_apps_get_tokens_and_others_are_refused() {
    let (_server, ax) = server().await;
    let auth = |body: Value| send(ax.http.post(format!("{}/api/v2/auth", ax.base)).json(&body));
    let response =
        auth(json!({"appId": "com.example.x", "displayName": "X", "version": "1"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "only the token: {body}");
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));

    let message = expect_error(
        auth(json!({"appId": "com.acme.x", "displayName": "X", "version": "1"})).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert!(
        message.contains("Trial app id needs to start with 'com.example.'"),
        "{message}"
    );
    for bad in ["", "Com.Example.x", "com..example", "com.example.x."] {
        expect_error(
            auth(json!({"appId": bad, "displayName": "X", "version": "1"})).await,
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
        )
        .await;
    }
    let message = expect_error(
        auth(json!({"appId": "com.example.x", "displayName": "X"})).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert!(message.contains("missing field `version`"), "{message}");
    expect_error(
        auth(json!({"appId": "com.example.x", "displayName": "X", "version": "1", "signature": "abc"})).await,
        StatusCode::BAD_REQUEST,
        "ERR_MANIFEST_INVALID",
    )
    .await;
}

#[tokio::test]
async fn tokens_travel_in_the_header_or_the_query_and_bad_ones_get_the_node_codes() {
    let (_server, ax) = server().await;
    let offsets = format!("{}/api/v2/events/offsets", ax.base);
    let get = |builder: reqwest::RequestBuilder| send(builder);

    let response = get(ax.http.get(format!("{offsets}?access_token={}", ax.token))).await;
    assert_eq!(response.status(), StatusCode::OK);

    let message = expect_error(
        get(ax.http.get(&offsets)).await,
        StatusCode::UNAUTHORIZED,
        "ERR_MISSING_AUTH_HEADER",
    )
    .await;
    assert_eq!(message, "\"Authorization\" header is missing.");
    let message = expect_error(
        get(ax
            .http
            .get(&offsets)
            .header("authorization", format!("Basic {}", ax.token)))
        .await,
        StatusCode::UNAUTHORIZED,
        "ERR_UNSUPPORTED_AUTH_TYPE",
    )
    .await;
    assert!(message.contains("'Basic'"), "{message}");
    let message = expect_error(
        get(ax.http.get(&offsets).bearer_auth("invalid")).await,
        StatusCode::BAD_REQUEST,
        "ERR_TOKEN_INVALID",
    )
    .await;
    assert!(message.contains("Cannot parse token bytes."), "{message}");
    expect_error(
        get(ax.http.get(&offsets).bearer_auth("aGVsbG8gd29ybGQ=")).await,
        StatusCode::BAD_REQUEST,
        "ERR_TOKEN_INVALID",
    )
    .await;
    // A token of another node (another server) is not signed by this one.
    let (_other, stranger) = server().await;
    expect_error(
        get(ax.http.get(&offsets).bearer_auth(&stranger.token)).await,
        StatusCode::UNAUTHORIZED,
        "ERR_TOKEN_UNAUTHORIZED",
    )
    .await;
    // A flipped byte in the claims breaks the MAC.
    let mut bytes = base64_decode(&ax.token);
    bytes[8] ^= 1;
    expect_error(
        get(ax.http.get(&offsets).bearer_auth(base64_encode(&bytes))).await,
        StatusCode::UNAUTHORIZED,
        "ERR_TOKEN_UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn accept_content_type_body_path_and_method_errors() {
    let (_server, ax) = server().await;
    let query = json!({"query": "FROM allEvents", "order": "asc"});
    let message = expect_error(
        send(
            ax.post("query", &query)
                .header("accept", "application/json"),
        )
        .await,
        StatusCode::NOT_ACCEPTABLE,
        "ERR_NOT_ACCEPTABLE",
    )
    .await;
    assert_eq!(
        message,
        "Content with type 'application/json' was requested but the resource is only capable of generating content of the following type(s): */*, application/x-ndjson."
    );
    let response = send(
        ax.post("query", &query)
            .header("accept", "text/html, application/x-ndjson"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    expect_error(
        send(
            ax.post("publish", &json!({"data": []}))
                .header("accept", "text/html"),
        )
        .await,
        StatusCode::NOT_ACCEPTABLE,
        "ERR_NOT_ACCEPTABLE",
    )
    .await;
    let message = expect_error(
        send(
            ax.http
                .post(format!("{}/api/v2/events/publish", ax.base))
                .bearer_auth(&ax.token)
                .header("content-type", "text/plain")
                .body(r#"{"data": []}"#),
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "ERR_UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    assert_eq!(message, "The request's content-type is not supported.");
    // No content type at all is fine, and so is a charset parameter.
    let response = send(
        ax.http
            .post(format!("{}/api/v2/events/publish", ax.base))
            .bearer_auth(&ax.token)
            .body(r#"{"data": []}"#),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"data": []}));

    let message = expect_error(
        send(
            ax.http
                .post(format!("{}/api/v2/events/publish", ax.base))
                .bearer_auth(&ax.token)
                .header("content-type", "application/json; charset=utf-8")
                .body("Jason vs. Freddy"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert_eq!(
        message,
        "Invalid request. expected value at line 1 column 1"
    );
    let message = expect_error(
        send(ax.post("publish", &json!({}))).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert_eq!(
        message,
        "Invalid request. missing field `data` at line 1 column 2"
    );
    expect_error(
        send(ax.post("query", &json!({"query": "FROM allEvents"}))).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    // Auth comes before the body: a bad body without a token is a 401.
    expect_error(
        send(
            ax.http
                .post(format!("{}/api/v2/events/publish", ax.base))
                .body("nope"),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "ERR_MISSING_AUTH_HEADER",
    )
    .await;
    expect_error(
        send(ax.http.get(format!("{}/api/v2/events/nope", ax.base))).await,
        StatusCode::NOT_FOUND,
        "ERR_NOT_FOUND",
    )
    .await;
    expect_error(
        send(ax.http.post(format!("{}/api/v2/events/offsets", ax.base))).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "ERR_METHOD_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_and_change_nothing() {
    let mut config = reference_server::config::Config::ephemeral();
    config.max_body_bytes = 1024;
    let running = reference_server::server::start(config).await.unwrap();
    let ax = Ax::new(&running.base_url()).await;
    let before = ax.offsets().await;
    let big = "x".repeat(4096);
    expect_error(
        send(ax.post(
            "publish",
            &json!({"data": [{"tags": ["a"], "payload": big}]}),
        ))
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "ERR_PAYLOAD_TOO_LARGE",
    )
    .await;
    assert_eq!(ax.offsets().await, before);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
