//! Fibric checks of auth, tenancy, the wire format, keep-alives and filters.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{self, EnvelopeSpec, FilterPlan, Filters};
use serde_json::{Value, json};
use wire::sse::SseItem;

use super::shape::{frame_findings, type_findings};
use super::{
    Fibric, PROMPT, deliveries, error_code, fixed_property, generated_property, needs_producer,
    read_until, read_until_any, sentinel_for,
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
    if error_code(body).is_none() {
        findings.push(
            Finding::new(
                "error-body",
                format!("{what}: the 401 body is not a JSON error naming a code"),
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
        // A second envelope to read up to: a server that drops the first
        // still ends the read, instead of a timeout.
        fibric.publish(&[(0, 0, &spec), (0, 1, &spec)]).await?;
        let events = read_until(&mut stream, &fibric.event_id(1), 4, PROMPT).await;
        let first = events.iter().find(|event| {
            serde_json::from_str::<Value>(&event.data)
                .is_ok_and(|v| v["event_id"] == fibric.event_id(0))
        });
        let Some(event) = first.or(events.first()) else {
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
            Ok(envelope) => {
                findings.extend(frame_findings(event, &envelope, &fibric.event_id(0)));
                findings.extend(type_findings(&envelope, fibric.tenant(0)));
            }
        }
        fibric.done(findings)
    }
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
    let count = plan.envelopes.len();
    let mut items: Vec<(usize, usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .map(|(n, (tenant, spec))| (*tenant, n, spec))
        .collect();
    // Two sentinels for the reader, so that a server dropping one envelope
    // still shows the last; then one for the other tenant, which ends the
    // read at once on a server that shows the reader that tenant's log.
    items.push((reader, count, &sentinel));
    items.push((reader, count + 1, &sentinel));
    items.push((1 - reader, count + 2, &sentinel));
    fibric.publish(&items).await?;
    let mut admitted: Vec<(usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .filter(|(_, (tenant, spec))| *tenant == reader && plan.filters.admits(spec))
        .map(|(n, (_, spec))| (n, spec))
        .collect();
    admitted.push((count, &sentinel));
    admitted.push((count + 1, &sentinel));
    let (last, foreign) = (fibric.event_id(count + 1), fibric.event_id(count + 2));
    let events = read_until_any(&mut stream, &[&last, &foreign], items.len() * 2, PROMPT).await;
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&admitted),
        published: (0..=count + 2).map(|n| fibric.event_id(n)).collect(),
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
