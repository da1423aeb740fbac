//! The router and the state every handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error;
use crate::log::Log;
use crate::subscribers::Hub;
use crate::{actyx, atproto, fauna, fibric, pulse};

/// Shared by every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub log: Log,
    /// Cancelled on SIGTERM / Ctrl-C; long-lived streams end when it fires.
    pub shutdown: CancellationToken,
    /// Open streams, their counters, and the tokens that end them.
    pub hub: Arc<Hub>,
    pub fibric: fibric::State,
    pub pulse: pulse::State,
    pub actyx: actyx::State,
    pub fauna: fauna::State,
    pub atproto: atproto::State,
}

impl AppState {
    /// Builds the state, loading what each API keeps in the store.
    pub fn new(config: Config, log: Log, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let hub = Arc::new(Hub::new(shutdown.clone()));
        let fibric = fibric::State::new(&config.fibric);
        let pulse = pulse::State::load(&config.pulse, &log)?;
        let actyx = actyx::State::load(&config.actyx, &log, now_micros())?;
        let fauna = fauna::State::load(&config.fauna, &log)?;
        let atproto = atproto::State::load(&config.atproto, &config.defects, &log)?;
        Ok(Self(Arc::new(Shared {
            config,
            log,
            shutdown,
            hub,
            fibric,
            pulse,
            actyx,
            fauna,
            atproto,
        })))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Microseconds since the Unix epoch. Handlers read the clock here and pass
/// the time down, so the layers below stay deterministic.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Every route of the server. Tests call this directly, without a socket.
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(fibric::routes())
        .merge(pulse::routes())
        .merge(actyx::routes())
        .merge(fauna::routes())
        .merge(atproto::routes())
        .nest("/_control", crate::control::routes(state.clone()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
