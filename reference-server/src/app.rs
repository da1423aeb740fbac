//! Composition: the core, each API's state, and every route of the server.
//!
//! This is the one module that knows every API. It builds the [`Core`], loads
//! each API's state from the log, and hands each API's routes only the core
//! and that API's state ([`Api`]); the control routes get the core alone.

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::{Api, Core, Shared, now_micros};
use crate::log::Log;
use crate::{actyx, atproto, control, error, fauna, fibric, pulse};

/// The core and every API's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Core,
    pub fibric: Arc<fibric::State>,
    pub pulse: Arc<pulse::State>,
    pub actyx: Arc<actyx::State>,
    pub fauna: Arc<fauna::State>,
    pub atproto: Arc<atproto::State>,
}

impl AppState {
    /// Builds the core and loads what each API keeps in the store.
    pub fn new(config: Config, log: Log, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let fibric = fibric::State::new(&config.fibric);
        let pulse = pulse::State::load(&config.pulse, &log)?;
        let actyx = actyx::State::load(&config.actyx, &log, now_micros())?;
        let fauna = fauna::State::load(&config.fauna, &log)?;
        let atproto = atproto::State::load(&config.atproto, &config.defects, &log)?;
        Ok(Self {
            core: Core::new(config, log, shutdown),
            fibric: Arc::new(fibric),
            pulse: Arc::new(pulse),
            actyx: Arc::new(actyx),
            fauna: Arc::new(fauna),
            atproto: Arc::new(atproto),
        })
    }

    fn scoped<S>(&self, api: &Arc<S>) -> Api<S> {
        Api::new(self.core.clone(), Arc::clone(api))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.core
    }
}

/// Every route of the server. Tests call this directly, without a socket.
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let apis: Vec<(&'static str, Router<Core>)> = vec![
        (
            "fibric",
            fibric::control_routes().with_state(state.scoped(&state.fibric)),
        ),
        (
            "pulse",
            pulse::control_routes().with_state(state.scoped(&state.pulse)),
        ),
        (
            "actyx",
            actyx::control_routes().with_state(state.scoped(&state.actyx)),
        ),
        (
            "fauna",
            fauna::control_routes().with_state(state.scoped(&state.fauna)),
        ),
        (
            "atproto",
            atproto::control_routes().with_state(state.scoped(&state.atproto)),
        ),
    ];
    Router::new()
        .merge(fibric::routes().with_state(state.scoped(&state.fibric)))
        .merge(pulse::routes().with_state(state.scoped(&state.pulse)))
        .merge(actyx::routes().with_state(state.scoped(&state.actyx)))
        .merge(fauna::routes().with_state(state.scoped(&state.fauna)))
        .merge(atproto::routes().with_state(state.scoped(&state.atproto)))
        .nest("/_control", control::routes(state.core.clone(), apis))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state.core)
}
