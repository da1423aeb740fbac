//! Prisma Pulse (seed 001): named streams, transient subscriptions, event lookup, health.

use axum::Router;

use crate::app::AppState;
use crate::config::PulseConfig;
use crate::log::Log;

/// What Pulse keeps between requests.
#[derive(Debug)]
pub struct State {}

impl State {
    pub fn load(_config: &PulseConfig, _log: &Log) -> anyhow::Result<Self> {
        Ok(Self {})
    }
}

/// The public Pulse routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// Pulse's routes under `/_control/pulse`.
pub fn control_routes() -> Router<AppState> {
    Router::new()
}
