//! Hostile request bodies on every body-taking endpoint of every API: over the size limit (sized and streamed) and nested past any sane depth.

use std::time::{Duration, Instant};

use reference_server::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Counted;
use crate::support::CONTROL_TOKEN;

/// The limit the server runs with: room for 100,000 `[` but not for the oversized bodies.
const LIMIT: usize = 200_000;
/// Where a template takes a free-form JSON value (a payload, a record, a row).
const HOLE: &str = "\"@HOLE@\"";

/// The error shapes of the five APIs and the server's own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The server's routes and Fauna: `{"error": {"code", "message"}}`.
    Nested,
    /// Pulse and Actyx: `{"code", "message"}`.
    Flat,
    /// XRPC: `{"error", "message"}`.
    Xrpc,
}

impl Shape {
    /// The error's code and message, or `None` if the body is not in this shape.
    fn read(self, body: &Value) -> Option<(String, String)> {
        let (code, message) = match self {
            Shape::Nested => (&body["error"]["code"], &body["error"]["message"]),
            Shape::Flat => (&body["code"], &body["message"]),
            Shape::Xrpc => (&body["error"], &body["message"]),
        };
        let (code, message) = (code.as_str()?, message.as_str()?);
        (!code.is_empty() && !message.is_empty()).then(|| (code.to_owned(), message.to_owned()))
    }
}

/// One endpoint that takes a JSON body.
struct Endpoint {
    path: String,
    bearer: Option<String>,
    shape: Shape,
    /// The code of the API's answer to a body over the limit.
    too_large: &'static str,
    /// A valid body with [`HOLE`] where any JSON value may go.
    template: String,
    /// Whether the hole is a value the endpoint reads (a payload, a record),
    /// rather than an unknown field that serde skips without recursing.
    free: bool,
}

/// Every body-taking endpoint, with the credentials set up on `server`.
async fn endpoints(server: &Counted) -> Vec<Endpoint> {
    let base = &server.base;
    let http = reqwest::Client::new();
    // Pulse rows need a model; Actyx and XRPC writes need a token.
    let response = http
        .post(format!("{base}/_control/pulse/models"))
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({"name": "Item", "primary_key": "id"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "declare a Pulse model");
    let actyx = crate::actyx::Ax::new(base).await.token;
    let (did, access) = create_account(base).await;
    let did = &did;

    let control = Some(CONTROL_TOKEN.to_owned());
    let pulse = Some(crate::pulse::KEY.to_owned());
    let fauna = Some(crate::fauna::SECRET.to_owned());
    let actyx = Some(actyx);
    let access = Some(access);
    let create = json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "value": "@HOLE@"});
    // path, credential, error shape, the 413's code, a body template, whether its hole is read.
    let rows = [
        (
            "/_control/log/scratch.abuse".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"records\": [{HOLE}]}}"),
            true,
        ),
        (
            "/_control/fibric/envelopes".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!(
                "{{\"envelopes\": [{{\"tenant_id\": \"tn_a\", \"event_type\": \"t\", \"source\": \"s\", \"payload\": {HOLE}}}]}}"
            ),
            true,
        ),
        (
            "/_control/fibric/trim".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"tenant_id\": \"tn_a\", \"keep_last\": 1, \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/_control/pulse/models".to_owned(),
            &control,
            Shape::Flat,
            "payload_too_large",
            format!("{{\"name\": \"Other\", \"primary_key\": \"id\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/_control/pulse/models/Item/rows".to_owned(),
            &control,
            Shape::Flat,
            "payload_too_large",
            format!("{{\"action\": \"create\", \"row\": {{\"id\": 1, \"x\": {HOLE}}}}}"),
            true,
        ),
        (
            "/streams".to_owned(),
            &pulse,
            Shape::Flat,
            "payload_too_large",
            format!("{{\"name\": \"s\", \"model\": \"Item\", \"filter\": {HOLE}}}"),
            true,
        ),
        (
            "/subscribe".to_owned(),
            &pulse,
            Shape::Flat,
            "payload_too_large",
            format!("{{\"model\": \"Item\", \"filter\": {HOLE}}}"),
            true,
        ),
        (
            "/query/1".to_owned(),
            &fauna,
            Shape::Nested,
            "request_size_exceeded",
            format!("{{\"query\": {{\"fql\": [\"1\"]}}, \"arguments\": {{\"x\": {HOLE}}}}}"),
            true,
        ),
        (
            "/stream/1".to_owned(),
            &fauna,
            Shape::Nested,
            "request_size_exceeded",
            format!("{{\"token\": \"t\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/feed/1".to_owned(),
            &fauna,
            Shape::Nested,
            "request_size_exceeded",
            format!("{{\"token\": \"t\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/_control/fauna/collections".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"name\": \"C\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/_control/fauna/documents".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"collection\": \"C\", \"op\": \"create\", \"data\": {{\"x\": {HOLE}}}}}"),
            true,
        ),
        (
            "/_control/fauna/tokens".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"collection\": \"C\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/api/v2/auth".to_owned(),
            &None,
            Shape::Flat,
            "ERR_PAYLOAD_TOO_LARGE",
            format!(
                "{{\"appId\": \"com.example.app\", \"displayName\": \"d\", \"version\": \"1\", \"x\": {HOLE}}}"
            ),
            false,
        ),
        (
            "/api/v2/events/publish".to_owned(),
            &actyx,
            Shape::Flat,
            "ERR_PAYLOAD_TOO_LARGE",
            format!("{{\"data\": [{{\"tags\": [\"t\"], \"payload\": {HOLE}}}]}}"),
            true,
        ),
        (
            "/api/v2/events/query".to_owned(),
            &actyx,
            Shape::Flat,
            "ERR_PAYLOAD_TOO_LARGE",
            format!("{{\"query\": \"FROM allEvents\", \"order\": \"asc\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/api/v2/events/subscribe".to_owned(),
            &actyx,
            Shape::Flat,
            "ERR_PAYLOAD_TOO_LARGE",
            format!("{{\"query\": \"FROM allEvents\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/api/v2/events/subscribe_monotonic".to_owned(),
            &actyx,
            Shape::Flat,
            "ERR_PAYLOAD_TOO_LARGE",
            format!(
                "{{\"session\": \"s\", \"query\": \"FROM allEvents\", \"lowerBound\": {{}}, \"x\": {HOLE}}}"
            ),
            false,
        ),
        (
            "/_control/actyx/replicate".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"stream\": \"s\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/xrpc/com.atproto.server.createAccount".to_owned(),
            &None,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!("{{\"handle\": \"other.test\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/xrpc/com.atproto.server.createSession".to_owned(),
            &None,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!("{{\"identifier\": \"abuse.test\", \"password\": \"p\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            "/xrpc/com.atproto.repo.createRecord".to_owned(),
            &access,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!(
                "{{\"repo\": \"{did}\", \"collection\": \"app.bsky.feed.post\", \"record\": {HOLE}}}"
            ),
            true,
        ),
        (
            "/xrpc/com.atproto.repo.putRecord".to_owned(),
            &access,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!(
                "{{\"repo\": \"{did}\", \"collection\": \"app.bsky.feed.post\", \"rkey\": \"k\", \"record\": {HOLE}}}"
            ),
            true,
        ),
        (
            "/xrpc/com.atproto.repo.deleteRecord".to_owned(),
            &access,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!(
                "{{\"repo\": \"{did}\", \"collection\": \"app.bsky.feed.post\", \"rkey\": \"k\", \"x\": {HOLE}}}"
            ),
            false,
        ),
        (
            "/xrpc/com.atproto.repo.applyWrites".to_owned(),
            &access,
            Shape::Xrpc,
            "PayloadTooLarge",
            format!("{{\"repo\": \"{did}\", \"writes\": [{create}]}}"),
            true,
        ),
        (
            "/_control/atproto/labels".to_owned(),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"uri\": \"{did}\", \"val\": \"spam\", \"x\": {HOLE}}}"),
            false,
        ),
        (
            format!("/_control/atproto/accounts/{did}/status"),
            &control,
            Shape::Nested,
            "body_too_large",
            format!("{{\"active\": true, \"x\": {HOLE}}}"),
            false,
        ),
    ];
    rows.into_iter()
        .map(
            |(path, bearer, shape, too_large, template, free)| Endpoint {
                path,
                bearer: bearer.clone(),
                shape,
                too_large,
                template,
                free,
            },
        )
        .collect()
}

/// An AT Protocol account: its DID and access token.
async fn create_account(base: &str) -> (String, String) {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/xrpc/com.atproto.server.createAccount"))
        .json(&json!({"handle": "abuse.test", "password": "secret-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let field = |name: &str| body[name].as_str().expect(name).to_owned();
    (field("did"), field("accessJwt"))
}

/// `levels` nested arrays around a number, closed.
fn nested_arrays(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// The bodies that must each get a 4xx: nesting far past any limit (open
/// and closed, arrays and objects) and just past serde_json's 128 levels as
/// the whole body, and (`true`, a 400) just past it inside the endpoint's
/// free-form value, where the parser has to descend.
fn nested_bodies(endpoint: &Endpoint) -> Vec<(&'static str, String, bool)> {
    let objects = 25_000;
    let mut bodies = vec![
        ("100,000 open [", "[".repeat(100_000), false),
        (
            "25,000 {\"a\": levels",
            format!("{}1{}", "{\"a\": ".repeat(objects), "}".repeat(objects)),
            false,
        ),
        ("129 levels as the body", nested_arrays(129), false),
    ];
    if endpoint.free {
        let body = endpoint.template.replace(HOLE, &nested_arrays(129));
        bodies.push(("129 levels in the free value", body, true));
    }
    bodies
}

async fn post(server: &Counted, endpoint: &Endpoint, body: reqwest::Body) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{}", server.base, endpoint.path))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(10))
        .body(body);
    if let Some(bearer) = &endpoint.bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{} answered {status} with non-JSON {text:?}", endpoint.path));
    (status, body)
}

/// A body of `size` bytes streamed in 8 KiB chunks, without a Content-Length.
fn streamed(text: String) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(8192)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Proof that the server still serves each API: a read on each.
async fn still_serves(server: &Counted) {
    let base = &server.base;
    let http = reqwest::Client::new();
    let started = Instant::now();
    for (path, bearer) in [
        ("/v1/events", crate::fibric::KEY_A),
        ("/streams", crate::pulse::KEY),
        ("/_control/stats", CONTROL_TOKEN),
        ("/xrpc/com.atproto.server.describeServer", CONTROL_TOKEN),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let fauna = crate::fauna::Fauna::new(base);
    fauna.query(r#"Collection.create({ name: "Probe" })"#).await;
    crate::actyx::Ax::new(base).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_in_each_apis_shape_and_change_nothing() {
    let mut config = Config::ephemeral();
    config.max_body_bytes = LIMIT;
    let server = Counted::start(config).await;
    let endpoints = endpoints(&server).await;
    let before = server.commits();
    for endpoint in &endpoints {
        // Valid JSON of the endpoint's shape, one and a half times the limit.
        let filler = Value::String("x".repeat(LIMIT * 3 / 2));
        let big = endpoint.template.replace(HOLE, &filler.to_string());
        for (how, body) in [
            ("sized", reqwest::Body::from(big.clone())),
            ("streamed", streamed(big.clone())),
        ] {
            let (status, answer) = post(&server, endpoint, body).await;
            let what = format!("{} {how}: {status} {answer}", endpoint.path);
            // Pulse's seed documents 400 and no 413 for its two operations with a body.
            let want = if ["/streams", "/subscribe"].contains(&endpoint.path.as_str()) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::PAYLOAD_TOO_LARGE
            };
            assert_eq!(status, want, "{what}");
            let (code, _) = endpoint.shape.read(&answer).expect(&what);
            assert_eq!(code, endpoint.too_large, "{what}");
        }
    }
    assert_eq!(server.commits(), before, "a refused body changed the store");
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn deeply_nested_json_gets_400_in_each_apis_shape_and_changes_nothing() {
    let mut config = Config::ephemeral();
    config.max_body_bytes = LIMIT;
    let server = Counted::start(config).await;
    let endpoints = endpoints(&server).await;
    let before = server.commits();
    for endpoint in &endpoints {
        for (what, body, descends) in nested_bodies(endpoint) {
            assert!(body.len() <= LIMIT, "{what} fits the limit");
            let (status, answer) = post(&server, endpoint, body.into()).await;
            let what = format!("{} with {what}: {status} {answer}", endpoint.path);
            // A body of the wrong shape may be 422 where the API says so;
            // nesting the parser must refuse is a syntax error, 400.
            if descends {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
            } else {
                assert!(
                    [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&status),
                    "{what}"
                );
            }
            endpoint.shape.read(&answer).expect(&what);
        }
    }
    assert_eq!(server.commits(), before, "a refused body changed the store");
    still_serves(&server).await;
    server.shutdown().await;
}
