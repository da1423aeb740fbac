//! Fibric checks of auth, tenancy, the wire format, keep-alives and filters.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{self, EnvelopeSpec, FilterPlan, Filters};
use serde_json::{Value, json};
use wire::sse::{SseEvent, SseItem};

use super::{
    Fibric, PROMPT, deliveries, fixed_property, generated_property, needs_producer, read_events,
    read_until, sentinel_for,
};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// A 401 with a JSON `{"error": {"code", "message"}}` body, or the findings saying why not.
fn expect_401(what: &str, status: u16, body: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    if status != 401 {
        findings.push(
            Finding::new("status", format!("{what} answered {status}, not 401")).with_evidence(
                json!({"status": status, "body": body.chars().take(300).collect::<String>()}),
            ),
        );
        return findings;
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let shaped = parsed
        .as_ref()
        .is_some_and(|v| v["error"]["code"].is_string() && v["error"]["message"].is_string());
    if !shaped {
        findings.push(
            Finding::new(
                "error-body",
                format!("{what}: the 401 body is not {{\"error\": {{\"code\", \"message\"}}}}"),
            )
            .with_evidence(json!({"body": body.chars().take(300).collect::<String>()})),
        );
    }
    findings
}

fixed_property!(AuthRequired, meta::AUTH_REQUIRED);

impl AuthRequired {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let mut findings = Vec::new();
        for (what, key) in [
            ("no key", None),
            ("a wrong key", Some("sk_harness_wrong_key")),
        ] {
            let list = fibric.list(key, "").await?;
            findings.extend(expect_401(
                &format!("GET /v1/events with {what}"),
                list.status,
                &list.body,
            ));
            match fibric.open(fibric.base(), key, "", None).await? {
                Ok(stream) => findings.push(Finding::new(
                    "status",
                    format!(
                        "GET /v1/events/stream with {what} opened a stream ({})",
                        stream.status
                    ),
                )),
                Err(response) => findings.extend(expect_401(
                    &format!("GET /v1/events/stream with {what}"),
                    response.status,
                    &response.body,
                )),
            }
        }
        fibric.done(findings)
    }
}

fixed_property!(ContentType, meta::CONTENT_TYPE);

impl ContentType {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let mut findings = Vec::new();
        match fibric.open_ok(0, "", None).await {
            Ok(stream) => {
                let content_type = stream
                    .header("content-type")
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let media = content_type
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if media != "text/event-stream" {
                    findings.push(
                        Finding::new("content-type", format!("the stream's Content-Type is {content_type:?}, not text/event-stream"))
                            .with_evidence(json!({"content-type": content_type})),
                    );
                }
            }
            Err(stop) => return fibric.finish(Err(stop)),
        }
        fibric.done(findings)
    }
}

fixed_property!(NoStore, meta::NO_STORE);

impl NoStore {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let mut findings = Vec::new();
        match fibric.open_ok(0, "", None).await {
            Ok(stream) => {
                let cache_control = stream
                    .header("cache-control")
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !cache_control.split(',').any(|d| d.trim() == "no-store") {
                    findings.push(
                        Finding::new(
                            "cache-control",
                            format!(
                                "the stream's Cache-Control is {cache_control:?}, without no-store"
                            ),
                        )
                        .with_evidence(json!({"cache-control": cache_control})),
                    );
                }
            }
            Err(stop) => return fibric.finish(Err(stop)),
        }
        fibric.done(findings)
    }
}

fixed_property!(KeepAlive, meta::KEEPALIVE);

impl KeepAlive {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let mut findings = Vec::new();
        let patience = ctx.patience;
        match fibric
            .open_ok(0, "event_type=harness.keepalive.silence", None)
            .await
        {
            Ok(mut stream) => {
                let deadline = tokio::time::Instant::now() + patience;
                let mut comment = false;
                while tokio::time::Instant::now() < deadline {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match stream.next(left).await {
                        Some(SseItem::Comment(_)) => {
                            comment = true;
                            break;
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                if !comment {
                    findings.push(Finding::new(
                        "no-keepalive",
                        format!(
                            "an idle stream got no comment frame in {}{}",
                            humantime::format_duration(patience),
                            stream
                                .closed
                                .as_deref()
                                .map(|r| format!(" (it ended: {r})"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            Err(stop) => return fibric.finish(Err(stop)),
        }
        fibric.done(findings)
    }
}

fixed_property!(FrameShape, meta::FRAME_SHAPE, skip: Self::skip);

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

impl FrameShape {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let mut findings = Vec::new();
        let spec = EnvelopeSpec {
            event_type: "harness.shape".into(),
            source: "harness".into(),
            workspace_id: Some("ws_shape".into()),
            entities: vec![],
        };
        let mut stream = or_stop!(
            fibric,
            fibric.open_ok(0, "event_type=harness.shape", None).await
        );
        fibric.publish(&[(0, 0, &spec)]).await?;
        let events = read_events(&mut stream, 1, PROMPT).await;
        let Some(event) = events.first() else {
            return fibric.done(vec![Finding::new(
                "unseen",
                format!(
                    "the published envelope never arrived within {}{}",
                    humantime::format_duration(PROMPT),
                    stream
                        .closed
                        .as_deref()
                        .map(|r| format!(" (it ended: {r})"))
                        .unwrap_or_default()
                ),
            )]);
        };
        if event.event_type != "envelope" {
            findings.push(Finding::new(
                "event-field",
                format!(
                    "the frame's event is {:?}, not \"envelope\"",
                    event.event_type
                ),
            ));
        }
        match serde_json::from_str::<Value>(&event.data) {
            Err(error) => findings.push(Finding::new(
                "data",
                format!("the frame's data is not JSON: {error}"),
            )),
            Ok(envelope) => findings.extend(frame_findings(event, &envelope, &fibric.event_id(0))),
        }
        fibric.done(findings)
    }
}

/// What is wrong with an envelope frame that should carry event `event_id` of type `harness.shape`.
fn frame_findings(event: &SseEvent, envelope: &Value, event_id: &str) -> Vec<Finding> {
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

/// Streams with `filters` as tenant `reader` while the plan's envelopes are
/// published, and checks that exactly the admitted ones of that tenant arrive, in order.
async fn filtered_stream_case(
    ctx: CheckContext,
    plan: FilterPlan,
    reader: usize,
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let mut stream = or_stop!(
        fibric,
        fibric.open_ok(reader, &plan.filters.query(), None).await
    );
    let sentinel = sentinel_for(&plan.filters);
    let last = plan.envelopes.len();
    let mut items: Vec<(usize, usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .map(|(n, (tenant, spec))| (*tenant, n, spec))
        .collect();
    items.push((reader, last, &sentinel));
    fibric.publish(&items).await?;
    let mut admitted: Vec<(usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .filter(|(_, (tenant, spec))| *tenant == reader && plan.filters.admits(spec))
        .map(|(n, (_, spec))| (n, spec))
        .collect();
    admitted.push((last, &sentinel));
    let events = read_until(&mut stream, &fibric.event_id(last), items.len() * 2, PROMPT).await;
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&admitted),
        published: (0..=last).map(|n| fibric.event_id(n)).collect(),
        connections: vec![Connection {
            conn: stream.conn,
            start: Start::Beginning,
            delivered: deliveries(&events),
        }],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

// Read as the second tenant: a server that sends every key to one tenant's
// log most likely sends them to the first.
generated_property!(Tenancy, meta::TENANCY, Vec<(usize, EnvelopeSpec)>,
    strategy: plans::two_tenant_envelopes(),
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: |ctx, envelopes| filtered_stream_case(ctx, FilterPlan { envelopes, filters: Filters::default() }, 1));

generated_property!(Glob, meta::GLOB, FilterPlan,
    strategy: plans::glob_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, plan| filtered_stream_case(ctx, plan, 0));

generated_property!(AndFilters, meta::AND_FILTERS, FilterPlan,
    strategy: plans::and_filters_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, plan| filtered_stream_case(ctx, plan, 0));
