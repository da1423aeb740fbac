//! Request bodies through the whole router: one function per API, each picking one of that API's endpoints from the first byte.
//!
//! The server is the in-process [`app`](crate::app::app) on a memory store,
//! built once per process with an account, a model, a collection and tokens in
//! place, so bodies get past authentication into the handlers. It is rebuilt
//! every [`REBUILD_EVERY`] requests, which bounds the memory that accepted
//! writes accumulate over a long fuzzing run.
//!
//! The first byte of the input selects the endpoint (its low six bits, modulo
//! the API's endpoint count), bit 6 drops the `Content-Type` header and bit 7
//! the credentials. For `POST` endpoints the rest is the body; for `GET`
//! endpoints it is the query string, percent-encoded where a URI needs it.
//! Every answer must be below 500 (but for XRPC's documented `501` to an
//! unknown method), within a few seconds, and a finite answer must be readable
//! to its end.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::{AppState, app};
use crate::config::{Config, DEFAULT_CONTROL_TOKEN};
use crate::server::open_log;

/// Requests served before the server is rebuilt from scratch.
const REBUILD_EVERY: u32 = 4096;
/// How long an answer (headers, and the whole body of a finite one) may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// The most body bytes read from a finite answer.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Who a request claims to be.
#[derive(Debug, Clone, Copy)]
enum Auth {
    None,
    Control,
    Fibric,
    Pulse,
    Fauna,
    Actyx,
    Atproto,
}

/// The two methods the endpoints use; `http::Method` is not `Copy`, which a `const` table wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
}

/// One endpoint a target can pick.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    verb: Verb,
    /// `{did}` is replaced by the fixture account's DID.
    path: &'static str,
    auth: Auth,
    /// The answer is a stream that stays open (SSE or live NDJSON): only the status is checked.
    stream: bool,
    /// XRPC answers a method the server does not have with `501 MethodNotImplemented`, as
    /// the atproto XRPC spec says, so that one 5xx is expected here.
    not_implemented: bool,
}

const fn post(path: &'static str, auth: Auth) -> Endpoint {
    Endpoint {
        verb: Verb::Post,
        path,
        auth,
        stream: false,
        not_implemented: false,
    }
}

const fn post_stream(path: &'static str, auth: Auth) -> Endpoint {
    Endpoint {
        stream: true,
        ..post(path, auth)
    }
}

const fn get(path: &'static str, auth: Auth, stream: bool) -> Endpoint {
    Endpoint {
        verb: Verb::Get,
        path,
        auth,
        stream,
        not_implemented: false,
    }
}

const FIBRIC: &[Endpoint] = &[
    get("/v1/events", Auth::Fibric, false),
    get("/v1/events/stream", Auth::Fibric, true),
    post("/_control/fibric/envelopes", Auth::Control),
    post("/_control/fibric/trim", Auth::Control),
];

const PULSE: &[Endpoint] = &[
    post("/streams", Auth::Pulse),
    post_stream("/subscribe", Auth::Pulse),
    get("/streams/users/events", Auth::Pulse, true),
    post("/_control/pulse/models", Auth::Control),
    post("/_control/pulse/models/User/rows", Auth::Control),
];

const FAUNA: &[Endpoint] = &[
    post("/query/1", Auth::Fauna),
    post("/feed/1", Auth::Fauna),
    post_stream("/stream/1", Auth::Fauna),
    post("/_control/fauna/collections", Auth::Control),
    post("/_control/fauna/documents", Auth::Control),
    post("/_control/fauna/tokens", Auth::Control),
];

const ACTYX: &[Endpoint] = &[
    post("/api/v2/auth", Auth::None),
    post("/api/v2/events/publish", Auth::Actyx),
    post("/api/v2/events/query", Auth::Actyx),
    post_stream("/api/v2/events/subscribe", Auth::Actyx),
    post_stream("/api/v2/events/subscribe_monotonic", Auth::Actyx),
    post("/_control/actyx/replicate", Auth::Control),
];

const ATPROTO: &[Endpoint] = &[
    post("/xrpc/com.atproto.server.createAccount", Auth::None),
    post("/xrpc/com.atproto.server.createSession", Auth::None),
    post("/xrpc/com.atproto.repo.createRecord", Auth::Atproto),
    post("/xrpc/com.atproto.repo.putRecord", Auth::Atproto),
    post("/xrpc/com.atproto.repo.deleteRecord", Auth::Atproto),
    post("/xrpc/com.atproto.repo.applyWrites", Auth::Atproto),
    post("/xrpc/com.atproto.identity.updateHandle", Auth::Atproto),
    post("/xrpc/com.atproto.server.deactivateAccount", Auth::Atproto),
    post("/xrpc/com.atproto.server.activateAccount", Auth::Atproto),
    Endpoint {
        not_implemented: true,
        ..post("/xrpc/com.example.unknownMethod", Auth::Atproto)
    },
    get("/xrpc/com.atproto.repo.getRecord", Auth::None, false),
    get("/xrpc/com.atproto.sync.getLatestCommit", Auth::None, false),
    get("/xrpc/com.atproto.sync.getRepo", Auth::None, false),
    post("/_control/atproto/accounts/{did}/status", Auth::Control),
    post("/_control/atproto/labels", Auth::Control),
];

/// The control API's own endpoints, which belong to no single API.
const CONTROL: &[Endpoint] = &[
    post("/_control/disconnect", Auth::Control),
    post("/_control/log/scratch.fuzz", Auth::Control),
    get("/_control/log/scratch.fuzz", Auth::Control, false),
];

/// Fibric: the list and stream query strings, and the control API's appends and trims.
pub fn fibric(data: &[u8]) {
    send(FIBRIC, data);
}

/// Pulse: stream declarations, subscriptions, consumption, models and row changes.
pub fn pulse(data: &[u8]) {
    send(PULSE, data);
}

/// Fauna: FQL queries, feeds, streams, and the control API's collections, documents and tokens.
pub fn fauna(data: &[u8]) {
    send(FAUNA, data);
}

/// Actyx: login, publish, query, both subscriptions, and replication.
pub fn actyx(data: &[u8]) {
    send(ACTYX, data);
}

/// AT Protocol: accounts, sessions, record writes, reads, and the control API.
pub fn atproto(data: &[u8]) {
    send(ATPROTO, data);
}

/// The control API's disconnect and scratch log.
pub fn control(data: &[u8]) {
    send(CONTROL, data);
}

/// The server shared by every request in this process.
struct Server {
    runtime: Runtime,
    live: Mutex<Option<Live>>,
}

/// One incarnation of the server and the credentials its setup produced.
struct Live {
    router: Router,
    actyx_token: String,
    atproto_token: String,
    did: String,
    served: u32,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
        live: Mutex::new(None),
    })
}

fn send(endpoints: &[Endpoint], data: &[u8]) {
    let [selector, rest @ ..] = data else {
        return;
    };
    let endpoint = endpoints[usize::from(selector & 0x3f) % endpoints.len()];
    let with_content_type = selector & 0x40 == 0;
    let with_auth = selector & 0x80 == 0;
    let server = server();
    // A panic in an earlier request poisons the lock; the fuzzer stops at that panic anyway.
    let mut guard = server.live.lock().unwrap_or_else(|e| e.into_inner());
    server.runtime.block_on(async {
        if guard
            .as_ref()
            .is_none_or(|live| live.served >= REBUILD_EVERY)
        {
            *guard = Some(build().await);
        }
        let live = guard.as_mut().expect("built above");
        live.served += 1;
        let request = request(live, endpoint, rest, with_content_type, with_auth);
        let Some(request) = request else {
            return;
        };
        let uri = request.uri().clone();
        let answer = tokio::time::timeout(ANSWER_WITHIN, live.router.clone().oneshot(request))
            .await
            .unwrap_or_else(|_| panic!("{uri}: no answer within {ANSWER_WITHIN:?}"));
        let response = match answer {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        if endpoint.stream && status.is_success() {
            return;
        }
        let body = tokio::time::timeout(
            ANSWER_WITHIN,
            to_bytes(response.into_body(), MAX_ANSWER_BYTES),
        )
        .await
        .unwrap_or_else(|_| panic!("{uri}: {status} body not finished within {ANSWER_WITHIN:?}"));
        let expected_501 = endpoint.not_implemented && status == StatusCode::NOT_IMPLEMENTED;
        assert!(
            !status.is_server_error() || expected_501,
            "{:?} {uri} answered {status}: {}",
            endpoint.verb,
            body.map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        );
    });
}

/// The request for `endpoint` with `rest` as its body or query string; `None` if no URI can carry it.
fn request(
    live: &Live,
    endpoint: Endpoint,
    rest: &[u8],
    with_content_type: bool,
    with_auth: bool,
) -> Option<Request<Body>> {
    let path = endpoint.path.replace("{did}", &live.did);
    let (uri, body, method) = if endpoint.verb == Verb::Get {
        let query = query_string(rest);
        (format!("{path}?{query}"), Body::empty(), Method::GET)
    } else {
        (path, Body::from(rest.to_vec()), Method::POST)
    };
    let mut builder = Request::builder().method(method).uri(uri);
    if with_content_type && endpoint.verb == Verb::Post {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let token = match endpoint.auth {
        Auth::None => None,
        Auth::Control => Some(DEFAULT_CONTROL_TOKEN),
        Auth::Fibric => Some("sk_test_tenant_a"),
        Auth::Pulse => Some("pulse_test_key"),
        Auth::Fauna => Some("fauna_test_secret"),
        Auth::Actyx => Some(live.actyx_token.as_str()),
        Auth::Atproto => Some(live.atproto_token.as_str()),
    };
    if let (Some(token), true) = (token, with_auth) {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(body).ok()
}

/// The bytes as a query string: unreserved characters and `&=+,:%` stay as they are, so the
/// fuzzer can write parameters and its own escapes, and everything else is percent-encoded.
fn query_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~&=+,:%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A fresh server with what the endpoints need in place: a Pulse model and stream, a Fauna
/// collection, an Actyx token, and an AT Protocol account (`alice.test`) with its session.
async fn build() -> Live {
    let config = Config::ephemeral();
    let log = open_log(&config).expect("a memory store");
    let state = AppState::new(config, log, CancellationToken::new()).expect("the state");
    let router = app(state);
    let control = Some(DEFAULT_CONTROL_TOKEN);
    setup(
        &router,
        "/_control/pulse/models",
        control,
        json!({"name": "User", "primary_key": "id"}),
    )
    .await;
    setup(
        &router,
        "/streams",
        Some("pulse_test_key"),
        json!({"name": "users", "model": "User"}),
    )
    .await;
    setup(
        &router,
        "/_control/fauna/collections",
        control,
        json!({"name": "Product"}),
    )
    .await;
    let login = json!({"appId": "com.example.fuzz", "displayName": "Fuzz", "version": "1.0.0"});
    let actyx = setup(&router, "/api/v2/auth", None, login).await;
    let account = json!({"handle": "alice.test", "password": "secret-password", "email": "alice@example.com"});
    let atproto = setup(
        &router,
        "/xrpc/com.atproto.server.createAccount",
        None,
        account,
    )
    .await;
    let text = |value: &Value, key: &str| {
        value[key]
            .as_str()
            .unwrap_or_else(|| panic!("setup answer without {key}: {value}"))
            .to_owned()
    };
    Live {
        actyx_token: text(&actyx, "token"),
        atproto_token: text(&atproto, "accessJwt"),
        did: text(&atproto, "did"),
        router,
        served: 0,
    }
}

/// One setup request, which must succeed; returns the JSON answer.
async fn setup(router: &Router, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = builder
        .body(Body::from(body.to_string()))
        .expect("a setup request");
    let response = match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = to_bytes(response.into_body(), MAX_ANSWER_BYTES)
        .await
        .expect("a setup answer");
    assert!(status.is_success(), "setup {path}: {status}");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
