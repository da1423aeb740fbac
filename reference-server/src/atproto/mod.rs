//! The AT Protocol (seed 002): accounts, signed repositories, XRPC, a PLC-style directory, and the `subscribeRepos` / `subscribeLabels` firehoses.
//!
//! Facts come from the atproto specs and the PDS; `../shared/PROTOCOLS.md`
//! has the summary. Decisions where they are silent:
//!
//! - **Identities** are `did:plc`-shaped (24 base32 characters of a hash),
//!   served by the built-in directory at `GET /_plc/{did}` with `#atproto`
//!   (commits) and `#atproto_label` (labels) keys and this server as PDS.
//!   The directory does not take PLC operations.
//! - **Account creation** emits `#identity`, `#account` (active) and `#sync`
//!   with the repository's first, empty commit; each write is one signed
//!   commit and one `#commit`.
//! - **`seq`** is the position of the frame in its store stream: handed out
//!   once, persisted in the same commit as the repository change, so it is
//!   never reused, also across restarts. Frames are encoded once, at commit.
//! - **Replay** keeps `backfill_events` frames no older than `backfill_age`;
//!   `> cursor` is replayed, a cursor before the oldest kept frame gets
//!   `#info OutdatedCursor` first, one beyond the newest an error frame
//!   `FutureCursor` and a close.
//! - **Labels** are made through the control API (the sample producer's
//!   `label` action uses it), signed with the label key of the server's
//!   labeler identity (or of the account named as `src`). Each carries
//!   `ver: 1`; the seed makes `ver` optional, so no check requires it.
//! - **Status and handle changes** come through the PDS's own methods:
//!   `deactivateAccount` / `activateAccount` emit `#account` (inactive:
//!   status `deactivated`; the control API sets any other), `updateHandle`
//!   emits `#identity` with the new handle, each in the change's commit.
//!
//! # Layout
//!
//! - [`mst`], [`keys`], [`tid`], [`repo`]: the repository core.
//! - [`account`]: identities, accounts, DID documents, syntax rules.
//! - [`xrpc`]: errors, input, bearer tokens.
//! - [`events`]: every frame the firehoses send.
//! - [`writer`]: the one write path (accounts, commits, labels, status).
//! - [`server_api`], [`identity_api`], [`repo_api`], [`sync_api`]: the XRPC methods and the directory.
//! - [`firehose`]: the WebSocket streams.
//! - [`control`]: the routes under `/_control/atproto`.
//!
//! # Shape
//!
//! | part | where |
//! |---|---|
//! | state | [`State`], in [`writer`] |
//! | routes | [`routes`] and [`control_routes`], here |
//! | write path | [`writer`] |
//! | auth | [`xrpc`] (bearer tokens) |
//! | errors | [`xrpc`] ([`xrpc::XrpcError`]) |
//! | streams | `firehose` |

pub mod account;
mod control;
pub mod events;
mod firehose;
mod identity_api;
pub mod keys;
pub mod mst;
pub mod repo;
mod repo_api;
mod server_api;
mod sync_api;
pub mod tid;
pub mod writer;
pub mod xrpc;

use axum::Router;
use axum::routing::{get, post};

/// The firehose of repository events.
pub const REPOS_STREAM: &str = "atproto.repos";
/// The label stream.
pub const LABELS_STREAM: &str = "atproto.labels";

pub use writer::State;

/// What AT Protocol's handlers extract: the core and AT Protocol's own [`State`].
pub type Ctx = crate::core::Api<State>;

/// The public routes: XRPC and the directory.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/xrpc/com.atproto.server.createAccount",
            post(server_api::create_account),
        )
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(server_api::create_session),
        )
        .route(
            "/xrpc/com.atproto.server.getSession",
            get(server_api::get_session),
        )
        .route(
            "/xrpc/com.atproto.server.describeServer",
            get(server_api::describe_server),
        )
        .route(
            "/xrpc/com.atproto.server.deactivateAccount",
            post(identity_api::deactivate_account),
        )
        .route(
            "/xrpc/com.atproto.server.activateAccount",
            post(identity_api::activate_account),
        )
        .route(
            "/xrpc/com.atproto.identity.updateHandle",
            post(identity_api::update_handle),
        )
        .route(
            "/xrpc/com.atproto.repo.createRecord",
            post(repo_api::create_record),
        )
        .route(
            "/xrpc/com.atproto.repo.putRecord",
            post(repo_api::put_record),
        )
        .route(
            "/xrpc/com.atproto.repo.deleteRecord",
            post(repo_api::delete_record),
        )
        .route(
            "/xrpc/com.atproto.repo.applyWrites",
            post(repo_api::apply_writes),
        )
        .route(
            "/xrpc/com.atproto.repo.getRecord",
            get(repo_api::get_record),
        )
        .route(
            "/xrpc/com.atproto.sync.getLatestCommit",
            get(sync_api::get_latest_commit),
        )
        .route("/xrpc/com.atproto.sync.getRepo", get(sync_api::get_repo))
        .route(
            "/xrpc/com.atproto.sync.subscribeRepos",
            get(firehose::subscribe_repos),
        )
        .route(
            "/xrpc/com.atproto.label.subscribeLabels",
            get(firehose::subscribe_labels),
        )
        .route(
            "/xrpc/{method}",
            get(sync_api::unknown).post(sync_api::unknown),
        )
        .route("/_plc/{did}", get(sync_api::did_document))
        .route("/{did}", get(sync_api::did_document_at_root))
}

/// The control routes under `/_control/atproto`.
pub fn control_routes() -> Router<Ctx> {
    Router::new()
        .route("/accounts/{did}/status", post(control::set_status))
        .route("/labels", post(control::create_label))
}
