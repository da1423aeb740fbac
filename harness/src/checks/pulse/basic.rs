//! Pulse checks of health, auth, error bodies, and the SSE wire: content type and keep-alive.

use reqwest::Method;
use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::plans::Identity;
use scenarios::pulse::shape;
use serde_json::{Value, json};
use wire::sse::SseItem;

use super::{Pulse, UNKNOWN_ID, clip, fixed_property, needs_producer};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::record::HttpResponse;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;

fixed_property!(Health, meta::HEALTH);

impl Health {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let request = pulse.request(pulse.base(), Method::GET, "/health", None, None);
        let response = pulse.call(request).await?;
        let mut findings = Vec::new();
        if response.status != 200 {
            findings.push(
                Finding::new(
                    "status",
                    format!(
                        "GET /health without a key answered {}, not 200",
                        response.status
                    ),
                )
                .with_evidence(json!({"status": response.status, "body": clip(&response.body)})),
            );
            return pulse.done(findings);
        }
        let Some(health) = response.json().filter(Value::is_object) else {
            findings.push(Finding::new(
                "health-body",
                format!(
                    "GET /health answered a body that is not a JSON object: {}",
                    clip(&response.body)
                ),
            ));
            return pulse.done(findings);
        };
        if !matches!(
            health["status"].as_str(),
            Some("healthy" | "degraded" | "unavailable")
        ) {
            findings.push(
                Finding::new(
                    "health-body",
                    format!(
                        "status is {}, not healthy, degraded or unavailable",
                        health["status"]
                    ),
                )
                .with_evidence(health.clone()),
            );
        }
        if health.get("replicationStatus").is_some_and(|status| {
            !matches!(
                status.as_str(),
                Some("connected" | "disconnected" | "reconnecting")
            )
        }) {
            findings.push(
                Finding::new(
                    "health-body",
                    format!(
                        "replicationStatus is {}, not connected, disconnected or reconnecting",
                        health["replicationStatus"]
                    ),
                )
                .with_evidence(health.clone()),
            );
        }
        if !health["timestamp"].as_str().is_some_and(shape::is_rfc3339) {
            findings.push(
                Finding::new(
                    "health-body",
                    format!(
                        "timestamp is {}, not an RFC 3339 date-time",
                        health["timestamp"]
                    ),
                )
                .with_evidence(health.clone()),
            );
        }
        pulse.done(findings)
    }
}

/// The answer of a route that may stream, as a status and body; a stream
/// that opened is a `200` with no body.
fn answer_of(opened: Result<SseConn, HttpResponse>) -> (u16, String) {
    match opened {
        Ok(stream) => (stream.status, String::new()),
        Err(response) => (response.status, response.body),
    }
}

fixed_property!(AuthRequired, meta::AUTH_REQUIRED);

impl AuthRequired {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let name = pulse.stream_name("auth");
        let model = pulse.model_name("Auth");
        let body = json!({"name": name, "model": model});
        let subscription = json!({ "model": model });
        let mut findings = Vec::new();
        for (who, key) in [
            ("no key", None),
            ("a wrong key", Some("pulse_harness_wrong_key")),
        ] {
            let base = pulse.base();
            let calls = [
                (Method::POST, "/streams".to_owned(), Some(&body)),
                (Method::GET, "/streams".to_owned(), None),
                (Method::DELETE, format!("/streams/{name}"), None),
                (Method::GET, format!("/events/{UNKNOWN_ID}"), None),
            ];
            for (method, path, body) in calls {
                let what = format!("{method} {path} with {who}");
                let response = pulse
                    .call(pulse.request(base, method, &path, key, body))
                    .await?;
                findings.extend(shape::error_answer(
                    &what,
                    response.status,
                    &response.body,
                    Some(401),
                ));
            }
            let streams = [
                (Method::GET, format!("/streams/{name}/events"), None),
                (Method::POST, "/subscribe".to_owned(), Some(&subscription)),
            ];
            for (method, path, body) in streams {
                let what = format!("{method} {path} with {who}");
                let opened = pulse
                    .open(pulse.request(base, method, &path, key, body))
                    .await?;
                let (status, body) = answer_of(opened);
                findings.extend(shape::error_answer(&what, status, &body, Some(401)));
            }
        }
        pulse.done(findings)
    }
}

fixed_property!(ErrorShape, meta::ERROR_SHAPE);

impl ErrorShape {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let key = Some(pulse.key());
        let base = pulse.base();
        let missing = format!("/streams/{}", pulse.stream_name("missing"));
        let probes = [
            (
                "GET /streams without a key",
                pulse.request(base, Method::GET, "/streams", None, None),
            ),
            (
                "DELETE of a stream that does not exist",
                pulse.request(base, Method::DELETE, &missing, key, None),
            ),
            (
                "POST /streams with a body that is not JSON",
                pulse
                    .request(base, Method::POST, "/streams", key, None)
                    .header("content-type", "application/json")
                    .body("{\"name\": "),
            ),
            (
                "POST /streams without a model",
                pulse.request(
                    base,
                    Method::POST,
                    "/streams",
                    key,
                    Some(&json!({"name": pulse.stream_name("no-model")})),
                ),
            ),
            (
                "GET /events/not-a-ulid",
                pulse.request(base, Method::GET, "/events/not-a-ulid", key, None),
            ),
        ];
        let mut findings = Vec::new();
        for (what, request) in probes {
            let response = pulse.call(request).await?;
            if response.status < 400 {
                findings.push(Finding::new(
                    "status",
                    format!("{what} answered {}, not an error", response.status),
                ));
            }
            findings.extend(shape::error_answer(
                what,
                response.status,
                &response.body,
                None,
            ));
        }
        pulse.done(findings)
    }
}

/// Declares a model and opens a named stream of it and a subscription to it.
async fn open_both(pulse: &Pulse) -> Result<(SseConn, SseConn), Stop> {
    let model = pulse.model_name("Wire");
    pulse.declare_model(&model, Identity::Default).await?;
    let name = pulse.stream_name("wire");
    pulse.create_stream_ok(&name, &model, None).await?;
    let stream = pulse.consume_ok(pulse.base(), &name, None).await?;
    let subscription = pulse.subscribe_ok(&model, None).await?;
    Ok((stream, subscription))
}

fixed_property!(ContentType, meta::CONTENT_TYPE, skip: Self::skip);

impl ContentType {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let (stream, subscription) = or_stop!(pulse, open_both(&pulse).await);
        let mut findings = Vec::new();
        for (what, conn) in [
            ("the named stream", &stream),
            ("the subscription", &subscription),
        ] {
            let content_type = conn
                .header("content-type")
                .unwrap_or("")
                .to_ascii_lowercase();
            let media = content_type.split(';').next().unwrap_or("").trim();
            if media != "text/event-stream" {
                findings.push(
                    Finding::new(
                        "content-type",
                        format!("{what}'s Content-Type is {content_type:?}, not text/event-stream"),
                    )
                    .with_evidence(json!({ "content-type": content_type })),
                );
            }
        }
        drop((stream, subscription));
        pulse.delete_stream(&pulse.stream_name("wire")).await?;
        pulse.done(findings)
    }
}

fixed_property!(KeepAlive, meta::KEEPALIVE, skip: Self::skip);

impl KeepAlive {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Idle");
        pulse.declare_model(&model, Identity::Default).await?;
        let mut subscription = or_stop!(pulse, pulse.subscribe_ok(&model, None).await);
        let patience = ctx.patience;
        let deadline = tokio::time::Instant::now() + patience;
        let mut comment = false;
        while !comment {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match subscription.next(left).await {
                Some(SseItem::Comment(_)) => comment = true,
                Some(_) => {}
                None => break,
            }
        }
        let mut findings = Vec::new();
        if !comment {
            let ended = subscription
                .closed
                .as_deref()
                .map(|reason| format!(" (it ended: {reason})"))
                .unwrap_or_default();
            findings.push(Finding::new(
                "no-keepalive",
                format!(
                    "an idle subscription got no comment frame in {}{ended}",
                    humantime::format_duration(patience)
                ),
            ));
        }
        pulse.done(findings)
    }
}
