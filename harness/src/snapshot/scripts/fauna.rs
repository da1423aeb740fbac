//! The Fauna snapshot script (seed 000): FQL answers, the stream, its resumes, the feed, and their errors.
//!
//! The script writes through `POST /query/1` with FQL, as a driver would, so
//! it needs no control API. Its collection `Orders_<run>` gets one event
//! source, the set of documents whose `status` is `"in"`, and one document
//! that enters the set, changes inside it and leaves it: one `add`, one
//! `update` and one `remove`.
//!
//! Exchanges, in order:
//!
//! 1. `query-event-source`: `Orders_<run>.where(.status == "in").eventSource()`: an `@stream` token.
//! 2. `query-create-document`: `Orders_<run>.create({...})`, sent while the stream below is open.
//! 3. `stream-live`: `POST /stream/1` opened before the writes: the `status` event,
//!    then `add`, `update` and `remove` as the document enters, changes and leaves.
//! 4. `stream-resumed`: the stream resumed from the `add` event's cursor: `status`, `update`, `remove`.
//! 5. `stream-start-ts`: the stream from `start_ts` = the `add` event's `txn_ts`: the same two.
//! 6. `feed-first-page`: `POST /feed/1` with `page_size: 2`: `add` and `update`, `has_next`.
//! 7. `feed-last-page`: the next page from the first page's cursor: `remove`, no `has_next`.
//! 8. `error-query-no-secret`: `POST /query/1` without `Authorization` (401).
//! 9. `error-stream-no-secret`: `POST /stream/1` without `Authorization` (401).
//! 10. `error-stream-wrong-secret`: `POST /stream/1` with a secret no database has (401).
//! 11. `error-invalid-token`: a token that is not one (400).
//! 12. `error-invalid-cursor`: a cursor that is not one (400).
//! 13. `error-start-ts-with-cursor`: `start_ts` and `cursor` together (400).
//! 14. `error-start-ts-before-token`: a `start_ts` before the token was made (400).
//! 15. `error-feed-page-size`: `POST /feed/1` with `page_size: 0` (400).
//! 16. `error-event-start-too-old`: a stream from before the history window of a
//!     collection with `history_days: 0`: the `invalid_stream_start_time` error event.

use serde_json::{Value, json};

use super::Context;
use crate::client::fauna;
use crate::snapshot::exchange::{Framing, Request, ScriptError, Session};
use crate::snapshot::normalise::{Kind, Rules};
use crate::snapshot::render;

/// The fields that vary: times, cursors, tokens and the ids Fauna gives documents.
pub const RULES: Rules = &[
    ("txn_ts", Kind::Time),
    ("start_ts", Kind::Time),
    ("cursor", Kind::Opaque("cursor")),
    ("@stream", Kind::Opaque("token")),
    ("id", Kind::Opaque("doc")),
];

/// A secret no database has.
const WRONG_SECRET: &str = "fauna_snapshot_wrong_secret";

/// Runs the script: the exchanges listed at the top of the module, in that order.
pub async fn run(session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    let secret = ctx.credentials.fauna_secret.clone();
    let orders = format!("Orders_{}", session.tag);
    fql(
        session,
        &secret,
        &format!("Collection.create({{ name: {} }})", json!(orders)),
    )
    .await?;
    let source = event_source(session, &secret, &orders).await?;
    let add = stream_live(session, &secret, &orders, &source).await?;
    resume_stream(session, &secret, &source, &add).await?;
    page_feed(session, &secret, &source).await?;
    refuse_errors(session, &secret, &source, &add).await?;
    start_too_old(session, &secret).await
}

/// The event source the script follows: its token and when it was made.
struct Source {
    token: String,
    txn_ts: u64,
}

/// The `add` event of the live stream, where the resumes start.
struct Add {
    cursor: String,
    txn_ts: u64,
}

/// `query-event-source`: the set of the collection's documents whose
/// `status` is `"in"`, as an event source.
async fn event_source(
    session: &mut Session,
    secret: &str,
    orders: &str,
) -> Result<Source, ScriptError> {
    let source = session
        .exchange(
            "query-event-source",
            "POST /query/1 making an event source: the documents of the collection whose status is \"in\".",
            query(secret, &format!("{orders}.where(.status == \"in\").eventSource()")),
            Framing::Whole,
        )
        .await?
        .json()
        .unwrap_or(Value::Null);
    let token = fauna::stream_token(&source["data"])
        .unwrap_or("missing")
        .to_owned();
    let txn_ts = source["txn_ts"].as_u64().unwrap_or(0);
    Ok(Source { token, txn_ts })
}

/// `query-create-document` and `stream-live`: a document that enters the
/// set, changes inside it and leaves it, while the stream is open.
async fn stream_live(
    session: &mut Session,
    secret: &str,
    orders: &str,
    source: &Source,
) -> Result<Add, ScriptError> {
    // The stream is open and its status event read before the first write,
    // so the events below are live ones, not a replay. The writes follow
    // each other at once: the embedded server sends a status event after
    // half a second of silence, which would otherwise land between them.
    let live = stream(secret, fauna::stream(&source.token, None));
    let mut open = session.open(&live, Framing::Lines(1)).await?;
    open.read().await;
    let created = session
        .exchange(
            "query-create-document",
            "POST /query/1 creating a document that enters the set (sent while the stream is open).",
            query(
                secret,
                &format!("{orders}.create({{ status: \"in\", item: \"book\", quantity: 1 }})"),
            ),
            Framing::Whole,
        )
        .await?
        .json()
        .unwrap_or(Value::Null);
    let id = json!(text(&created["data"]["@doc"]["id"]));
    let doc = format!("{orders}.byId({id})!");
    fql(session, secret, &format!("{doc}.update({{ quantity: 2 }})")).await?;
    fql(
        session,
        secret,
        &format!("{doc}.update({{ status: \"out\" }})"),
    )
    .await?;
    if open.response.framing == Framing::Lines(1) {
        open.response.framing = Framing::Lines(4);
        open.read().await;
    }
    let events = lines(&open.response.body);
    session.keep(
        "stream-live",
        "POST /stream/1 opened before the writes: status, then add, update and remove as the document enters, changes and leaves the set.",
        live,
        open.response,
    );
    let add = events
        .iter()
        .find(|e| e["type"] == "add")
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Add {
        cursor: text(&add["cursor"]),
        txn_ts: add["txn_ts"].as_u64().unwrap_or(0),
    })
}

/// `stream-resumed` and `stream-start-ts`: the stream again, from the `add`
/// event by its cursor and by its time.
async fn resume_stream(
    session: &mut Session,
    secret: &str,
    source: &Source,
    add: &Add,
) -> Result<(), ScriptError> {
    session
        .exchange(
            "stream-resumed",
            "The stream resumed from the add event's cursor: status, then the update and the remove after it.",
            stream(secret, fauna::stream(&source.token, Some(&add.cursor))),
            Framing::Lines(3),
        )
        .await?;
    session
        .exchange(
            "stream-start-ts",
            "The stream from start_ts = the add event's txn_ts: status, then the update and the remove after it.",
            stream(secret, json!({ "token": source.token, "start_ts": add.txn_ts })),
            Framing::Lines(3),
        )
        .await?;
    Ok(())
}

/// `feed-first-page` and `feed-last-page`: the same events as a feed, two a page.
async fn page_feed(
    session: &mut Session,
    secret: &str,
    source: &Source,
) -> Result<(), ScriptError> {
    let token = &source.token;
    let first = session
        .exchange(
            "feed-first-page",
            "POST /feed/1 with page_size 2: the add and the update, and has_next.",
            feed(secret, json!({ "token": token, "page_size": 2 })),
            Framing::Whole,
        )
        .await?
        .json()
        .unwrap_or(Value::Null);
    session
        .exchange(
            "feed-last-page",
            "The next page, from the first page's cursor: the remove, and no has_next.",
            feed(
                secret,
                json!({ "token": token, "cursor": text(&first["cursor"]), "page_size": 2 }),
            ),
            Framing::Whole,
        )
        .await?;
    Ok(())
}

/// The `error-*` exchanges that need no setup of their own: secrets,
/// tokens, cursors, start times and page sizes the server must refuse.
async fn refuse_errors(
    session: &mut Session,
    secret: &str,
    source: &Source,
    add: &Add,
) -> Result<(), ScriptError> {
    let token = &source.token;
    let errors = [
        (
            "error-query-no-secret",
            "POST /query/1 without an Authorization header.",
            Request::post(fauna::QUERY, fauna::query("Collection.all()")),
            Framing::Whole,
        ),
        (
            "error-stream-no-secret",
            "POST /stream/1 without an Authorization header.",
            Request::post(fauna::STREAM, fauna::stream(token, None)),
            Framing::Lines(1),
        ),
        (
            "error-stream-wrong-secret",
            "POST /stream/1 with a secret no database has.",
            stream(WRONG_SECRET, fauna::stream(token, None)),
            Framing::Lines(1),
        ),
        (
            "error-invalid-token",
            "POST /stream/1 with a token that is not one.",
            stream(secret, json!({ "token": "not-a-token" })),
            Framing::Lines(1),
        ),
        (
            "error-invalid-cursor",
            "POST /stream/1 with a cursor that is not one.",
            stream(secret, json!({ "token": token, "cursor": "not-a-cursor" })),
            Framing::Lines(1),
        ),
        (
            "error-start-ts-with-cursor",
            "POST /stream/1 with both start_ts and cursor.",
            stream(
                secret,
                json!({ "token": token, "cursor": add.cursor, "start_ts": add.txn_ts }),
            ),
            Framing::Lines(1),
        ),
        (
            "error-start-ts-before-token",
            "POST /stream/1 with a start_ts one second before the token was made.",
            stream(
                secret,
                json!({ "token": token, "start_ts": source.txn_ts.saturating_sub(1_000_000) }),
            ),
            Framing::Lines(1),
        ),
        (
            "error-feed-page-size",
            "POST /feed/1 with page_size 0.",
            feed(secret, json!({ "token": token, "page_size": 0 })),
            Framing::Whole,
        ),
    ];
    for (step, about, request, framing) in errors {
        session.exchange(step, about, request, framing).await?;
    }
    Ok(())
}

/// `error-event-start-too-old`: a stream from before the history window.
async fn start_too_old(session: &mut Session, secret: &str) -> Result<(), ScriptError> {
    // A collection that keeps no history: a stream from its token's time is
    // too old once a write has moved time on, and gets an error event.
    let brief = format!("Brief_{}", session.tag);
    fql(
        session,
        secret,
        &format!(
            "Collection.create({{ name: {}, history_days: 0 }})",
            json!(brief)
        ),
    )
    .await?;
    let brief_source = fql(session, secret, &format!("{brief}.all().eventSource()")).await?;
    fql(session, secret, &format!("{brief}.create({{ n: 1 }})")).await?;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    session
        .exchange(
            "error-event-start-too-old",
            "POST /stream/1 on a collection with history_days 0, from its token's time: \
             the invalid_stream_start_time error event, then the end of the stream.",
            stream(
                secret,
                json!({
                    "token": text(&brief_source["data"]["@stream"]),
                    "start_ts": brief_source["txn_ts"],
                }),
            ),
            Framing::Lines(3),
        )
        .await?;
    Ok(())
}

/// `POST /stream/1` with `body`, as `secret`.
fn stream(secret: &str, body: Value) -> Request {
    Request::post(fauna::STREAM, body).bearer(secret)
}

/// `POST /feed/1` with `body`, as `secret`.
fn feed(secret: &str, body: Value) -> Request {
    Request::post("/feed/1", body).bearer(secret)
}

/// `POST /query/1` with FQL text, as the drivers send it.
fn query(secret: &str, fql: &str) -> Request {
    let (name, value) = fauna::FORMAT;
    Request::post(fauna::QUERY, fauna::query(fql))
        .bearer(secret)
        .header(name, value)
}

/// A setup query that must succeed.
async fn fql(session: &Session, secret: &str, text: &str) -> Result<Value, ScriptError> {
    session.setup_json(query(secret, text)).await
}

/// A string field, or `missing` so that a broken answer shows in the next request.
fn text(value: &Value) -> String {
    value.as_str().unwrap_or("missing").to_owned()
}

/// The JSON lines of a stream body.
fn lines(body: &[u8]) -> Vec<Value> {
    render::lines(body)
        .iter()
        .filter_map(|line| serde_json::from_str(&line.text).ok())
        .collect()
}
