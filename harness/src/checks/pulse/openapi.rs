//! `pulse/openapi/responses`: every operation of the seed, driven with good requests and with the bad ones the seed documents errors for, each recorded answer and each streamed event validated against the seed's OpenAPI.
//!
//! The schemas, statuses and the validator are `scenarios::pulse::openapi`;
//! this file only drives the target. Everything the case sends goes through
//! the Pulse driver's recorder, and the validator reads the whole transcript
//! at the end: every answer's status, content type and body, and the data of
//! every event the two streams delivered, one event at a time. Streams never
//! end, so each is read within a budget: up to [`EVENT_BUDGET`] events or
//! [`PROMPT`], and no further than the sentinel, the case's last change.
//!
//! The check runs after every other check of the run (`Need::Transcripts`)
//! and adds what the run's audit found in theirs: every answer and event
//! the catalogue recorded is held to the same contract (`crate::audit`).

use std::collections::BTreeMap;

use reqwest::Method;
use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::openapi::{self, Tally};
use scenarios::pulse::plans::{self, Identity};
use serde_json::{Value, json};

use super::{PROMPT, Pulse, UNKNOWN_ID, create, fixed_property, needs_producer, read_until};
use crate::client::pulse as client;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;

/// The most events read from one stream. The case publishes three, so a
/// target that keeps to its promises reaches the sentinel well before.
pub const EVENT_BUDGET: usize = 8;

fixed_property!(OpenApi, meta::OPENAPI, skip: needs_producer);

impl OpenApi {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Spec");
        pulse.declare_model(&model, Identity::Full).await?;
        let name = pulse.stream_name("spec");
        without_credentials(&pulse, &model).await?;
        let mut findings = bad_requests(&pulse, &name, &model).await?;
        // createStream: 201, then 409 for the same name; listStreams: 200.
        pulse.create_stream(&name, &model, None).await?;
        pulse.create_stream(&name, &model, None).await?;
        let list = pulse.request(
            pulse.base(),
            Method::GET,
            "/streams",
            Some(pulse.key()),
            None,
        );
        pulse.call(list).await?;
        let delivered = streams(&pulse, &name, &model).await?;
        lookups(&pulse, delivered.as_deref()).await?;
        // deleteStream: 204, then 404; consumeStreamEvents of no stream: 404.
        pulse.delete_stream(&name).await?;
        pulse.delete_stream(&name).await?;
        let gone = pulse.request(
            pulse.base(),
            Method::GET,
            &format!("/streams/{name}/events"),
            Some(pulse.key()),
            None,
        );
        drop(pulse.open(gone).await?);
        let health = pulse.request(pulse.base(), Method::GET, "/health", None, None);
        pulse.call(health).await?;
        let (own, mut tally) = openapi::read(&pulse.recorder.transcript(), pulse.base());
        findings.extend(own);
        let audited = pulse.ctx.audit.audited();
        findings.extend(audited.findings);
        tally.add(&audited.tally);
        findings.push(coverage(&tally, &audited.cases));
        pulse.done(findings)
    }
}

/// Every secured operation without a key and with a wrong one: `401`, which
/// the seed documents for each (a target that lets them in must still
/// answer a documented status). Streams that open are closed at once.
async fn without_credentials(pulse: &Pulse, model: &str) -> Result<(), String> {
    let name = pulse.stream_name("spec-auth");
    let create = json!({"name": name, "model": model});
    let subscribe = client::subscription(model);
    for key in [None, Some("pulse_harness_wrong_key")] {
        let base = pulse.base();
        let calls = [
            (Method::POST, "/streams".to_owned(), Some(&create)),
            (Method::GET, "/streams".to_owned(), None),
            (Method::DELETE, format!("/streams/{name}"), None),
            (Method::GET, format!("/events/{UNKNOWN_ID}"), None),
        ];
        for (method, path, body) in calls {
            pulse
                .call(pulse.request(base, method, &path, key, body))
                .await?;
        }
        let consume = format!("/streams/{name}/events");
        drop(
            pulse
                .open(pulse.request(base, Method::GET, &consume, key, None))
                .await?,
        );
        let request = pulse.request(base, Method::POST, client::SUBSCRIBE, key, Some(&subscribe));
        drop(pulse.open(request).await?);
    }
    Ok(())
}

/// The bad requests the seed documents `400` for: bodies without a required
/// field, of the wrong type, not JSON, or naming no model. A body that breaks
/// the operation's request schema must not be accepted (a `2xx`): the
/// seed's `400` is "the request was invalid or malformed".
async fn bad_requests(pulse: &Pulse, name: &str, model: &str) -> Result<Vec<Finding>, String> {
    let unknown = pulse.model_name("Nowhere");
    let create = [
        json!({ "name": name }),
        json!({"name": 7, "model": model}),
        json!({"name": name, "model": model, "filter": "create"}),
        json!({"name": name, "model": unknown}),
    ];
    let subscribe = [
        json!({}),
        json!({"model": model, "filter": []}),
        json!({ "model": unknown }),
    ];
    let key = Some(pulse.key());
    let mut findings = Vec::new();
    let bodies = create
        .iter()
        .map(|body| ("createStream", "/streams", body))
        .chain(
            subscribe
                .iter()
                .map(|body| ("createSubscription", client::SUBSCRIBE, body)),
        );
    for (id, path, body) in bodies {
        let request = pulse.request(pulse.base(), Method::POST, path, key, Some(body));
        // Streams that open are closed at once; the answer is recorded either way.
        let status = match pulse.open(request).await? {
            Ok(stream) => stream.status,
            Err(response) => response.status,
        };
        findings.extend(accepted_invalid(id, body, status));
    }
    let not_json = pulse
        .request(pulse.base(), Method::POST, "/streams", key, None)
        .header("content-type", "application/json")
        .body("{\"name\": ");
    let status = pulse.call(not_json).await?.status;
    if (200..300).contains(&status) {
        findings.push(Finding::new(
            "accepted-invalid-request",
            format!("POST /streams answered {status} to a body that is not JSON"),
        ));
    }
    Ok(findings)
}

/// A finding when `status` accepted a `body` that breaks the request schema
/// of the operation `id`.
fn accepted_invalid(id: &str, body: &Value, status: u16) -> Option<Finding> {
    let op = openapi::operation(id)?;
    let schema = &op.request?.schema;
    let violations = openapi::value(schema, body);
    if violations.is_empty() || !(200..300).contains(&status) {
        return None;
    }
    let broken: Vec<String> = violations.iter().map(ToString::to_string).collect();
    let message = format!(
        "{} answered {status} to a body that breaks {}: {}",
        op.label(),
        op.request?.name,
        broken.join("; ")
    );
    Some(Finding::new("accepted-invalid-request", message).with_evidence(json!({"body": body})))
}

/// Opens the named stream and a subscription, makes a create, an update and
/// a delete, and reads both up to the delete (the sentinel) within the
/// budget. Returns the create's id, once it was delivered.
async fn streams(pulse: &Pulse, name: &str, model: &str) -> Result<Option<String>, String> {
    let consumer = pulse.consume(pulse.base(), name, None).await?.ok();
    let filter = json!({"create": {}, "update": {"after": {}}, "delete": {}});
    let mut body = client::subscription(model);
    body["filter"] = filter;
    let request = pulse.request(
        pulse.base(),
        Method::POST,
        client::SUBSCRIBE,
        Some(pulse.key()),
        Some(&body),
    );
    let subscription = pulse.open(request).await?.ok();
    let first = pulse.change(model, &create(0)).await?;
    let mut update = create(0);
    update.action = plans::Action::Update;
    update.fields.insert("plan".to_owned(), json!("pro"));
    pulse.change(model, &update).await?;
    let mut delete = create(0);
    delete.action = plans::Action::Delete;
    let last = pulse.change(model, &delete).await?;
    let mut delivered = false;
    for mut conn in [consumer, subscription].into_iter().flatten() {
        delivered |= read(&mut conn, &first, &last).await;
    }
    Ok(delivered.then_some(first))
}

/// Reads `conn` up to the event `last`, within the budget; whether the
/// event `first` came.
async fn read(conn: &mut SseConn, first: &str, last: &str) -> bool {
    let events = read_until(conn, last, EVENT_BUDGET, PROMPT).await;
    events
        .iter()
        .any(|event| super::event_id(event).as_deref() == Some(first))
}

/// getEvent: `200` for a delivered event, `404` for an unknown one and for
/// ids that break the seed's pattern.
async fn lookups(pulse: &Pulse, delivered: Option<&str>) -> Result<(), String> {
    let mut ids = vec![
        UNKNOWN_ID.to_owned(),
        "not-a-ulid".to_owned(),
        UNKNOWN_ID.to_lowercase(),
    ];
    ids.extend(delivered.map(str::to_owned));
    for id in ids {
        let path = format!("/events/{id}");
        let request = pulse.request(pulse.base(), Method::GET, &path, Some(pulse.key()), None);
        pulse.call(request).await?;
    }
    Ok(())
}

/// A note of which statuses each operation answered and how many events
/// were validated, here and in the other checks' cases: what this pass
/// rests on.
fn coverage(tally: &Tally, cases: &BTreeMap<&'static str, usize>) -> Finding {
    let missing = tally.missing();
    let others = if cases.is_empty() {
        String::new()
    } else {
        let read: usize = cases.values().sum();
        format!(", here and in {read} cases of {} other checks", cases.len())
    };
    let message = format!(
        "validated the answers of {} operations and {} events against the seed's OpenAPI{others}{}",
        tally.statuses.len(),
        tally.events,
        if missing.is_empty() {
            String::new()
        } else {
            format!("; never answered: {}", missing.join(", "))
        }
    );
    let evidence = json!({"statuses": tally.statuses, "events": tally.events, "cases": cases});
    Finding::new("openapi-coverage", message)
        .with_evidence(evidence)
        .informational()
}
