//! The Pulse snapshot script (to be written).

use super::Context;
use crate::snapshot::exchange::{ScriptError, Session};
use crate::snapshot::normalise::Rules;

/// The fields that vary.
pub const RULES: Rules = &[];

pub async fn run(_session: &mut Session, _ctx: &Context) -> Result<(), ScriptError> {
    Err(ScriptError("no snapshot script for pulse yet".into()))
}
