//! What time is the subject of, under paused time: each API's keep-alive on the one follower, token expiry and the history window; the in-process router on a memory store, read to the instant.
//!
//! The follower's own waits are tested in `src/core/follow/tests.rs`; here
//! each API's framing sits on top: what its idle frame is, that it comes after
//! exactly the configured interval, and that a record in between restarts the
//! wait. No socket is involved, so tokio's paused clock moves only when every
//! task waits on a timer.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Request, header};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use reference_server::app::{AppState, app};
use reference_server::config::{Config, DEFAULT_CONTROL_TOKEN};
use reference_server::server::open_log;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const INTERVAL: Duration = Duration::from_secs(20);

fn router(config: Config) -> Router {
    let log = open_log(&config).expect("a memory store");
    app(AppState::new(config, log, CancellationToken::new()).expect("the state"))
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).expect("a request")
}

/// A finite answer's JSON; the request must succeed.
async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let response = router
        .clone()
        .oneshot(request(method, path, token, Some(body)))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("the body");
    assert!(status.is_success(), "{path}: {status} {bytes:?}");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// A control request's JSON answer.
async fn control(router: &Router, path: &str, body: Value) -> Value {
    call(router, "POST", path, Some(DEFAULT_CONTROL_TOKEN), body).await
}

/// A stream's body, chunk by chunk.
async fn open(router: &Router, request: Request<Body>) -> BoxStream<'static, Bytes> {
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert!(response.status().is_success(), "{}", response.status());
    response
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.expect("a chunk"))
        .boxed()
}

/// The next chunk, and how long the paused clock moved for it.
async fn next(body: &mut BoxStream<'static, Bytes>) -> (String, Duration) {
    let start = Instant::now();
    let chunk = body.next().await.expect("the stream goes on");
    (
        String::from_utf8_lossy(&chunk).into_owned(),
        start.elapsed(),
    )
}

/// Reads chunks until one holds `wanted`, none of them after any wait.
async fn read_to(body: &mut BoxStream<'static, Bytes>, wanted: &str) {
    loop {
        let (chunk, waited) = next(body).await;
        assert_eq!(waited, Duration::ZERO, "{chunk:?} came at once");
        if chunk.contains(wanted) {
            return;
        }
    }
}

/// Idle, the stream sends `keepalive` after exactly [`INTERVAL`], twice;
/// `write` in the middle of a wait sends a record at once and restarts it.
async fn keeps_pace<W: std::future::Future<Output = Value>>(
    mut body: BoxStream<'static, Bytes>,
    keepalive: &str,
    wanted: &str,
    write: W,
) {
    for _ in 0..2 {
        let (chunk, waited) = next(&mut body).await;
        assert_eq!((chunk.as_str(), waited), (keepalive, INTERVAL));
    }
    tokio::time::sleep(INTERVAL / 2).await;
    write.await;
    read_to(&mut body, wanted).await;
    let (chunk, waited) = next(&mut body).await;
    assert_eq!(
        (chunk.as_str(), waited),
        (keepalive, INTERVAL),
        "the record restarted the wait"
    );
}

#[tokio::test(start_paused = true)]
async fn fibric_sends_a_keepalive_comment_after_each_idle_interval() {
    let mut config = Config::ephemeral();
    config.fibric.keepalive = INTERVAL;
    let router = router(config);
    let key = Some("sk_test_tenant_a");
    let body = open(&router, request("GET", "/v1/events/stream", key, None)).await;
    let envelope = json!({"tenant_id": "tn_a", "event_type": "paced.one", "source": "s"});
    let write = control(&router, "/_control/fibric/envelopes", envelope);
    keeps_pace(body, ": keep-alive\n\n", "paced.one", write).await;
}

#[tokio::test(start_paused = true)]
async fn pulse_sends_a_keepalive_comment_after_each_idle_interval() {
    let mut config = Config::ephemeral();
    config.pulse.keepalive = INTERVAL;
    let router = router(config);
    control(
        &router,
        "/_control/pulse/models",
        json!({"name": "User", "primary_key": "id"}),
    )
    .await;
    let subscribe = request(
        "POST",
        "/subscribe",
        Some("pulse_test_key"),
        Some(json!({"model": "User"})),
    );
    let body = open(&router, subscribe).await;
    let row = json!({"action": "create", "row": {"id": "u1", "name": "paced"}});
    let write = control(&router, "/_control/pulse/models/User/rows", row);
    keeps_pace(body, ": keep-alive\n\n", "paced", write).await;
}

#[tokio::test(start_paused = true)]
async fn fauna_sends_a_status_event_after_each_idle_interval() {
    let mut config = Config::ephemeral();
    config.fauna.status_interval = INTERVAL;
    let router = router(config);
    control(
        &router,
        "/_control/fauna/collections",
        json!({"name": "Paced"}),
    )
    .await;
    let token = control(
        &router,
        "/_control/fauna/tokens",
        json!({"collection": "Paced"}),
    )
    .await;
    let stream = request(
        "POST",
        "/stream/1",
        Some("fauna_test_secret"),
        Some(json!({"token": token["token"]})),
    );
    let mut body = open(&router, stream).await;
    let (first, waited) = next(&mut body).await;
    assert!(
        first.starts_with(r#"{"type":"status""#) && waited.is_zero(),
        "{first}"
    );
    let write = control(
        &router,
        "/_control/fauna/documents",
        json!({"collection": "Paced", "op": "create", "data": {"name": "paced"}}),
    );
    let mut statuses = body
        .map(|chunk| {
            let text = String::from_utf8_lossy(&chunk).into_owned();
            // Each status names the cursor and time it was sent at: keep the type only.
            if text.starts_with(r#"{"type":"status""#) {
                Bytes::from("status")
            } else {
                Bytes::from(text)
            }
        })
        .boxed();
    let (chunk, waited) = next(&mut statuses).await;
    assert_eq!((chunk.as_str(), waited), ("status", INTERVAL));
    keeps_pace(statuses, "status", "paced", write).await;
}

#[tokio::test(start_paused = true)]
async fn actyx_sends_a_blank_line_after_each_idle_interval() {
    let mut config = Config::ephemeral();
    config.actyx.keepalive = INTERVAL;
    let router = router(config);
    let manifest =
        json!({"appId": "com.example.paced", "displayName": "Paced", "version": "1.0.0"});
    let login = call(&router, "POST", "/api/v2/auth", None, manifest).await;
    let token = login["token"].as_str().expect("a token").to_owned();
    let subscribe = request(
        "POST",
        "/api/v2/events/subscribe",
        Some(&token),
        Some(json!({"query": "FROM 'paced'"})),
    );
    let mut body = open(&router, subscribe).await;
    read_to(&mut body, r#""type":"offsets""#).await;
    let publish = json!({"data": [{"tags": ["paced"], "payload": {"n": 1}}]});
    let write = call(
        &router,
        "POST",
        "/api/v2/events/publish",
        Some(&token),
        publish,
    );
    keeps_pace(body, "\n", r#""n":1"#, write).await;
}

/// A request's status and JSON body, whatever the status.
async fn answer(router: &Router, request: Request<Body>) -> (u16, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("the body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(start_paused = true)]
async fn an_expired_at_protocol_access_token_is_expired_token() {
    let mut config = Config::ephemeral();
    config.atproto.access_validity = Duration::from_secs(60);
    let router = router(config);
    let account = json!({"handle": "alice.test", "password": "secret-password", "email": "alice@example.com"});
    let alice = call(
        &router,
        "POST",
        "/xrpc/com.atproto.server.createAccount",
        None,
        account,
    )
    .await;
    let access = alice["accessJwt"].as_str().expect("an access token");
    let record = json!({"repo": alice["did"], "collection": "app.bsky.feed.post",
        "record": {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2026-01-01T00:00:00.000Z"}});
    let create = || {
        request(
            "POST",
            "/xrpc/com.atproto.repo.createRecord",
            Some(access),
            Some(record.clone()),
        )
    };
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        answer(&router, create()).await.0,
        200,
        "a second before it expires"
    );
    tokio::time::advance(Duration::from_millis(1001)).await;
    let (status, body) = answer(&router, create()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ExpiredToken"))
    );
}

#[tokio::test(start_paused = true)]
async fn actyx_tokens_expire_after_their_validity() {
    let mut config = Config::ephemeral();
    config.actyx.token_validity = Duration::from_secs(60);
    let router = router(config);
    let manifest =
        json!({"appId": "com.example.paced", "displayName": "Paced", "version": "1.0.0"});
    let login = call(&router, "POST", "/api/v2/auth", None, manifest).await;
    let token = login["token"].as_str().expect("a token");
    let offsets = || request("GET", "/api/v2/events/offsets", Some(token), None);
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        answer(&router, offsets()).await.0,
        200,
        "a second before it expires"
    );
    tokio::time::advance(Duration::from_millis(1001)).await;
    let (status, body) = answer(&router, offsets()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["message"].as_str()),
        (401, Some("ERR_TOKEN_EXPIRED"), Some("Expired token."))
    );
}

#[tokio::test(start_paused = true)]
async fn a_fauna_start_older_than_the_history_window_is_an_error_event_that_ends_the_stream() {
    let router = router(Config::ephemeral());
    let brief = json!({"name": "Brief", "history_days": 0});
    control(&router, "/_control/fauna/collections", brief).await;
    let token = control(
        &router,
        "/_control/fauna/tokens",
        json!({"collection": "Brief"}),
    )
    .await;
    tokio::time::advance(Duration::from_millis(5)).await;
    let stream = request(
        "POST",
        "/stream/1",
        Some("fauna_test_secret"),
        Some(json!({"token": token["token"]})),
    );
    let response = router.clone().oneshot(stream).await.expect("infallible");
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body that ends");
    let events: Vec<Value> = String::from_utf8_lossy(&body)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["type"], "status");
    assert_eq!(events[1]["error"]["code"], "invalid_stream_start_time");
    let message = events[1]["error"]["message"].as_str().expect("a message");
    assert!(message.contains("is too far in the past"), "{message}");
}
