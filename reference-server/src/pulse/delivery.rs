//! Delivery over SSE: consuming a named stream (at-least-once, resumable) and `POST /subscribe` (at-most-once, live only).
//!
//! Both send one frame per event, `id: <ULID>` then `data: <event JSON>`,
//! with no `event:` field, so an EventSource's `onmessage` fires. A named
//! stream has at most one consumer at a time: a newcomer takes it over and
//! the earlier consumer's response ends (the seed documents no status that
//! would refuse it). [`Claims`] records who holds each stream and ends the
//! holder when the stream is deleted or taken over.
//!
//! The delivery defects live in [`RenderDefects`], which each consumer's
//! renderer carries, and in where a stream starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wire::sse::{EncodeEvent, encode_event};

use super::auth::Authorized;
use super::error::{PulseError, SeedJson};
use super::events::{self, Event, STREAM};
use super::filter::EventFilter;
use super::streams::{self, cursor_name};
use super::{ulid, write};
use crate::defects::Defect;
use crate::log::Log;
use crate::pulse::Ctx;
use crate::sse::{self, Render, Subscription};
use crate::store::{Position, Record, WriteBatch};

/// Which named streams have a consumer now.
#[derive(Debug, Default)]
pub struct Claims {
    held: Mutex<HashMap<String, Claim>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Claim {
    id: u64,
    token: CancellationToken,
}

impl Claims {
    /// Whether a consumer is connected to `stream`. A claim whose token has
    /// fired (a forced disconnect) no longer counts, even before its stream
    /// has finished closing.
    pub fn is_active(&self, stream: &str) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(stream).is_some_and(|c| !c.token.is_cancelled())
    }

    /// Takes `stream` for one consumer, ending the consumer that held it
    /// (under `allow-second-consumer`, `share` leaves that one connected).
    /// The consumer's stream ends when `parent` fires, the stream is
    /// deleted, or a newer consumer takes it over.
    fn claim(
        self: &Arc<Self>,
        stream: &str,
        parent: &CancellationToken,
        share: bool,
    ) -> ClaimGuard {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !share && let Some(earlier) = held.get(stream) {
            earlier.token.cancel();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let token = parent.child_token();
        held.insert(
            stream.to_owned(),
            Claim {
                id,
                token: token.clone(),
            },
        );
        ClaimGuard {
            claims: Arc::clone(self),
            stream: stream.to_owned(),
            id,
            token,
        }
    }

    /// Ends the consumer of `stream`, if any, and frees the name.
    pub fn end(&self, stream: &str) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claim) = held.remove(stream) {
            claim.token.cancel();
        }
    }
}

/// Holds a stream for one consumer; the claim is released when the SSE body is dropped.
#[derive(Debug)]
struct ClaimGuard {
    claims: Arc<Claims>,
    stream: String,
    id: u64,
    token: CancellationToken,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let mut held = self.claims.held.lock().unwrap_or_else(|p| p.into_inner());
        // A newer consumer of a recreated stream may hold the name now.
        if held.get(&self.stream).is_some_and(|c| c.id == self.id) {
            held.remove(&self.stream);
        }
    }
}

/// The deliberate defects of one consumer's rendering.
#[derive(Default)]
struct RenderDefects {
    /// `filter-ignores-action`: an action the filter does not name passes.
    ignore_unnamed_actions: bool,
    /// `drop-on-reconnect`: while set, the next event to deliver is skipped.
    skip_next: AtomicBool,
    /// `stream-ends-caught-up`: the log head when the consumer connected, and
    /// the token that ends its response once an event at or past it is sent.
    end_when_caught_up: Option<(Position, CancellationToken)>,
    /// `subscribe-duplicates`: counts the events sent; every second one goes twice.
    duplicate_every_second: Option<AtomicU64>,
    /// `ack-on-send`: the log and named cursor that move as each event is
    /// sent. The move is enqueued inside rendering, before the frame can reach
    /// the client, and nobody waits for it (this is a defect, not a path to tune).
    ack_on_send: Option<(Log, String)>,
}

impl std::fmt::Debug for RenderDefects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderDefects")
            .field("ignore_unnamed_actions", &self.ignore_unnamed_actions)
            .field("skip_next", &self.skip_next)
            .field("duplicate_every_second", &self.duplicate_every_second)
            .field(
                "end_when_caught_up",
                &self.end_when_caught_up.as_ref().map(|(head, _)| head),
            )
            .field("ack_on_send", &self.ack_on_send.as_ref().map(|(_, c)| c))
            .finish()
    }
}

/// Turns log records into SSE frames for one consumer.
#[derive(Debug)]
struct Renderer {
    model: String,
    /// `stream-mixes-models`, `subscribe-model-optional`: every model's events pass.
    any_model: bool,
    filter: Option<EventFilter>,
    defects: RenderDefects,
    /// Kept alive as long as the SSE body, which owns the renderer.
    _claim: Option<ClaimGuard>,
}

impl Renderer {
    fn passes(&self, event: &Event) -> bool {
        match &self.filter {
            None => true,
            Some(filter) => {
                filter.matches(event)
                    || (self.defects.ignore_unnamed_actions && !filter.names(event.action))
            }
        }
    }

    fn render(&self, record: &Record) -> Option<String> {
        let event: Event = match serde_json::from_slice(&record.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, position = record.position, "pulse: a record is not an event; skipped");
                return None;
            }
        };
        if (event.model_name != self.model && !self.any_model) || !self.passes(&event) {
            return None;
        }
        if self.defects.skip_next.swap(false, Ordering::Relaxed) {
            return None;
        }
        let data = std::str::from_utf8(&record.payload).ok()?;
        let mut frame = String::with_capacity(data.len() + 48);
        let frame_event = EncodeEvent {
            id: Some(&event.id),
            event: None,
            data,
            retry: None,
        };
        encode_event(&mut frame, &frame_event).ok()?;
        if let Some(sent) = &self.defects.duplicate_every_second
            && sent.fetch_add(1, Ordering::Relaxed) % 2 == 1
        {
            frame = frame.repeat(2);
        }
        if let Some((head, token)) = &self.defects.end_when_caught_up
            && record.position >= *head
        {
            token.cancel();
        }
        if let Some((store, cursor)) = &self.defects.ack_on_send {
            let mut batch = WriteBatch::new();
            batch.set_cursor(cursor, record.position);
            if let Err(error) = store.enqueue(batch) {
                tracing::error!(%error, "pulse: ack-on-send could not move the cursor");
            }
        }
        Some(frame)
    }

    fn into_render(self) -> Render {
        Arc::new(move |record| self.render(record))
    }
}

/// `GET /streams/{name}/events`: SSE from after the saved cursor, or after
/// the `Last-Event-ID`, which is saved as the acknowledged position first.
pub async fn consume(
    Authorized(environment): Authorized,
    State(state): State<Ctx>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, PulseError> {
    let Path(name) = name?;
    // A name with '/' names no stream; the key of another environment's
    // stream of this name is another key, so that stream is not found.
    let key = environment.key(&name).unwrap_or_default();
    let defects = &state.config.defects;
    let acknowledged = last_event_id(&headers)?;
    // Under the writer lock, a deletion cannot slip between the checks below
    // and the claim, and an acknowledgement cannot outlive its stream.
    let writer = state.api.writer.lock().await;
    let store = &state.log;
    let loaded = if key.is_empty() {
        None
    } else {
        streams::load(store, &key)?
    };
    let Some(def) = loaded else {
        if defects.contains(Defect::ConsumeUnknownOpens) {
            drop(writer);
            return empty_stream(&state);
        }
        return Err(streams::not_found(&name));
    };
    let acknowledged = match acknowledged {
        None => None,
        Some(id) => Some(position_of(store, id)?),
    };
    let resumed = acknowledged.is_some();
    let share = defects.contains(Defect::AllowSecondConsumer);
    let claim = state
        .api
        .claims
        .claim(&key, &state.hub.token("pulse"), share);
    let cursor = cursor_name(&key);
    let after = match acknowledged {
        // An id from before the stream began (an earlier stream of the same
        // name) acknowledges nothing of this one.
        Some(position) => {
            let position = position.max(def.start);
            write::acknowledge(&state, &writer, &cursor, position).await?;
            position
        }
        None => store.cursor(&cursor)?.unwrap_or(def.start),
    };
    let head = store.head(STREAM)?;
    drop(writer);
    let stop = claim.token.clone();
    let renderer = Renderer {
        filter: def.filter()?,
        model: def.model,
        any_model: defects.contains(Defect::StreamMixesModels),
        defects: RenderDefects {
            ignore_unnamed_actions: defects.contains(Defect::FilterIgnoresAction),
            skip_next: AtomicBool::new(resumed && defects.contains(Defect::DropOnReconnect)),
            duplicate_every_second: None,
            end_when_caught_up: defects
                .contains(Defect::StreamEndsCaughtUp)
                .then(|| (head, stop.clone())),
            ack_on_send: defects
                .contains(Defect::AckOnSend)
                .then(|| (state.log.clone(), cursor.clone())),
        },
        _claim: Some(claim),
    };
    let mut response = sse::response(
        &state.log,
        &state.hub,
        Subscription {
            stream: STREAM.to_owned(),
            after,
            render: renderer.into_render(),
            keepalive: state.config.pulse.keepalive,
            stop,
            read_batch: state.config.subscribers.read_batch,
            preamble: None,
            defects: crate::sse::StreamDefects::from(&state.config.defects),
        },
    );
    if resumed && defects.contains(Defect::ResumedAsText) {
        let plain = axum::http::HeaderValue::from_static("text/plain");
        response.headers_mut().insert("content-type", plain);
    }
    Ok(response)
}

/// The `Last-Event-ID` a consumer resumes after; an empty one counts as absent.
fn last_event_id(headers: &HeaderMap) -> Result<Option<String>, PulseError> {
    match headers.get("last-event-id").map(|value| value.to_str()) {
        None | Some(Ok("")) => Ok(None),
        Some(Ok(id)) => Ok(Some(id.to_owned())),
        Some(Err(_)) => Err(invalid_cursor("Last-Event-ID is not ASCII")),
    }
}

/// The log position of the event a `Last-Event-ID` names: `404
/// invalid_cursor` when it is no ULID or names no event.
fn position_of(store: &Log, id: String) -> Result<Position, PulseError> {
    if !ulid::is_well_formed(&id) {
        return Err(invalid_cursor("Last-Event-ID is not a ULID").with_meta("cursor", id));
    }
    match events::position_of(store, &id)? {
        Some(position) => Ok(position),
        None => Err(invalid_cursor("Last-Event-ID names no event").with_meta("cursor", id)),
    }
}

/// A `Last-Event-ID` that names no event of the log: `404`, the seed's only
/// client error for this operation besides `401` (it documents no `400`).
/// Under `consume-unknown-opens`: an event stream of a stream that does not
/// exist, which delivers nothing but keep-alives.
fn empty_stream(state: &Ctx) -> Result<Response, PulseError> {
    let renderer = Renderer {
        model: String::new(),
        any_model: false,
        filter: None,
        defects: RenderDefects::default(),
        _claim: None,
    };
    Ok(sse::response(
        &state.log,
        &state.hub,
        Subscription {
            stream: STREAM.to_owned(),
            after: state.log.head(STREAM)?,
            render: renderer.into_render(),
            keepalive: state.config.pulse.keepalive,
            stop: state.hub.token("pulse").child_token(),
            read_batch: state.config.subscribers.read_batch,
            preamble: None,
            defects: crate::sse::StreamDefects::from(&state.config.defects),
        },
    ))
}

fn invalid_cursor(message: &str) -> PulseError {
    PulseError::not_found("invalid_cursor", message)
}

/// The body of `POST /subscribe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// Required; optional here only so that `subscribe-model-optional` can do without it.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub filter: Option<Value>,
}

/// `POST /subscribe`: SSE of the matching events committed from now on; no
/// replay, and `Last-Event-ID` is ignored.
pub async fn subscribe(
    _auth: Authorized,
    State(state): State<Ctx>,
    SeedJson(request): SeedJson<SubscribeRequest>,
) -> Result<Response, PulseError> {
    let defects = &state.config.defects;
    let (model, filter) = match request.model {
        Some(model) => {
            let filter = streams::check_model_and_filter(&state, &model, request.filter.as_ref())?;
            (model, filter)
        }
        None if defects.contains(Defect::SubscribeModelOptional) => (String::new(), None),
        None => {
            return Err(PulseError::invalid_request(
                "the body lacks the required field `model`",
            ));
        }
    };
    let any_model = model.is_empty();
    let after = if defects.contains(Defect::SubscribeReplays) {
        0
    } else {
        state.log.head(STREAM)?
    };
    let renderer = Renderer {
        model,
        any_model,
        filter,
        defects: RenderDefects {
            ignore_unnamed_actions: defects.contains(Defect::FilterIgnoresAction),
            duplicate_every_second: defects
                .contains(Defect::SubscribeDuplicates)
                .then(AtomicU64::default),
            ..RenderDefects::default()
        },
        _claim: None,
    };
    Ok(sse::response(
        &state.log,
        &state.hub,
        Subscription {
            stream: STREAM.to_owned(),
            after,
            render: renderer.into_render(),
            keepalive: state.config.pulse.keepalive,
            stop: state.hub.token("pulse").child_token(),
            read_batch: state.config.subscribers.read_batch,
            preamble: None,
            defects: crate::sse::StreamDefects::from(&state.config.defects),
        },
    ))
}
