//! The snapshot scripts: per API, a fixed sequence of exchanges and the fields that vary.
//!
//! Each script makes one of each event and message type its API has, and
//! each error case, in a fixed order, so that two runs make the same
//! exchanges. What a script creates carries the run's tag (`<run>` in the
//! snapshots), so a shared target's other data stays out, except where an
//! answer lists the whole target (Pulse's streams, Actyx offsets, an AT
//! replay): those snapshots need a dedicated target. The scripts are
//! documented at the top of each module; the README describes the format.

mod actyx;
mod atproto;
mod fauna;
mod fibric;
mod pulse;

use scenarios::check::Api;

use super::exchange::{ScriptError, Session};
use super::normalise::Rules;
use crate::target::{Credentials, Target};

/// What a script knows about its target.
#[derive(Debug, Clone)]
pub struct Context {
    pub target: Target,
    pub credentials: Credentials,
}

impl Context {
    /// Scripts for APIs with no write path of their own produce through the control API.
    pub fn needs_control_api(&self, api: Api) -> Result<(), ScriptError> {
        if self.target.is_reference() {
            Ok(())
        } else {
            Err(ScriptError(format!(
                "the {api} script produces events through the reference server's control API, \
                 and {} is not a reference server",
                self.target.base_url()
            )))
        }
    }
}

/// Runs `api`'s script.
pub async fn run(api: Api, session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    match api {
        Api::Fibric => fibric::run(session, ctx).await,
        Api::Pulse => pulse::run(session, ctx).await,
        Api::Fauna => fauna::run(session, ctx).await,
        Api::Actyx => actyx::run(session, ctx).await,
        Api::Atproto => atproto::run(session, ctx).await,
    }
}

/// The fields whose values vary, for `api`.
pub fn rules(api: Api) -> Rules {
    match api {
        Api::Fibric => fibric::RULES,
        Api::Pulse => pulse::RULES,
        Api::Fauna => fauna::RULES,
        Api::Actyx => actyx::RULES,
        Api::Atproto => atproto::RULES,
    }
}
