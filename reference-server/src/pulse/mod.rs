//! Prisma Pulse (seed 001): named streams, transient subscriptions, event lookup, health.
//!
//! The seed is an OpenAPI description; `../shared/PROTOCOLS.md` records the
//! decisions it leaves open. This module implements the seed's surface over
//! one log stream, `pulse`, that holds the change events of every model.
//!
//! # Behaviour the seed leaves open
//!
//! The seed's OpenAPI is the contract: every operation answers only the
//! statuses the seed documents for it (a condition the seed has no status
//! for gets the documented one that fits), with the documented content
//! type and schema.
//!
//! - **Auth.** Every route but `GET /health` needs `Authorization: Bearer
//!   <api key>` (the scheme is case-insensitive); otherwise `401
//!   unauthorized` with `WWW-Authenticate: Bearer`. Every error of a Pulse
//!   route is `{code, message, meta?}` JSON, also for a bad body, a bad path
//!   and a method the path does not serve (`405 method_not_allowed`).
//! - **Bodies.** Request bodies are strict JSON objects: unknown fields, a
//!   syntax error, or a content type other than `application/json` are `400
//!   invalid_request` (the only client error the seed lists for bodies); a
//!   body over the server's limit is `400 payload_too_large` (the seed
//!   documents no `413`; the control API answers `413`).
//! - **Event ids** are ULIDs, strictly increasing in log order, also across
//!   restarts (the generator starts after the newest event in the log). An id
//!   is well-formed when it matches the seed's pattern exactly. `GET
//!   /events/{id}` answers `404 event_not_found` for an unknown id and for a
//!   malformed one (lower case, too short, above `7ZZZ…`): the seed
//!   documents 200, 401, 404 and 500 for it, no `400`.
//! - **Filters** (see [`filter`]): an action a present filter does not name is
//!   not delivered, so `{}` delivers nothing; a malformed filter is `400
//!   invalid_filter`. With default replica identity a delete event only
//!   carries the primary key, so a delete filter on another field never matches.
//! - **Named streams.** A stream holds every matching event committed after
//!   its `POST /streams` was answered. `status` is `active` while a consumer is
//!   connected and `paused` otherwise (`stopped` is never shown: a deleted
//!   stream is gone). `cursor` is the id of the last acknowledged event,
//!   absent until there is one. Names are 1 to 200 bytes without `/` or
//!   control characters. An unknown model is `400 model_not_found` with
//!   `meta.model`.
//! - **Acknowledgement.** A consumer acknowledges by connecting with
//!   `Last-Event-ID`: the saved cursor becomes that event's position (also
//!   when it is older than the saved one, which replays; never before the
//!   stream's start, so an id from an earlier stream of the same name
//!   acknowledges nothing) and delivery starts strictly after it. An empty
//!   `Last-Event-ID` counts as absent; a malformed or unknown one is `404
//!   invalid_cursor` (the seed documents 200, 401, 404 and 500 for this
//!   operation, no `400`) and moves nothing. Without it, delivery starts
//!   after the saved cursor.
//! - **One consumer per named stream.** A newer consumer takes the stream
//!   over: the earlier consumer's response ends, so acknowledgements cannot
//!   cross. (The seed documents no status that would refuse it, `409` only
//!   for creating an existing name; taking over also lets an EventSource
//!   whose connection died unseen reconnect at once.)
//! - **Delete** ends the stream's consumer (its response ends), and forgets
//!   the definition and cursor; a new stream of the same name starts fresh.
//! - **Environments.** An API key names an environment (the seed: a key is
//!   generated "for each environment", and `GET /streams` lists the streams
//!   "for the current environment"): `[pulse] api_key` is the `default`
//!   environment's, `[pulse.keys]` maps more keys to environments. Named
//!   streams are the environment's own ([`streams::Environment`]): another
//!   environment's key does not list them, and consuming or deleting them
//!   answers `404 stream_not_found`; each environment may have a stream of
//!   the same name, with its own consumer and cursor. Models, rows and their
//!   events are the database's and shared by every environment: a
//!   subscription or a stream is by model, and `GET /events/{id}` finds any
//!   event whatever the key.
//! - **Subscribe** starts at the log head when the request arrives, never
//!   replays, and ignores `Last-Event-ID`. The seed promises a subscription
//!   only at-most-once delivery with no ordering guarantees; this server
//!   sends every matching event while the connection is up, in log order,
//!   but that is its own choice: the checks hold a target to at most once
//!   (no event twice, none unpublished or of another model), never to
//!   delivering everything. A body without `model` is `400 invalid_request`.
//! - **Models.** A named stream and a subscription deliver only the events of
//!   the model they name (`modelName`), whatever else changes at the time.
//! - **Control API** (`/_control/pulse`, control token): `POST /models`
//!   declares a model (`201`, `200` if identical, `409 model_exists`), `GET
//!   /models` lists them, `POST /models/{model}/rows {action, row}` changes a
//!   row and answers `201 {"id"}` (`404 model_not_found`, `404
//!   row_not_found`, `409 row_exists`, `400 invalid_request`). Primary key
//!   values are strings or numbers. A model declared in the config file
//!   replaces a stored declaration of the same name.
//!
//! # Defects
//!
//! Each deliberate defect (see [`crate::defects`]) is one switch at the place
//! whose rule it breaks: `no-auth`, `streams-ignore-environment` and the key check in
//! [`auth`];
//! `health-needs-auth`, `health-replication-unknown` and
//! `lookup-malformed-400` in [`events`];
//! `unknown-model-404` in [`streams::check_model_and_filter`];
//! `error-shape-wrapped` in [`error::reshape`]; `duplicate-stream-created`
//! and `delete-keeps-consumer` in `write`; `allow-second-consumer`,
//! `ack-on-send`, `drop-on-reconnect`, `filter-ignores-action`,
//! `subscribe-replays`, `subscribe-duplicates`, `stream-mixes-models`,
//! `consume-unknown-opens`, `subscribe-model-optional` and
//! `stream-ends-caught-up` in [`delivery`]; `cursor-shows-position` in
//! [`streams::info`];
//! `update-without-before` and `ulid-not-monotonic` in `write` (with
//! [`ulid::Generator::next_unordered`]). `wrong-content-type` and
//! `no-keepalive` live in the shared SSE machinery ([`crate::sse`]).
//!
//! # Layout
//!
//! - [`auth`]: the API key extractor, and the environment a key names.
//! - [`error`]: [`error::PulseError`] and extractors with Pulse-shaped rejections.
//! - [`ulid`]: ULID text form and the monotonic generator.
//! - [`events`]: the event JSON, the id index, `GET /events/{id}`, `GET /health`.
//! - [`filter`]: `EventFilter` parsing and matching.
//! - [`model`]: model declarations; [`rows`]: what a row change does and the event it makes.
//! - [`streams`]: named stream definitions as stored; `streams_api`: create, list, delete.
//! - `write`: every Pulse write, each one commit under the writer lock.
//! - [`delivery`]: SSE delivery of named streams and subscriptions.
//! - [`control`]: the `/_control/pulse` handlers.
//!
//! # Shape
//!
//! | part | where |
//! |---|---|
//! | state | [`State`], here |
//! | routes | [`routes`] and [`control_routes`], here |
//! | write path | `write` (rows with their events, models, stream definitions, acknowledgements) |
//! | auth | [`auth`] |
//! | errors | [`error`] |
//! | streams | [`delivery`], over [`crate::sse`] |

pub mod auth;
pub mod control;
pub mod delivery;
pub mod error;
pub mod events;
pub mod filter;
pub mod model;
pub mod rows;
pub mod streams;
mod streams_api;
pub mod ulid;
mod write;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};

use crate::config::{ModelDecl, PulseConfig};
use crate::log::Log;

/// What Pulse keeps between requests.
#[derive(Debug)]
pub struct State {
    models: RwLock<BTreeMap<String, ModelDecl>>,
    /// Serialises every Pulse write (rows, models, stream definitions,
    /// acknowledgements), and hands out event ids in log order.
    writer: tokio::sync::Mutex<ulid::Generator>,
    claims: Arc<delivery::Claims>,
}

impl State {
    /// Reads the models and the newest event id from the store.
    pub fn load(config: &PulseConfig, log: &Log) -> anyhow::Result<Self> {
        let store = log;
        let models = model::load(config, store)?;
        let bounds = log
            .bounds(events::STREAM)
            .context("reading the pulse log")?;
        let last =
            match bounds.last {
                Some(position) => {
                    let id = events::id_at(store, position)
                        .context("reading the newest pulse event")?
                        .context("the newest pulse event is missing")?;
                    Some(ulid::Ulid::parse(&id).with_context(|| {
                        format!("the newest pulse event has a malformed id {id:?}")
                    })?)
                }
                None => None,
            };
        Ok(Self {
            models: RwLock::new(models),
            writer: tokio::sync::Mutex::new(ulid::Generator::new(last)),
            claims: Arc::default(),
        })
    }

    /// The declaration of `name`, if it is declared.
    pub fn model(&self, name: &str) -> Option<ModelDecl> {
        let models = self.models.read().unwrap_or_else(|p| p.into_inner());
        models.get(name).cloned()
    }

    /// Every declared model, sorted by name.
    pub fn models(&self) -> Vec<ModelDecl> {
        let models = self.models.read().unwrap_or_else(|p| p.into_inner());
        models.values().cloned().collect()
    }

    fn insert_model(&self, decl: ModelDecl) {
        let mut models = self.models.write().unwrap_or_else(|p| p.into_inner());
        models.insert(decl.name.clone(), decl);
    }
}

/// `micros` since the epoch as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(micros: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_micros(micros);
    humantime::format_rfc3339_millis(time).to_string()
}

/// A route whose other methods get Pulse's `405`, and whose error bodies
/// the `error-shape-wrapped` defect can reshape.
fn pulse_route(route: MethodRouter<Ctx>) -> MethodRouter<Ctx> {
    route
        .fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(error::reshape))
}

/// What Pulse's handlers extract: the core and Pulse's own [`State`].
pub type Ctx = crate::core::Api<State>;

/// The public Pulse routes.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/health", pulse_route(get(events::health)))
        .route("/events/{id}", pulse_route(get(events::lookup)))
        .route(
            "/streams",
            pulse_route(post(streams_api::create).get(streams_api::list)),
        )
        .route("/streams/{name}", pulse_route(delete(streams_api::delete)))
        .route(
            "/streams/{name}/events",
            pulse_route(get(delivery::consume)),
        )
        .route("/subscribe", pulse_route(post(delivery::subscribe)))
}

/// Pulse's routes under `/_control/pulse`.
pub fn control_routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/models",
            pulse_route(post(control::declare_model).get(control::list_models)),
        )
        .route(
            "/models/{model}/rows",
            pulse_route(post(control::change_row)),
        )
}
