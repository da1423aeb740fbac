//! The reference server: the five event-streaming APIs over one durable log store.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`]. Tests and
//! the harness's embedded mode start a server with [`server::start`] on port 0.
//!
//! # Layout
//!
//! The APIs sit on a core that knows none of them ([`core`]); only [`app`]
//! (with [`server`], [`cli`] and `fuzzing`) knows every API.
//! `tests/it/layering.rs` holds the import graph to that.
//!
//! - [`core`]: the `Core` (config, log, hub, shutdown), the clock, and the one follower behind every stream.
//! - [`cli`]: command-line flags, turned into a [`config::Config`] in one step.
//! - [`config`]: the validated configuration and the dev credentials; [`config_file`]: the TOML file and merging.
//! - [`defects`]: the deliberate defects (`--defect NAME`) that prove checks can fail.
//! - [`store`]: the log store trait and its memory and durable engines.
//! - [`log`]: the async face of the store: commits grouped off the runtime, new-data notifications.
//! - [`error`]: JSON error bodies and the JSON body extractor.
//! - [`control`]: the `/_control/` API (bearer token): info, defects, stats, disconnect, scratch log.
//! - [`subscribers`]: open streams, their counters, and the tokens that end them.
//! - [`sse`]: the server-sent-event feed of Fibric and Pulse, on the follower.
//! - [`conn`]: accepted connections, cut when the peer stops reading.
//! - [`fibric`]: the Fibric envelope stream (seed 004).
//! - [`pulse`]: Prisma Pulse (seed 001).
//! - [`actyx`]: the Actyx Events API v2 (seed 003).
//! - [`atproto`]: AT Protocol repositories, the firehose (`subscribeRepos`) and the label stream.
//! - [`fauna`]: Fauna event streaming and the FQL subset that feeds it (seed 000).
//! - `fuzzing` (hidden): the checks the fuzz targets and `fixtures/fuzz/` regression tests share.
//! - [`random`]: random bytes for identities and secrets.
//! - [`app`]: composition: each API's state, and every route.
//! - [`server`]: listener, HTTP/1.1 + h2c, graceful shutdown.

pub mod actyx;
pub mod app;
pub mod atproto;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod conn;
pub mod control;
pub mod core;
pub mod defects;
pub mod error;
pub mod fauna;
pub mod fibric;
#[doc(hidden)]
pub mod fuzzing;
pub mod hmac;
pub mod log;
pub mod pulse;
pub mod random;
pub mod server;
pub mod sse;
pub mod store;
pub mod subscribers;
