//! Fibric cursors: `cur_` and base64url JSON naming a position in a tenant's log and the filters it is bound to.
//!
//! Opaque to clients. Positions never repeat, so a cursor means the same thing
//! after a restart; the binding makes a cursor issued under one filter set
//! (and tenant) refused under another, with `400 invalid_cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::store::Position;

pub const PREFIX: &str = "cur_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "p")]
    pub position: Position,
    #[serde(rename = "f")]
    pub binding: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parses a cursor, or says why it is not one.
    pub fn decode(text: &str) -> Result<Cursor, &'static str> {
        let body = text
            .strip_prefix(PREFIX)
            .ok_or("a cursor starts with cur_")?;
        if body.len() > 512 {
            return Err("the cursor is too long");
        }
        let json = URL_SAFE_NO_PAD
            .decode(body.trim_end_matches('='))
            .map_err(|_| "the cursor is not valid base64url")?;
        serde_json::from_slice(&json).map_err(|_| "the cursor does not name a position")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            position: 42,
            binding: "00ff00ff00ff00ff".to_owned(),
        };
        let text = cursor.encode();
        assert!(text.starts_with("cur_"));
        assert_eq!(Cursor::decode(&text), Ok(cursor));
        for bad in [
            "",
            "cur_",
            "cur_!!!",
            "ev_123",
            "cur_eyJpZCI6ImV2XzNhOTFjNyJ9",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
