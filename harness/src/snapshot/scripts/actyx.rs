//! The Actyx snapshot script (seed 003): node id, auth, publish, offsets, query, the two subscriptions, and their errors.
//!
//! Every event the script publishes carries the run's tag, and every query
//! is `FROM` that tag, so a shared node's other events never show.
//!
//! Exchanges, in order:
//!
//! 1. `node-id`: `GET /api/v2/node/id`, which needs no token (plain text).
//! 2. `auth`: `POST /api/v2/auth` with a `com.example.*` manifest: `{token}`.
//! 3. `publish`: `POST events/publish` with two events in one request.
//! 4. `offsets`: `GET events/offsets`.
//! 5. `query`: `POST events/query` `FROM '<run>'`, ascending: two `event` lines, the `offsets` line, the end.
//! 6. `query-upper-bound-beyond`: an `upperBound` beyond the present: one `diagnostic` line, the end.
//! 7. `subscribe`: `POST events/subscribe`: the two events, `offsets`, then a third published live.
//! 8. `subscribe-monotonic`: `POST events/subscribe_monotonic`: the three with `caughtUp: false`,
//!    `offsets`, a fourth published live (`caughtUp: true`), and on a reference server an event
//!    of another node that sorts before the fourth: `timeTravel`, and the end.
//! 9. `offsets-replicated` (reference servers only): `GET events/offsets` with the other
//!    node's stream present and more of it announced (`toReplicate`).
//! 10. `error-auth-not-trial`: `POST /api/v2/auth` for an app id outside `com.example.` (400).
//! 11. `error-no-auth`: `GET events/offsets` without `Authorization` (401).
//! 12. `error-bad-token`: `GET events/offsets` with a token that is not one (400).
//! 13. `error-wrong-accept`: `POST events/query` accepting only `text/html` (406).
//! 14. `error-wrong-content-type`: `POST events/query` with a `text/plain` body (415).
//! 15. `error-bad-aql`: `POST events/query` with AQL that does not parse (400).
//! 16. `error-monotonic-no-session`: `subscribe_monotonic` without `session` (400).
//! 17. `error-wrong-method`: `GET events/publish` (405).
//! 18. `error-unknown-path`: `GET /api/v2/events/unknown` (404).
//!
//! Offsets maps are keyed by stream id. Where an exchange shows the stream
//! in an event too, the key is that event's `<stream N>`; elsewhere the
//! node id in it reads `<node>`, because the script names the node id as a
//! literal (the only normalisation map keys get besides that). The
//! offsets under those keys are kept as they are, so these snapshots are
//! stable against a fresh node, not a shared one, where other runs' streams
//! and events show too.

use reqwest::Method;
use serde_json::{Value, json};

use super::Context;
use crate::client::actyx::{self, NDJSON};
use crate::snapshot::exchange::{Framing, Request, ScriptError, Session};
use crate::snapshot::normalise::{Kind, Rules};

/// The fields that vary: event keys and times (the token is common to every API).
pub const RULES: Rules = &[
    ("lamport", Kind::Counter("lamport")),
    ("offset", Kind::Counter("offset")),
    ("timestamp", Kind::Time),
    ("stream", Kind::Opaque("stream")),
];

/// Runs the script: the exchanges listed at the top of the module, in that order.
pub async fn run(session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    let tag = session.tag.clone();
    let node_id = node_id(session).await?;
    let token = authenticate(session, ctx).await?;
    let first_lamport = publish_two(session, &token, &tag).await?;
    let mine = format!("FROM '{tag}'");
    query_events(session, &token, &mine, &node_id).await?;
    subscribe(session, &token, &tag, &mine).await?;
    subscribe_monotonic(session, ctx, &token, &tag, &mine, first_lamport).await?;
    if ctx.target.is_reference() {
        session
            .exchange(
                "offsets-replicated",
                "GET events/offsets with another node's stream present and two more of its events announced.",
                Request::get("/api/v2/events/offsets").bearer(&token),
                Framing::Whole,
            )
            .await?;
    }
    refuse_errors(session, &token, &mine).await
}

/// `node-id`. Returns the node id, which from here on reads `<node>` in
/// the snapshots when the answer looks like one.
async fn node_id(session: &mut Session) -> Result<String, ScriptError> {
    let node = session
        .exchange(
            "node-id",
            "GET /api/v2/node/id, without a token: the node id as plain text.",
            Request::get("/api/v2/node/id"),
            Framing::Whole,
        )
        .await?;
    let node_id = String::from_utf8_lossy(&node.body).trim().to_owned();
    if node.status == 200 && !node_id.is_empty() && !node_id.contains(char::is_whitespace) {
        session.literals.push((node_id.clone(), "node".to_owned()));
    }
    Ok(node_id)
}

/// `auth`. Returns the token, or `missing` so that a broken answer shows in
/// the requests that carry it.
async fn authenticate(session: &mut Session, ctx: &Context) -> Result<String, ScriptError> {
    let auth = session
        .exchange(
            "auth",
            "POST /api/v2/auth with a com.example.* app manifest, which needs no signature.",
            Request::post(actyx::AUTH, manifest(&ctx.credentials.actyx_app_id)),
            Framing::Whole,
        )
        .await?;
    let answer = auth.json().unwrap_or(Value::Null);
    Ok(actyx::token(auth.status, &answer)
        .unwrap_or("missing")
        .to_owned())
}

/// `publish` of the run's first two events, then `offsets`. Returns the
/// first event's lamport, which the foreign event takes to sort before the
/// fourth.
async fn publish_two(session: &mut Session, token: &str, tag: &str) -> Result<u64, ScriptError> {
    let published = session
        .exchange(
            "publish",
            "POST events/publish with two events in one request (tags are answered sorted).",
            Request::post(
                "/api/v2/events/publish",
                json!({"data": [
                    {"tags": [tag, "kind:created"], "payload": {"n": 1, "item": "book"}},
                    {"tags": [tag], "payload": {"n": 2, "item": "pen"}},
                ]}),
            )
            .bearer(token),
            Framing::Whole,
        )
        .await?
        .json()
        .unwrap_or(Value::Null);
    let first_lamport = published["data"][0]["lamport"].as_u64().unwrap_or(1);
    session
        .exchange(
            "offsets",
            "GET events/offsets.",
            Request::get("/api/v2/events/offsets").bearer(token),
            Framing::Whole,
        )
        .await?;
    Ok(first_lamport)
}

/// `query` and `query-upper-bound-beyond`: the run's events, and a bound
/// the node has not reached.
async fn query_events(
    session: &mut Session,
    token: &str,
    mine: &str,
    node_id: &str,
) -> Result<(), ScriptError> {
    // One line more than the server should send, so that the end of the body shows.
    session
        .exchange(
            "query",
            "POST events/query FROM the run's tag, ascending: the two events, the offsets line, the end.",
            post(token, "query", json!({"query": mine, "order": "asc"})),
            Framing::Lines(4),
        )
        .await?;
    session
        .exchange(
            "query-upper-bound-beyond",
            "POST events/query with an upperBound beyond the node's present: a diagnostic line, the end.",
            post(
                token,
                "query",
                json!({"query": mine, "order": "asc", "upperBound": {format!("{node_id}-0"): 1_000_000_000}}),
            ),
            Framing::Lines(2),
        )
        .await?;
    Ok(())
}

/// `subscribe`: the two events and the offsets line, then a third published
/// while the subscription is open.
async fn subscribe(
    session: &mut Session,
    token: &str,
    tag: &str,
    mine: &str,
) -> Result<(), ScriptError> {
    let subscribe = post(token, "subscribe", json!({ "query": mine }));
    let mut open = session.open(&subscribe, Framing::Lines(3)).await?;
    open.read().await;
    publish(session, token, tag, 3).await?;
    more(&mut open.response.framing, 4);
    open.read().await;
    session.keep(
        "subscribe",
        "POST events/subscribe: the two events, the offsets line, then a third event published live.",
        subscribe,
        open.response,
    );
    Ok(())
}

/// `subscribe-monotonic`: the three events, a fourth published live, and on
/// a reference server a foreign event that makes the subscription travel
/// back in time.
async fn subscribe_monotonic(
    session: &mut Session,
    ctx: &Context,
    token: &str,
    tag: &str,
    mine: &str,
    first_lamport: u64,
) -> Result<(), ScriptError> {
    let monotonic = post(
        token,
        "subscribe_monotonic",
        json!({"session": "snapshot", "query": mine, "lowerBound": {}}),
    );
    let mut open = session.open(&monotonic, Framing::Lines(4)).await?;
    open.read().await;
    publish(session, token, tag, 4).await?;
    more(&mut open.response.framing, 5);
    open.read().await;
    if ctx.target.is_reference() {
        // An event of another node with the first event's lamport sorts
        // before the fourth (ties go by stream id), so the subscription
        // must travel back in time and end.
        replicate(session, ctx, &foreign_stream(tag), tag, first_lamport).await?;
        more(&mut open.response.framing, 7);
        open.read().await;
    }
    session.keep(
        "subscribe-monotonic",
        "POST events/subscribe_monotonic: three events not caught up, offsets, a fourth live and caught up; on a reference server an event of another node that sorts before it: timeTravel, and the end.",
        monotonic,
        open.response,
    );
    Ok(())
}

/// The `error-*` exchanges: auth, headers, AQL, a missing session, a wrong
/// method and an unknown path.
async fn refuse_errors(session: &mut Session, token: &str, mine: &str) -> Result<(), ScriptError> {
    let mut plain = Request::new(Method::POST, "/api/v2/events/query")
        .bearer(token)
        .header("content-type", "text/plain");
    plain.body = Some(json!({"query": mine, "order": "asc"}));
    let errors = [
        (
            "error-auth-not-trial",
            "POST /api/v2/auth for an app id outside com.example., without a signature.",
            Request::post(actyx::AUTH, manifest("org.snapshot.app")),
        ),
        (
            "error-no-auth",
            "GET events/offsets without an Authorization header.",
            Request::get("/api/v2/events/offsets"),
        ),
        (
            "error-bad-token",
            "GET events/offsets with a bearer token that is not one.",
            Request::get("/api/v2/events/offsets").bearer("not-a-token"),
        ),
        (
            "error-wrong-accept",
            "POST events/query accepting only text/html.",
            Request::post(
                "/api/v2/events/query",
                json!({"query": mine, "order": "asc"}),
            )
            .bearer(token)
            .header("accept", "text/html"),
        ),
        (
            "error-wrong-content-type",
            "POST events/query with a JSON body sent as text/plain.",
            plain,
        ),
        (
            "error-bad-aql",
            "POST events/query with AQL that does not parse (a dangling &).",
            post(
                token,
                "query",
                json!({"query": format!("{mine} &"), "order": "asc"}),
            ),
        ),
        (
            "error-monotonic-no-session",
            "POST events/subscribe_monotonic without session, which it needs.",
            post(token, "subscribe_monotonic", json!({ "query": mine })),
        ),
        (
            "error-wrong-method",
            "GET events/publish.",
            Request::get("/api/v2/events/publish").bearer(token),
        ),
        (
            "error-unknown-path",
            "GET a path the Events API does not have.",
            Request::get("/api/v2/events/unknown").bearer(token),
        ),
    ];
    // A server that wrongly accepts one of these answers a feed: read it
    // as one, one line more than it should hold, so its end shows too.
    for (step, about, request) in errors {
        session
            .exchange(step, about, request, Framing::Lines(5))
            .await?;
    }
    Ok(())
}

/// The manifest of the app `app` that `POST /api/v2/auth` takes.
fn manifest(app: &str) -> Value {
    actyx::manifest(app, "harness snapshot")
}

/// `POST events/{path}` with `token`, accepting the NDJSON feed it answers.
fn post(token: &str, path: &str, body: Value) -> Request {
    Request::post(actyx::events(path), body)
        .bearer(token)
        .header("accept", NDJSON)
}

/// Lets an open feed read on until it holds `lines` lines (an error answer stays whole).
fn more(framing: &mut Framing, lines: usize) {
    if matches!(framing, Framing::Lines(_)) {
        *framing = Framing::Lines(lines);
    }
}

/// Publishes one event `{n}` with the run's tag (setup).
async fn publish(session: &Session, token: &str, tag: &str, n: u64) -> Result<(), ScriptError> {
    session
        .setup_json(
            Request::post(
                "/api/v2/events/publish",
                json!({"data": [{"tags": [tag], "payload": {"n": n, "item": "live"}}]}),
            )
            .bearer(token),
        )
        .await
        .map(|_| ())
}

/// A stream of a node the run makes up: it holds the run's tag, so it becomes
/// `zzzz<run>…`, and its leading `z`s sort it after the node's own stream, so
/// the order of offsets maps does not depend on the node's random id. The
/// 43rd character of a node id carries only 4 bits; `.` is zero.
fn foreign_stream(tag: &str) -> String {
    let mut node = format!("zzzz{tag}foreignnode");
    while node.len() < 42 {
        node.push('x');
    }
    node.truncate(42);
    format!("{node}.-1")
}

/// One event of the foreign stream at `lamport`, with two more announced, through the control API.
async fn replicate(
    session: &Session,
    ctx: &Context,
    stream: &str,
    tag: &str,
    lamport: u64,
) -> Result<(), ScriptError> {
    session
        .setup_json(
            Request::post(
                "/_control/actyx/replicate",
                json!({
                    "stream": stream,
                    "events": [{"offset": 0, "lamport": lamport, "tags": [tag], "payload": {"n": 0, "item": "foreign"}}],
                    "announce": 2,
                }),
            )
            .bearer(ctx.target.control_token()),
        )
        .await
        .map(|_| ())
}
