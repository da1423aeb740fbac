//! The Fibric envelope stream (seed 004): `GET /v1/events` and `GET /v1/events/stream`.

use axum::Router;

use crate::app::AppState;
use crate::config::FibricConfig;

/// What Fibric keeps between requests.
#[derive(Debug)]
pub struct State {}

impl State {
    pub fn new(_config: &FibricConfig) -> Self {
        Self {}
    }
}

/// The public Fibric routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// Fibric's routes under `/_control/fibric`.
pub fn control_routes() -> Router<AppState> {
    Router::new()
}
