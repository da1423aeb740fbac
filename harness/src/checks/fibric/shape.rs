//! What a Fibric envelope frame must look like: the seed example's fields and JSON types, `id` = `event_id`, the key's tenant.

use scenarios::Finding;
use serde_json::{Value, json};
use wire::sse::SseEvent;

/// The fields of an envelope, as the seed lists them.
pub const ENVELOPE_FIELDS: [&str; 11] = [
    "event_id",
    "reseller_id",
    "tenant_id",
    "workspace_id",
    "source",
    "event_type",
    "correlation_id",
    "payload",
    "agent_id",
    "session_id",
    "cursor",
];

/// Fields whose JSON type is not the seed example's: strings, nullable
/// strings and an object payload; and a `tenant_id` other than the key's.
pub(super) fn type_findings(envelope: &Value, tenant: &str) -> Vec<Finding> {
    let strings = ["event_id", "tenant_id", "source", "event_type", "cursor"];
    let nullable = [
        "reseller_id",
        "workspace_id",
        "correlation_id",
        "agent_id",
        "session_id",
    ];
    let mut wrong: Vec<&str> = strings
        .into_iter()
        .filter(|f| envelope.get(f).is_some_and(|v| !v.is_string()))
        .collect();
    wrong.extend(nullable.into_iter().filter(|f| {
        envelope
            .get(f)
            .is_some_and(|v| !v.is_string() && !v.is_null())
    }));
    if envelope.get("payload").is_some_and(|v| !v.is_object()) {
        wrong.push("payload");
    }
    let mut findings = Vec::new();
    if !wrong.is_empty() {
        let message = format!(
            "these envelope fields have another JSON type than the seed's example: {}",
            wrong.join(", ")
        );
        findings.push(Finding::new("envelope-types", message).with_evidence(envelope.clone()));
    }
    if envelope["tenant_id"].is_string() && envelope["tenant_id"] != tenant {
        findings.push(Finding::new(
            "tenant",
            format!(
                "the envelope's tenant_id is {}, not the key's tenant {tenant}",
                envelope["tenant_id"]
            ),
        ));
    }
    findings
}

/// What is wrong with an envelope frame that should carry event `event_id` of type `harness.shape`.
pub(super) fn frame_findings(event: &SseEvent, envelope: &Value, event_id: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let missing: Vec<&str> = ENVELOPE_FIELDS
        .iter()
        .copied()
        .filter(|f| envelope.get(f).is_none())
        .collect();
    if !missing.is_empty() {
        findings.push(
            Finding::new(
                "envelope-fields",
                format!("the envelope lacks {}", missing.join(", ")),
            )
            .with_evidence(envelope.clone()),
        );
    }
    if !envelope["cursor"].is_string() {
        findings.push(Finding::new(
            "cursor",
            "the envelope carries no cursor string",
        ));
    }
    let carried = envelope["event_id"].as_str().unwrap_or("");
    if !event.id_field_seen || event.last_event_id != carried {
        findings.push(
            Finding::new(
                "id-field",
                "the frame's id field is not the envelope's event_id",
            )
            .with_evidence(json!({"id": event.last_event_id, "event_id": carried})),
        );
    }
    if carried != event_id || envelope["event_type"] != "harness.shape" {
        findings.push(Finding::new(
            "inconsistent",
            "the frame does not carry the envelope that was published",
        ));
    }
    findings
}
