//! What `GET /streams` shows of a case's streams: one as created, one deleted, and one's cursor after consuming.

use reqwest::Method;
use scenarios::Finding;
use scenarios::pulse::shape;
use serde_json::{Value, json};

use super::Pulse;

/// Findings about `GET /streams`: `200 {data: [StreamInfo]}` holding the
/// stream `name` as it was created.
pub(super) fn listing(
    status: u16,
    body: Option<Value>,
    created: &Value,
    name: &str,
    model: &str,
) -> Vec<Finding> {
    let Some(data) = body
        .as_ref()
        .and_then(|b| b["data"].as_array())
        .filter(|_| status == 200)
    else {
        return vec![
            Finding::new(
                "stream-list",
                format!("GET /streams answered {status}, not 200 {{data: [StreamInfo]}}"),
            )
            .with_evidence(json!({ "body": body })),
        ];
    };
    let Some(info) = data.iter().find(|info| info["name"] == name) else {
        return vec![Finding::new(
            "stream-list",
            format!(
                "GET /streams does not list {name} ({} streams listed)",
                data.len()
            ),
        )];
    };
    let mut findings = shape::stream_info("the StreamInfo GET /streams lists", info, name, model);
    if info["createdAt"] != created["createdAt"] {
        findings.push(
            Finding::new(
                "stream-list",
                "GET /streams gives another createdAt than POST /streams did",
            )
            .with_evidence(json!({"created": created, "listed": info})),
        );
    }
    findings
}

/// Findings about a stream just deleted: consuming it answers `404`, and
/// `GET /streams` no longer lists it.
pub(super) async fn gone(pulse: &Pulse, name: &str) -> Result<Vec<Finding>, String> {
    let (status, body) = match pulse.consume(pulse.base(), name, None).await? {
        Ok(stream) => (stream.status, String::new()),
        Err(response) => (response.status, response.body),
    };
    let mut findings = shape::error_answer("consuming a deleted stream", status, &body, Some(404));
    let still = listed(pulse, name).await?.is_some();
    if still {
        findings.push(Finding::new(
            "stream-list",
            format!("GET /streams still lists {name} after it was deleted"),
        ));
    }
    Ok(findings)
}

/// The StreamInfo `GET /streams` lists for `name`, if any.
async fn listed(pulse: &Pulse, name: &str) -> Result<Option<Value>, String> {
    let request = pulse.request(
        pulse.base(),
        Method::GET,
        "/streams",
        Some(pulse.key()),
        None,
    );
    let listed = pulse.call(request).await?.json().unwrap_or_default();
    Ok(listed["data"]
        .as_array()
        .and_then(|data| data.iter().find(|info| info["name"] == name).cloned()))
}

/// Findings about the cursor `GET /streams` shows for `name` once it has
/// been consumed: absent, or the ULID of one of the events the case
/// published to it (the seed: "ULID of last processed event").
pub(super) async fn listed_cursor(
    pulse: &Pulse,
    name: &str,
    published: &[String],
) -> Result<Vec<Finding>, String> {
    let Some(info) = listed(pulse, name).await? else {
        let problem = format!("GET /streams does not list {name}, which was consumed");
        return Ok(vec![Finding::new("stream-list", problem)]);
    };
    let Some(cursor) = info.get("cursor") else {
        return Ok(Vec::new());
    };
    let known = cursor
        .as_str()
        .is_some_and(|id| shape::is_ulid(id) && published.iter().any(|p| p == id));
    if known {
        return Ok(Vec::new());
    }
    Ok(vec![
        Finding::new(
            "stream-info",
            format!("{name}'s cursor is {cursor}, not the ULID of an event it delivered"),
        )
        .with_evidence(info),
    ])
}
