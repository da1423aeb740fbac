//! The reference server the harness starts in-process when no `--target` is given.
//!
//! It runs with memory storage on a free port and with short timings, so
//! checks that wait for the server's own clock (keep-alives, cutting a
//! stalled consumer) finish in a second instead of the defaults' fifteen.
//! `harness load` starts it with the server's defaults instead.

use std::time::Duration;

use reference_server::config::Config;
use reference_server::defects::Defects;
use reference_server::server::{Running, start as start_server};

/// How long checks wait for the embedded server's own timers: its keep-alive
/// is half a second and it cuts a stalled consumer after one.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// The embedded server's configuration.
pub fn config(control_token: &str, defects: Defects) -> Config {
    let mut config = Config::ephemeral();
    config.control_token = control_token.to_owned();
    config.fibric.keepalive = Duration::from_millis(500);
    config.pulse.keepalive = Duration::from_millis(500);
    config.actyx.keepalive = Duration::from_millis(500);
    config.fauna.status_interval = Duration::from_millis(500);
    config.subscribers.stall_timeout = Duration::from_secs(1);
    // A short replay window, so that a cursor before it can be shown to get OutdatedCursor.
    config.atproto.backfill_events = 256;
    // A consumer 100 frames behind is too slow: well under the 600 commits
    // the ConsumerTooSlow check writes, whatever the machine's speed.
    config.atproto.consumer_buffer = 100;
    config.defects = defects;
    config
}

/// Starts an embedded reference server.
pub async fn start(control_token: &str, defects: Defects) -> anyhow::Result<Running> {
    start_server(config(control_token, defects)).await
}

/// Starts an embedded reference server with the server's own defaults, for
/// `harness load`: the checks' short timers (a stalled consumer cut after a
/// second, an AT Protocol subscriber too slow 100 frames behind) would cut
/// the subscribers a load run means to measure.
pub async fn start_for_load(control_token: &str) -> anyhow::Result<Running> {
    let mut config = Config::ephemeral();
    config.control_token = control_token.to_owned();
    start_server(config).await
}
