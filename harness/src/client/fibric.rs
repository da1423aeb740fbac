//! The Fibric envelope stream (seed 004): the stream's path, publishing envelopes through the control API, and resuming by event id.

use serde_json::{Value, json};

pub const STREAM: &str = "/v1/events/stream";
pub const ENVELOPES: &str = "/_control/fibric/envelopes";
/// The header a reconnecting stream names the last event it read in.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The stream's path with `query` (filters, `cursor`), if any.
pub fn stream_path(query: &str) -> String {
    match query {
        "" => STREAM.to_owned(),
        query => format!("{STREAM}?{query}"),
    }
}

/// The control API's publish body.
pub fn envelopes(envelopes: &[Value]) -> Value {
    json!({ "envelopes": envelopes })
}
