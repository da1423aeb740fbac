//! The Fibric snapshot script (seed 004): the list, the stream, and their errors.
//!
//! Exchanges, in order:
//!
//! 1. `list-first-page`: `GET /v1/events?source=<run>&limit=2` after three envelopes were appended.
//! 2. `list-last-page`: the same with the first page's `next_cursor`.
//! 3. `stream-resumed`: the stream resumed from the first envelope's cursor: the other two.
//! 4. `stream-live`: a stream opened at now, then an envelope appended: the live frame.
//! 5. `list-glob-filter`: `event_type=order.*` matches one segment only.
//! 6. `error-no-key`: the list without a key (401).
//! 7. `error-stream-wrong-key`: the stream with an unknown key (401).
//! 8. `error-malformed-cursor`: the stream with a cursor that is not one (400).
//! 9. `error-cursor-other-filters`: a cursor used with other filters than it was issued under (400).
//! 10. `error-bad-limit`: `limit=0` (400).
//! 11. `error-unknown-parameter`: a query parameter the API does not have (400).
//!
//! The envelopes are appended through the control API (the seed has no write
//! path), so the script needs a reference server.

use reqwest::Method;
use scenarios::check::Api;
use serde_json::{Value, json};

use super::Context;
use crate::client::fibric;
use crate::snapshot::exchange::{Framing, Request, ScriptError, Session};
use crate::snapshot::normalise::{Kind, Rules};

/// The fields that vary: cursors are opaque, event ids are the script's own.
pub const RULES: Rules = &[
    ("cursor", Kind::Opaque("cursor")),
    ("next_cursor", Kind::Opaque("cursor")),
    ("last-event-id", Kind::Opaque("cursor")),
];

/// Runs the script: the exchanges listed at the top of the module, in that order.
pub async fn run(session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    ctx.needs_control_api(Api::Fibric)?;
    let key = ctx.credentials.fibric_keys[0].clone();
    let tenant = ctx.credentials.fibric_tenants[0].clone();
    let tag = session.tag.clone();
    append(
        session,
        ctx,
        vec![
            envelope(&tenant, &tag, 1, "order.created"),
            envelope(&tenant, &tag, 2, "order.refund.issued"),
            envelope(&tenant, &tag, 3, "user.signup"),
        ],
    )
    .await?;

    let mine = format!("source={tag}");
    let oldest = list_pages(session, &key, &mine).await?;
    session
        .exchange(
            "stream-resumed",
            "The stream resumed from the first envelope's cursor: the two envelopes after it.",
            stream(format!("{mine}&cursor={}", encode(&oldest)), &key),
            Framing::Sse(2),
        )
        .await?;
    let fourth = envelope(&tenant, &tag, 4, "order.shipped");
    stream_live(session, ctx, &key, &mine, fourth).await?;
    session
        .exchange(
            "list-glob-filter",
            "event_type=order.* matches one segment: order.created and order.shipped, not order.refund.issued.",
            Request::get(format!("/v1/events?{mine}&event_type=order.*")).bearer(&key),
            Framing::Whole,
        )
        .await?;
    refuse_errors(session, &key, &mine, &oldest).await
}

/// The script's envelope `n` of `event_type`, with the run's tag as its source.
fn envelope(tenant: &str, tag: &str, n: usize, event_type: &str) -> Value {
    json!({
        "tenant_id": tenant,
        "event_id": format!("ev_{tag}_{n}"),
        "event_type": event_type,
        "source": tag,
        "workspace_id": "ws_snapshot",
        "correlation_id": format!("corr_{tag}"),
        "payload": {"n": n, "amount": {"value": 1250, "currency": "EUR"}},
        "entities": [format!("order:{n}")],
    })
}

/// `list-first-page` and `list-last-page`: the list two a page. Returns the
/// cursor of the first envelope, where the resumes start.
async fn list_pages(session: &mut Session, key: &str, mine: &str) -> Result<String, ScriptError> {
    let first = session
        .exchange(
            "list-first-page",
            "GET /v1/events with a limit of 2 over the script's three envelopes: a full page.",
            Request::get(format!("/v1/events?{mine}&limit=2")).bearer(key),
            Framing::Whole,
        )
        .await?
        .json()
        .unwrap_or(Value::Null);
    let next = first["next_cursor"]
        .as_str()
        .unwrap_or("missing")
        .to_owned();
    let oldest = first["data"][0]["cursor"]
        .as_str()
        .unwrap_or("missing")
        .to_owned();
    session
        .exchange(
            "list-last-page",
            "The next page, from the first page's next_cursor: the last envelope.",
            Request::get(format!(
                "/v1/events?{mine}&limit=2&cursor={}",
                encode(&next)
            ))
            .bearer(key),
            Framing::Whole,
        )
        .await?;
    Ok(oldest)
}

/// `stream-live`: a stream opened at now, then `fourth` appended.
async fn stream_live(
    session: &mut Session,
    ctx: &Context,
    key: &str,
    mine: &str,
    fourth: Value,
) -> Result<(), ScriptError> {
    let live = stream(mine.to_owned(), key);
    let mut open = session.open(&live, Framing::Sse(1)).await?;
    append(session, ctx, vec![fourth]).await?;
    open.read().await;
    session.keep(
        "stream-live",
        "A stream opened at now, then one envelope appended: the live frame.",
        live,
        open.response,
    );
    Ok(())
}

/// The `error-*` exchanges: keys, cursors, a limit and a parameter the
/// list and the stream must refuse.
async fn refuse_errors(
    session: &mut Session,
    key: &str,
    mine: &str,
    oldest: &str,
) -> Result<(), ScriptError> {
    let errors = [
        (
            "error-no-key",
            "The list without an Authorization header.",
            Request::get("/v1/events?limit=1"),
        ),
        (
            "error-stream-wrong-key",
            "The stream with a key no tenant has.",
            stream(mine.to_owned(), "sk_test_nobody"),
        ),
        (
            "error-malformed-cursor",
            "The stream with a cursor that is not one.",
            stream(format!("{mine}&cursor=not-a-cursor"), key),
        ),
        (
            "error-cursor-other-filters",
            "A cursor issued under source=<run>, used with an event_type filter added.",
            stream(
                format!("{mine}&event_type=order.created&cursor={}", encode(oldest)),
                key,
            ),
        ),
        (
            "error-bad-limit",
            "The list with limit=0.",
            Request::get(format!("/v1/events?{mine}&limit=0")).bearer(key),
        ),
        (
            "error-unknown-parameter",
            "The list with a query parameter the API does not have.",
            Request::get(format!("/v1/events?{mine}&colour=blue")).bearer(key),
        ),
    ];
    // A server that wrongly accepts a stream request answers a stream: read
    // one event of it, so that what it sent shows.
    for (step, about, request) in errors {
        let framing = if request.path.starts_with("/v1/events/stream") {
            Framing::Sse(1)
        } else {
            Framing::Whole
        };
        session.exchange(step, about, request, framing).await?;
    }
    Ok(())
}

/// `GET /v1/events/stream?{query}` with `key`, accepting SSE.
fn stream(query: String, key: &str) -> Request {
    Request::get(format!("/v1/events/stream?{query}"))
        .bearer(key)
        .header("accept", "text/event-stream")
}

/// Appends `envelopes` through the control API (setup).
async fn append(
    session: &Session,
    ctx: &Context,
    envelopes: Vec<Value>,
) -> Result<(), ScriptError> {
    session
        .setup_json(
            Request::new(Method::POST, fibric::ENVELOPES)
                .json(fibric::envelopes(&envelopes))
                .bearer(ctx.target.control_token()),
        )
        .await
        .map(|_| ())
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
