//! Fauna event streaming (seed 000): `POST /stream/1`, `POST /feed/1`, and the FQL subset of `POST /query/1` that makes documents and event sources.
//!
//! Facts come from Fauna's drivers (PyPI `fauna`, npm `fauna`) and server;
//! `../shared/PROTOCOLS.md` has the summary. Decisions where they are silent:
//!
//! - **Databases.** Each configured secret opens one database (`[fauna.keys]`);
//!   collections, documents and logs are per database, and a token only
//!   works with its own database's secret.
//! - **Collections** keep `history_days` of history (1 when not given; Fauna
//!   defaults to 0, which would make `start_ts` useless against a stand-in).
//!   A stream or feed starting before that gets `invalid_stream_start_time`.
//! - **Tokens** name the source and the moment (`txn_ts` and log position) they
//!   were made. Without `start_ts`/`cursor` a stream replays everything since
//!   then; `cursor` resumes strictly after its event; `start_ts` after every
//!   event at or before it. Starting before the token is `400`; replaying
//!   more than 128 events gives 128 and then `stream_replay_volume_exceeded`.
//! - **Set membership.** `add` when a write makes a document match, `update`
//!   when it changes and still matches, `remove` when it stops matching (the
//!   document as written) or is deleted (as it was).
//! - **Keep-alive** is a `status` event after `status_interval` without an
//!   event (15 s by default; Fauna's service waits 5 minutes); never a blank line, which both
//!   drivers take as a broken stream. A status event's cursor is the
//!   stream's position, so a consumer that saw nothing since resumes from it.
//! - **Stats** carry the seed's `read_ops`, `storage_bytes_read`,
//!   `compute_ops` and `processing_time_ms`, plus `rate_limits_hit` (always
//!   `[]`) because the real service sends it; the seed does not list it, so
//!   the harness does not require it of other servers.
//! - **Single-document sources** (`Set.single(C.byId(id))`) carry only that
//!   document's changes.
//! - **Writes** go through `POST /query/1` or the control API
//!   (`/_control/fauna/...`), one commit per write with its change record.
//!
//! # Layout
//!
//! - [`time`]: µs and RFC 3339.
//! - [`tagged`]: the tagged JSON format.
//! - [`fql`]: the FQL subset.
//! - [`db`]: databases, collections, documents, the change log.
//! - [`source`]: event source tokens, cursors, set membership.
//! - [`error`]: protocol errors, query errors, error events, stats.
//! - [`request`]: the checks that open a stream or a feed (auth, token, cursor, start time).
//! - [`stream`]: `POST /stream/1`; [`feed`]: `POST /feed/1`; [`query`]: `POST /query/1`.
//! - [`control`]: the control routes under `/_control/fauna`.
//!
//! # Shape
//!
//! | part | where |
//! |---|---|
//! | state | [`State`], here |
//! | routes | [`routes`] and [`control_routes`], here |
//! | write path | [`db`] (documents and the change log), fed by `query` and `control` |
//! | auth | [`database`], here |
//! | errors | [`error`] |
//! | streams | `stream` (and the `feed` pages) |

mod control;
pub mod db;
pub mod error;
mod feed;
pub mod fql;
mod query;
mod request;
pub mod source;
mod stream;
pub mod tagged;
pub mod time;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::{delete, post};

use crate::config::FaunaConfig;
use crate::log::Log;

/// What Fauna keeps between requests.
#[derive(Debug)]
pub struct State {
    pub signer: source::Signer,
    /// One write at a time: `txn_ts` and ids are decided before each commit.
    pub writer: tokio::sync::Mutex<db::Writer>,
}

const META_NS: &str = "fauna.meta";

impl State {
    pub fn load(_config: &FaunaConfig, log: &Log) -> anyhow::Result<Self> {
        let store = log;
        let secret = match store.kv_get(META_NS, "secret")? {
            Some(bytes) => bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored Fauna secret is not 32 bytes"))?,
            None => {
                let secret = crate::random::bytes32();
                let mut batch = crate::store::WriteBatch::new();
                batch.put(META_NS, "secret", secret.to_vec());
                store.commit_at_start(batch)?;
                secret
            }
        };
        Ok(Self {
            signer: source::Signer::new(secret),
            writer: tokio::sync::Mutex::default(),
        })
    }
}

/// The database and secret a request's `Authorization: Bearer <secret>` names.
pub fn database(state: &Ctx, headers: &HeaderMap) -> Option<(String, String)> {
    let secret = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    let db = state.config.fauna.keys.get(secret)?;
    Some((db.clone(), secret.to_owned()))
}

/// What Fauna's handlers extract: the core and Fauna's own [`State`].
pub type Ctx = crate::core::Api<State>;

/// The public Fauna routes.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/stream/1", post(stream::stream))
        .route("/feed/1", post(feed::feed))
        .route("/query/1", post(query::query))
}

/// Fauna's routes under `/_control/fauna`.
pub fn control_routes() -> Router<Ctx> {
    Router::new()
        .route("/collections", post(control::create_collection))
        .route("/documents", post(control::write))
        .route("/documents/{collection}/{id}", delete(control::remove))
        .route("/tokens", post(control::token))
}
