//! The Actyx Events API v2 (seed 003): auth, node id, offsets, publish, query, subscribe, subscribe_monotonic.
//!
//! The node's facts come from Actyx's own open-source node (`ax_core`);
//! `../shared/PROTOCOLS.md` has the summary. Where the seed and the node
//! differ, the seed wins and the difference is listed here.
//!
//! # Behaviour
//!
//! - **Identity.** The node id (32 random bytes in the crypt base64
//!   alphabet) is made on first start and kept; apps publish to stream
//!   `<node id>-0`. As on a real node, a fresh node's stream 0 starts with
//!   four `com.actyx` routing events (offsets 0 to 3), so `FROM allEvents`
//!   sees them and the first app event has offset 4.
//! - **Auth.** `POST /api/v2/auth` takes an app manifest; `com.example.*`
//!   apps need no signature, and signed manifests are refused (this node
//!   holds no Actyx license key). The answer is `{token}`; the token carries
//!   its app, creation time and validity (24 h by default) and is signed by
//!   the node. Like the real node, a restart invalidates every token (`401
//!   ERR_TOKEN_EXPIRED`); clients authenticate again. The token is read from
//!   `Authorization: Bearer`, the seed's only way, and, like the node, from
//!   `?access_token=`, which the seed never mentions: the harness holds a
//!   target to it at SHOULD only (`actyx/auth/token-flow`).
//! - **Errors** are `{code, message}` with the node's codes, statuses and
//!   texts ([`error`]). Checks run in the node's order: path, method, auth,
//!   `Accept`, `Content-Type`, body, query.
//! - **Offsets** answer `Cache-Control: no-store` as the seed says (the node
//!   says `no-cache`); streams without events are absent from `present`.
//! - **Streams** end with an `offsets` line (query), or send it after
//!   catch-up (subscribe, subscribe_monotonic). A blank line follows every
//!   `keepalive` of silence (15 s by default). An `upperBound` beyond the
//!   present gives one `error` diagnostic line and no `offsets` line.
//! - **subscribe_monotonic** needs `session` and `query`; `lowerBound` is
//!   optional, as the seed says (none: from the beginning), though the node
//!   refuses a request without it. Its time-travel reference is the newest matching event
//!   within `lowerBound`, so a session resumes, also after a restart, from
//!   what the client says it has. As on the node, the session id is not
//!   stored and changes nothing.
//! - **Replication** is simulated through `POST /_control/actyx/replicate`:
//!   events of another node's stream, continuing its offsets, with their own
//!   lamports; the node's clock moves past them. `announce` sets what the
//!   swarm claims for a stream, which `toReplicate` reports.
//! - **Orders.** `stream-asc` is answered in `asc` order, which keeps every
//!   stream ascending as it requires.
//! - **Reading.** Queries and catch-up merge the streams' logs one read
//!   batch per stream at a time; `desc` reads the range ascending and
//!   reverses it in memory, so its memory grows with the events it matches.
//! - **AQL**: see [`aql`] for what is supported and how the rest is refused
//!   (`400 ERR_BAD_REQUEST`, naming the feature).
//!
//! # Layout
//!
//! - [`aql`]: the query language.
//! - [`model`]: node ids, stream ids, event keys, event lines.
//! - [`line`]: an event's line, rendered once for every feed that sends it unchanged.
//! - [`node`]: identity, Lamport clock, streams, publish and replicate.
//! - [`auth`]: tokens and the request checks every route shares.
//! - [`error`]: the node's error answers.
//! - [`offsets`]: offset maps as requests write them.
//! - [`read`]: reading events across streams in key order.
//! - [`recent`]: the newest events of each stream, decoded once for every feed.
//! - [`feed`]: the NDJSON body: catch-up, `offsets`, live, keep-alive.
//! - [`api`]: node id, offsets, publish, query.
//! - [`subscribe`]: the two live endpoints.
//! - [`control`]: the control routes under `/_control/actyx`.
//!
//! # Shape
//!
//! | part | where |
//! |---|---|
//! | state | [`State`], here |
//! | routes | [`routes`] and [`control_routes`], here |
//! | write path | [`node`] (publish, replicate) |
//! | auth | [`auth`] |
//! | errors | [`error`] |
//! | streams | `feed`, opened by `api` (query) and `subscribe` |

mod api;
pub mod aql;
pub mod auth;
mod control;
pub mod error;
mod feed;
pub mod line;
pub mod model;
pub mod node;
pub mod offsets;
mod read;
mod recent;
mod subscribe;

use axum::Router;
use axum::routing::{get, post};

use crate::config::ActyxConfig;
use crate::log::Log;

/// What the Actyx API keeps between requests.
#[derive(Debug)]
pub struct State {
    pub node: node::Node,
    /// The newest events of each stream, decoded once for every feed.
    pub recent: std::sync::Arc<recent::Recent>,
    /// Changes at every start; tokens from another start are expired.
    pub cycle: u64,
    pub config: ActyxConfig,
}

impl State {
    pub fn load(config: &ActyxConfig, log: &Log, now_micros: u64) -> anyhow::Result<Self> {
        let node = node::Node::load(log, now_micros)?;
        let cycle =
            u64::from_le_bytes(crate::random::bytes32()[..8].try_into().unwrap_or_default());
        Ok(Self {
            node,
            recent: std::sync::Arc::default(),
            cycle,
            config: config.clone(),
        })
    }
}

/// What Actyx's handlers extract: the core and Actyx's own [`State`].
pub type Ctx = crate::core::Api<State>;

/// The public Actyx routes.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/api/v2/auth",
            post(auth::login).fallback(api::method_not_allowed),
        )
        .route("/api/v2/node/id", axum::routing::any(api::node_id))
        .route(
            "/api/v2/events/offsets",
            get(api::offsets).fallback(api::method_not_allowed),
        )
        .route(
            "/api/v2/events/publish",
            post(api::publish).fallback(api::method_not_allowed),
        )
        .route(
            "/api/v2/events/query",
            post(api::query).fallback(api::method_not_allowed),
        )
        .route(
            "/api/v2/events/subscribe",
            post(subscribe::subscribe).fallback(api::method_not_allowed),
        )
        .route(
            "/api/v2/events/subscribe_monotonic",
            post(subscribe::subscribe_monotonic).fallback(api::method_not_allowed),
        )
        .route("/api/v2/{*rest}", axum::routing::any(api::not_found))
}

/// Actyx's routes under `/_control/actyx`.
pub fn control_routes() -> Router<Ctx> {
    Router::new().route("/replicate", post(control::replicate))
}
