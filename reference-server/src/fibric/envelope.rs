//! Envelopes: what the control API takes, what the log stores, and what the list and the stream show.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One envelope as the log stores it: the wire fields without the cursor,
/// plus the entity keys its plans touched (what the `entity` filter matches;
/// not part of the envelope a consumer sees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEnvelope {
    pub event_id: String,
    pub reseller_id: Option<String>,
    pub tenant_id: String,
    pub workspace_id: Option<String>,
    pub source: String,
    pub event_type: String,
    pub correlation_id: Option<String>,
    pub payload: Value,
    pub agent_id: Option<String>,
    pub session_id: Option<String>,
    #[serde(default)]
    pub entities: Vec<String>,
}

/// The envelope on the wire, fields in the seed's order, with its cursor.
#[derive(Debug, Serialize)]
pub struct WireEnvelope<'a> {
    pub event_id: &'a str,
    pub reseller_id: Option<&'a str>,
    pub tenant_id: &'a str,
    pub workspace_id: Option<&'a str>,
    pub source: &'a str,
    pub event_type: &'a str,
    pub correlation_id: Option<&'a str>,
    pub payload: &'a Value,
    pub agent_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub cursor: &'a str,
}

impl StoredEnvelope {
    pub fn decode(bytes: &[u8]) -> Option<StoredEnvelope> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn wire<'a>(&'a self, cursor: &'a str) -> WireEnvelope<'a> {
        WireEnvelope {
            event_id: &self.event_id,
            reseller_id: self.reseller_id.as_deref(),
            tenant_id: &self.tenant_id,
            workspace_id: self.workspace_id.as_deref(),
            source: &self.source,
            event_type: &self.event_type,
            correlation_id: self.correlation_id.as_deref(),
            payload: &self.payload,
            agent_id: self.agent_id.as_deref(),
            session_id: self.session_id.as_deref(),
            cursor,
        }
    }
}

/// An envelope handed to `POST /_control/fibric/envelopes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeInput {
    pub tenant_id: String,
    pub event_type: String,
    pub source: String,
    /// Generated when absent; must be unique within the tenant when given.
    pub event_id: Option<String>,
    pub reseller_id: Option<String>,
    pub workspace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub agent_id: Option<String>,
    pub session_id: Option<String>,
    #[serde(default = "empty_object")]
    pub payload: Value,
    #[serde(default)]
    pub entities: Vec<String>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl EnvelopeInput {
    /// Why this envelope cannot be stored, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let nonempty = |name: &str, value: &str| {
            value
                .trim()
                .is_empty()
                .then(|| format!("{name} must not be empty"))
        };
        nonempty("tenant_id", &self.tenant_id)
            .or_else(|| nonempty("source", &self.source))
            .or_else(|| nonempty("event_type", &self.event_type))
            .or_else(|| {
                let bad =
                    self.event_type.contains('*') || self.event_type.split('.').any(str::is_empty);
                bad.then(|| {
                    format!(
                        "event_type {:?} must be dot-separated non-empty segments without *",
                        self.event_type
                    )
                })
            })
            .or_else(|| {
                self.event_id.as_deref().and_then(|id| {
                    (id.is_empty() || id.len() > 128 || id.chars().any(char::is_control)).then(
                        || {
                            "event_id must be 1 to 128 characters without control characters"
                                .to_owned()
                        },
                    )
                })
            })
    }

    pub fn into_stored(self, event_id: String) -> StoredEnvelope {
        StoredEnvelope {
            event_id,
            reseller_id: self.reseller_id,
            tenant_id: self.tenant_id,
            workspace_id: self.workspace_id,
            source: self.source,
            event_type: self.event_type,
            correlation_id: self.correlation_id,
            payload: self.payload,
            agent_id: self.agent_id,
            session_id: self.session_id,
            entities: self.entities,
        }
    }
}
