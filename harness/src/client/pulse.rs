//! Prisma Pulse (seed 001): the reference server's control paths for models and rows, the live subscription, and resuming by event id.

use serde_json::{Value, json};

pub const MODELS: &str = "/_control/pulse/models";
pub const SUBSCRIBE: &str = "/subscribe";
/// The header a reconnecting stream names the last event it read in.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// Where row changes of `model` are posted.
pub fn rows(model: &str) -> String {
    format!("{MODELS}/{model}/rows")
}

/// A row change: `action` (`create`, `update`, `delete`) of `row`.
pub fn change(action: &str, row: Value) -> Value {
    json!({"action": action, "row": row})
}

/// A `/subscribe` body for `model`.
pub fn subscription(model: &str) -> Value {
    json!({"model": model})
}
