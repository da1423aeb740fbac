//! The Prisma Pulse snapshot script (seed 001): streams, events, subscriptions and errors.
//!
//! Exchanges, in order:
//!
//! 1. `health`: `GET /health`, which needs no key.
//! 2. `create-stream`: `POST /streams` with a name, a model and a filter: the StreamInfo.
//! 3. `list-streams`: `GET /streams` (every stream of the target: snapshot a dedicated one).
//! 4. `stream-events`: the named stream after a create, an update and a delete of a row
//!    of a model with full replica identity (`before` on updates, the whole old row on deletes).
//! 5. `second-consumer`: a second consumer while the first is connected, which takes
//!    the stream over (the seed documents no status that refuses it).
//! 6. `stream-resumed`: the stream again with `Last-Event-ID` = the first event: the other two.
//! 7. `subscribe`: `POST /subscribe` on a model with default replica identity, then a
//!    create, an update and a delete: no `before`, the key only on deletes.
//! 8. `lookup`: `GET /events/{id}` of the first event.
//! 9. `error-lookup-unknown`, 10. `error-lookup-malformed`: an unknown and a malformed id.
//! 11. `error-no-key`, 12. `error-wrong-key`: `GET /streams` without and with a wrong key.
//! 13. `error-duplicate-stream`: `POST /streams` with an existing name.
//! 14. `error-bad-body`: `POST /streams` without a model.
//! 15. `error-unknown-model`: `POST /subscribe` for a model that does not exist.
//! 16. `delete-stream`, 17. `error-delete-unknown`: `DELETE /streams/{name}`, twice.
//!
//! Rows are changed through the control API (the seed has no write path), so
//! the script needs a reference server.

use std::time::Duration;

use reqwest::Method;
use scenarios::check::Api;
use serde_json::{Value, json};

use super::Context;
use crate::client::pulse;
use crate::snapshot::exchange::{Framing, Open, Request, ScriptError, Session};
use crate::snapshot::normalise::{Kind, Rules};

/// The fields that vary: event ids and cursors are ULIDs (found by shape), times by shape.
pub const RULES: Rules = &[
    ("cursor", Kind::Opaque("ulid")),
    ("last-event-id", Kind::Opaque("ulid")),
];

/// How long a reconnect waits for the server to notice that the previous consumer left:
/// a reference server notices at its next keep-alive (15 s by default).
const RELEASE: Duration = Duration::from_secs(20);

/// Runs the script: the exchanges listed at the top of the module, in that order.
pub async fn run(session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    ctx.needs_control_api(Api::Pulse)?;
    let key = ctx.credentials.pulse_key.clone();
    let tag = session.tag.clone();
    let orders = format!("Order_{tag}");
    let users = format!("User_{tag}");
    declare(session, ctx, &orders, "full").await?;
    declare(session, ctx, &users, "default").await?;

    session
        .exchange(
            "health",
            "GET /health, without a key.",
            Request::get("/health"),
            Framing::Whole,
        )
        .await?;
    let name = format!("orders-{tag}");
    create_stream(session, &key, &name, &orders).await?;
    let first_id = consume_stream(session, ctx, &key, &name, &orders).await?;
    subscribe(session, ctx, &key, &users).await?;
    look_up_event(session, &key, &first_id).await?;
    refuse_errors(session, &key, &tag, &name, &orders).await?;
    delete_stream(session, &key, &name).await
}

/// `create-stream` and `list-streams`: the named stream `name` on `orders`,
/// with a filter on every action.
async fn create_stream(
    session: &mut Session,
    key: &str,
    name: &str,
    orders: &str,
) -> Result<(), ScriptError> {
    let filter =
        json!({"create": {"status": "new"}, "update": {"after": {"status": "paid"}}, "delete": {}});
    session
        .exchange(
            "create-stream",
            "POST /streams with a name, a model and a filter on every action.",
            Request::post(
                "/streams",
                json!({"name": name, "model": orders, "filter": filter}),
            )
            .bearer(key),
            Framing::Whole,
        )
        .await?;
    session
        .exchange(
            "list-streams",
            "GET /streams: every stream of the target.",
            Request::get("/streams").bearer(key),
            Framing::Whole,
        )
        .await?;
    Ok(())
}

/// `stream-events`, `second-consumer` and `stream-resumed`: the named
/// stream after a row of `orders` is created, updated and deleted. Returns
/// the id of its first event.
async fn consume_stream(
    session: &mut Session,
    ctx: &Context,
    key: &str,
    name: &str,
    orders: &str,
) -> Result<String, ScriptError> {
    let row =
        |status: &str| json!({"id": 1, "status": status, "total": 1250, "items": ["book", "pen"]});
    change(session, ctx, orders, "create", row("new")).await?;
    change(session, ctx, orders, "update", row("paid")).await?;
    change(session, ctx, orders, "delete", row("paid")).await?;
    let events = Request::get(format!("/streams/{name}/events"))
        .bearer(key)
        .header("accept", "text/event-stream");
    let mut first = session.open(&events, Framing::Sse(3)).await?;
    first.read().await;
    let first_id = first_event_id(&first.response.body);
    session.keep(
        "stream-events",
        "The named stream after a create, an update and a delete (full replica identity).",
        events.clone(),
        first.response.clone(),
    );
    session
        .exchange(
            "second-consumer",
            "A second consumer of the stream while the first is still connected: it takes the stream over.",
            events.clone(),
            Framing::Sse(1),
        )
        .await?;
    // The first consumer leaves only now, so the second one above met it connected.
    drop(first);
    let resumed = events.header(pulse::LAST_EVENT_ID, first_id.clone());
    let open = reopen(session, &resumed, Framing::Sse(2)).await?;
    session.keep(
        "stream-resumed",
        "The stream again with Last-Event-ID naming the first event: the update and the delete.",
        resumed,
        open.response,
    );
    Ok(first_id)
}

/// `subscribe`: `POST /subscribe` on `users`, open while a row of it is
/// created, updated and deleted.
async fn subscribe(
    session: &mut Session,
    ctx: &Context,
    key: &str,
    users: &str,
) -> Result<(), ScriptError> {
    let subscribe = Request::post(pulse::SUBSCRIBE, pulse::subscription(users))
        .bearer(key)
        .header("accept", "text/event-stream");
    let mut live = session.open(&subscribe, Framing::Sse(3)).await?;
    let user = |name: &str| json!({"id": "u1", "name": name, "active": true});
    change(session, ctx, users, "create", user("Ada")).await?;
    change(session, ctx, users, "update", user("Ada L.")).await?;
    change(session, ctx, users, "delete", user("Ada L.")).await?;
    live.read().await;
    session.keep(
        "subscribe",
        "POST /subscribe on a model with default replica identity, then a create, an update and a delete.",
        subscribe,
        live.response,
    );
    Ok(())
}

/// `lookup`, `error-lookup-unknown` and `error-lookup-malformed`:
/// `GET /events/{id}` of the stream's first event, of an id no event has,
/// and of one that is not an id.
async fn look_up_event(
    session: &mut Session,
    key: &str,
    first_id: &str,
) -> Result<(), ScriptError> {
    let lookups = [
        (
            "lookup",
            "GET /events/{id} of the stream's first event.",
            Request::get(format!("/events/{first_id}")).bearer(key),
        ),
        (
            "error-lookup-unknown",
            "GET /events/{id} with a well-formed id no event has.",
            Request::get("/events/00000000000000000000000000").bearer(key),
        ),
        (
            "error-lookup-malformed",
            "GET /events/{id} with an id that is not a ULID: 404, as the seed documents no 400 here.",
            Request::get("/events/not-an-id").bearer(key),
        ),
    ];
    for (step, about, request) in lookups {
        session
            .exchange(step, about, request, Framing::Whole)
            .await?;
    }
    Ok(())
}

/// The `error-*` exchanges of keys, stream creation and subscription.
async fn refuse_errors(
    session: &mut Session,
    key: &str,
    tag: &str,
    name: &str,
    orders: &str,
) -> Result<(), ScriptError> {
    let errors = [
        (
            "error-no-key",
            "GET /streams without a key.",
            Request::get("/streams"),
        ),
        (
            "error-wrong-key",
            "GET /streams with a wrong key.",
            Request::get("/streams").bearer("pulse_wrong_key"),
        ),
        (
            "error-duplicate-stream",
            "POST /streams with the name of an existing stream.",
            Request::post("/streams", json!({"name": name, "model": orders})).bearer(key),
        ),
        (
            "error-bad-body",
            "POST /streams without a model.",
            Request::post("/streams", json!({"name": format!("bad-{tag}")})).bearer(key),
        ),
        (
            "error-unknown-model",
            "POST /subscribe for a model that does not exist.",
            Request::post("/subscribe", json!({"model": format!("Nothing_{tag}")})).bearer(key),
        ),
    ];
    for (step, about, request) in errors {
        session
            .exchange(step, about, request, Framing::Whole)
            .await?;
    }
    Ok(())
}

/// `delete-stream` and `error-delete-unknown`: `DELETE /streams/{name}`, twice.
async fn delete_stream(session: &mut Session, key: &str, name: &str) -> Result<(), ScriptError> {
    let delete = Request::new(Method::DELETE, format!("/streams/{name}")).bearer(key);
    session
        .exchange(
            "delete-stream",
            "DELETE /streams/{name}.",
            delete.clone(),
            Framing::Whole,
        )
        .await?;
    session
        .exchange(
            "error-delete-unknown",
            "DELETE /streams/{name} again, now that it is gone.",
            delete,
            Framing::Whole,
        )
        .await?;
    Ok(())
}

/// Opens a named stream again, waiting while the server still counts the previous consumer.
async fn reopen(
    session: &Session,
    request: &Request,
    framing: Framing,
) -> Result<Open, ScriptError> {
    let deadline = tokio::time::Instant::now() + RELEASE;
    loop {
        let mut open = session.open(request, framing).await?;
        if open.response.status != 409 || tokio::time::Instant::now() >= deadline {
            open.read().await;
            return Ok(open);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The id of the first SSE event in a body.
fn first_event_id(body: &[u8]) -> String {
    crate::snapshot::render::sse_blocks(body)
        .iter()
        .flat_map(|block| block.lines.iter())
        .find_map(|line| line.text.strip_prefix("id:").map(|id| id.trim().to_owned()))
        .unwrap_or_else(|| "missing".to_owned())
}

async fn declare(
    session: &Session,
    ctx: &Context,
    model: &str,
    identity: &str,
) -> Result<(), ScriptError> {
    session
        .setup_json(
            Request::post(
                pulse::MODELS,
                json!({"name": model, "primary_key": "id", "replica_identity": identity}),
            )
            .bearer(ctx.target.control_token()),
        )
        .await
        .map(|_| ())
}

async fn change(
    session: &Session,
    ctx: &Context,
    model: &str,
    action: &str,
    row: Value,
) -> Result<(), ScriptError> {
    session
        .setup_json(
            Request::post(pulse::rows(model), pulse::change(action, row))
                .bearer(ctx.target.control_token()),
        )
        .await
        .map(|_| ())
}
