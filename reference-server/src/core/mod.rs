//! The core beneath the five APIs: configuration, the log, the subscriber hub, shutdown and the clock.
//!
//! The core knows no API. Each API module owns its state and its routes; its
//! handlers extract an [`Api`]: the [`Core`] and that API's own state, nothing
//! of the other APIs. `app.rs` builds the core and each API's state and
//! composes their routes. `tests/it/layering.rs` reads the imports and fails
//! when an API imports the composition or another API, the core an API, an
//! API names the raw store, or files import each other in a circle.
//!
//! # Layout
//!
//! - [`clock`]: the clock (wall time at start, moved on by tokio's clock), read by handlers and passed down.
//! - [`follow`]: the one loop that follows the log for every stream,
//!   with each API's framing plugged into it.

pub mod clock;
pub mod follow;

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use tokio_util::sync::CancellationToken;

pub use self::clock::now_micros;
use crate::config::Config;
use crate::log::Log;
use crate::subscribers::Hub;

/// What every API shares; cheap to clone.
#[derive(Debug, Clone)]
pub struct Core(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub log: Log,
    /// Cancelled on SIGTERM / Ctrl-C; long-lived streams end when it fires.
    pub shutdown: CancellationToken,
    /// Open streams, their counters, and the tokens that end them.
    pub hub: Arc<Hub>,
}

impl Core {
    pub fn new(config: Config, log: Log, shutdown: CancellationToken) -> Self {
        let hub = Arc::new(Hub::new(shutdown.clone()));
        Self(Arc::new(Shared {
            config,
            log,
            shutdown,
            hub,
        }))
    }
}

impl Deref for Core {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What one API's handlers extract: the core, and the API's own state as
/// `api`. It derefs to the core, so `state.log` and `state.config` read as
/// they would on the core itself.
#[derive(Debug)]
pub struct Api<S> {
    pub core: Core,
    pub api: Arc<S>,
}

impl<S> Api<S> {
    pub fn new(core: Core, api: Arc<S>) -> Self {
        Self { core, api }
    }
}

// Not derived: a derive would ask `S: Clone`, and the state is shared, not cloned.
impl<S> Clone for Api<S> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            api: Arc::clone(&self.api),
        }
    }
}

impl<S> Deref for Api<S> {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.core
    }
}

/// A handler that needs only the core extracts `State<Core>`.
impl<S> FromRef<Api<S>> for Core {
    fn from_ref(api: &Api<S>) -> Core {
        api.core.clone()
    }
}
