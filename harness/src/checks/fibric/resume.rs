//! Fibric checks of where a stream starts: now, after a cursor or a Last-Event-ID, after a backfill; and of paging.

use proptest::prelude::*;
use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{EnvelopeSpec, ResumePlan, resume_plan};
use serde_json::{Value, json};

use super::{
    Fibric, PROMPT, deliveries, error_code, fixed_property, generated_property, needs_producer,
    read_until, spec,
};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;

fixed_property!(StartsAtNow, meta::STARTS_AT_NOW, skip: Self::skip);

impl StartsAtNow {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let before = [
            spec("harness.now.before", "harness"),
            spec("harness.now.before", "harness"),
        ];
        let after = [
            spec("harness.now.after", "harness"),
            spec("harness.now.after", "harness"),
        ];
        fibric
            .publish(&[(0, 0, &before[0]), (0, 1, &before[1])])
            .await?;
        let mut stream = or_stop!(
            fibric,
            fibric.open_ok(0, "event_type=harness.now.*", None).await
        );
        let sentinel = spec("harness.now.sentinel", "harness");
        fibric
            .publish(&[(0, 2, &after[0]), (0, 3, &after[1]), (0, 4, &sentinel)])
            .await?;
        let events = read_until(&mut stream, &fibric.event_id(4), 16, PROMPT).await;
        let observation = Observation {
            promise: Promise::AT_LEAST_ONCE_ORDERED,
            expected: fibric.expected(&[(2, &after[0]), (3, &after[1]), (4, &sentinel)]),
            published: (0..5).map(|n| fibric.event_id(n)).collect(),
            connections: vec![Connection {
                conn: stream.conn,
                start: Start::Beginning,
                delivered: deliveries(&events),
            }],
            complete: true,
        };
        fibric.done(delivery::check(&observation))
    }
}

// Publishing in batches of these sizes; the stream must keep log order.
generated_property!(Order, meta::ORDER, Vec<u8>,
    strategy: prop::collection::vec(1u8..=6, 1..=4),
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: order_case);

async fn order_case(ctx: CheckContext, batches: Vec<u8>) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let mut stream = or_stop!(
        fibric,
        fibric.open_ok(0, "event_type=harness.order", None).await
    );
    let envelope = spec("harness.order", "harness");
    let mut n = 0;
    for size in &batches {
        let items: Vec<(usize, usize, &EnvelopeSpec)> = (n..n + usize::from(*size))
            .map(|k| (0, k, &envelope))
            .collect();
        fibric.publish(&items).await?;
        n += usize::from(*size);
    }
    fibric.publish(&[(0, n, &envelope)]).await?;
    let events = read_until(&mut stream, &fibric.event_id(n), 2 * n + 2, PROMPT).await;
    let all: Vec<(usize, &EnvelopeSpec)> = (0..=n).map(|k| (k, &envelope)).collect();
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..=n).map(|k| fibric.event_id(k)).collect(),
        connections: vec![Connection {
            conn: stream.conn,
            start: Start::Beginning,
            delivered: deliveries(&events),
        }],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

/// How the second connection says where to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResumeBy {
    CursorParameter,
    LastEventId,
}

async fn resume_case(
    ctx: CheckContext,
    plan: ResumePlan,
    by: ResumeBy,
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let envelope = spec("harness.resume", "harness");
    let query = "event_type=harness.resume";
    let mut first = or_stop!(fibric, fibric.open_ok(0, query, None).await);
    let first_conn = first.conn;
    let items: Vec<(usize, usize, &EnvelopeSpec)> =
        (0..plan.published).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&items).await?;
    // Up to the last of them: a server that drops one still ends the read.
    let last_first = fibric.event_id(plan.published - 1);
    let first_events = read_until(&mut first, &last_first, 2 * plan.published, PROMPT).await;
    drop(first);
    let Some(resume_from) = first_events.get(plan.resume_after) else {
        let message = format!(
            "only {} of {} envelopes arrived before the resume",
            first_events.len(),
            plan.published
        );
        return fibric.done(vec![Finding::new("unseen", message)]);
    };
    let resumed: Value = serde_json::from_str(&resume_from.data).unwrap_or_default();
    let resumed_after_id = resumed["event_id"].as_str().unwrap_or_default().to_owned();
    let mut second = or_stop!(
        fibric,
        resume(&fibric, query, by, &resumed, &resume_from.last_event_id).await
    );
    // The live envelopes, the last of them a sentinel to read up to. At
    // least two follow the resume point, so a server that drops the first
    // one after it still delivers the sentinel: the case ends there, not at
    // a timeout.
    let total = plan.published + plan.live + 2;
    let live: Vec<(usize, usize, &EnvelopeSpec)> =
        (plan.published..total).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&live).await?;
    let events = read_until(&mut second, &fibric.event_id(total - 1), 2 * total, PROMPT).await;
    let all: Vec<(usize, &EnvelopeSpec)> = (0..total).map(|k| (k, &envelope)).collect();
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..total).map(|k| fibric.event_id(k)).collect(),
        connections: vec![
            Connection {
                conn: first_conn,
                start: Start::Beginning,
                delivered: deliveries(&first_events),
            },
            Connection {
                conn: second.conn,
                start: Start::After(resumed_after_id),
                delivered: deliveries(&events),
            },
        ],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

/// Opens the stream again after envelope `resumed` (whose frame id was
/// `frame_id`) the way `by` says; a finding when the envelope has no cursor
/// to resume with.
async fn resume(
    fibric: &Fibric,
    query: &str,
    by: ResumeBy,
    resumed: &Value,
    frame_id: &str,
) -> Result<SseConn, Stop> {
    let opened = match by {
        ResumeBy::CursorParameter => {
            let Some(cursor) = resumed["cursor"].as_str() else {
                return Err(Finding::new(
                    "cursor",
                    "the envelope to resume from carries no cursor",
                )
                .into());
            };
            fibric
                .open_ok(0, &format!("{query}&cursor={cursor}"), None)
                .await
        }
        ResumeBy::LastEventId => fibric.open_ok(0, query, Some(frame_id)).await,
    };
    opened.map_err(|stop| stop.prefixed("resuming"))
}

generated_property!(ResumeCursor, meta::RESUME_CURSOR, ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, plan| resume_case(ctx, plan, ResumeBy::CursorParameter));

generated_property!(ResumeLastEventId, meta::RESUME_LAST_EVENT_ID, ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, plan| resume_case(ctx, plan, ResumeBy::LastEventId));

/// A refusal with the given status and error code, or the finding saying otherwise.
fn expect_refusal(
    what: &str,
    status: u16,
    body: &str,
    want_status: &[u16],
    want_code: Option<&str>,
) -> Option<Finding> {
    let code = error_code(body);
    let status_ok = want_status.contains(&status);
    let code_ok = want_code.is_none_or(|want| code.as_deref() == Some(want));
    (!(status_ok && code_ok)).then(|| {
        Finding::new(
            "accepted",
            format!(
                "{what} answered {status}{}, expected {}{}",
                code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
                want_status
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                want_code.map(|c| format!(" {c}")).unwrap_or_default()
            ),
        )
        .with_evidence(
            json!({"status": status, "body": body.chars().take(300).collect::<String>()}),
        )
    })
}

fixed_property!(CursorBound, meta::CURSOR_BOUND, skip: Self::skip);

impl CursorBound {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let envelope = spec("harness.bound.x", "harness");
        let mut stream = or_stop!(
            fibric,
            fibric.open_ok(0, "event_type=harness.bound.*", None).await
        );
        // Two envelopes, read up to the second: any cursor will do, and a
        // server that drops one still ends the read without a timeout.
        fibric
            .publish(&[(0, 0, &envelope), (0, 1, &envelope)])
            .await?;
        let events = read_until(&mut stream, &fibric.event_id(1), 4, PROMPT).await;
        drop(stream);
        let Some(cursor) = events
            .first()
            .and_then(|e| serde_json::from_str::<Value>(&e.data).ok())
            .and_then(|v| v["cursor"].as_str().map(str::to_owned))
        else {
            return fibric.done(vec![Finding::new(
                "unseen",
                "no envelope with a cursor arrived",
            )]);
        };
        let mut findings = Vec::new();
        for other in ["event_type=harness.*.x", "source=harness", ""] {
            let query = if other.is_empty() {
                format!("cursor={cursor}")
            } else {
                format!("{other}&cursor={cursor}")
            };
            let what = format!(
                "a cursor from event_type=harness.bound.* presented with {}",
                if other.is_empty() {
                    "no filters"
                } else {
                    other
                }
            );
            let list = fibric.list(Some(fibric.key(0)), &query).await?;
            findings.extend(expect_refusal(
                &format!("GET /v1/events: {what}"),
                list.status,
                &list.body,
                &[400],
                Some("invalid_cursor"),
            ));
            let (status, body) = match fibric
                .open(fibric.base(), Some(fibric.key(0)), &query, None)
                .await?
            {
                Ok(stream) => (stream.status, String::new()),
                Err(response) => (response.status, response.body),
            };
            findings.extend(expect_refusal(
                &format!("the stream: {what}"),
                status,
                &body,
                &[400],
                Some("invalid_cursor"),
            ));
        }
        fibric.done(findings)
    }
}

// `Control` in its meta: the skip below says why, on any other target.
fixed_property!(CursorExpired, meta::CURSOR_EXPIRED, skip: Self::skip);

impl CursorExpired {
    /// Ages tenant 0's log past retention, keeping its newest `keep_last`
    /// envelopes: the producer's `trim` action, or the reference server's
    /// control API when there is no producer.
    async fn trim(fibric: &Fibric, keep_last: usize) -> Result<(), String> {
        let body = json!({"tenant_id": fibric.tenant(0), "keep_last": keep_last});
        if let Some(producer) = &fibric.ctx.producer {
            let mut request = json!({"api": "fibric", "action": "trim"});
            if let (Some(request), Some(body)) = (request.as_object_mut(), body.as_object()) {
                request.extend(body.clone());
            }
            return producer
                .request(&request)
                .await
                .map(drop)
                .map_err(|e| format!("the producer's fibric trim action: {e}"));
        }
        let request = fibric
            .ctx
            .http
            .post(format!("{}/_control/fibric/trim", fibric.base()))
            .bearer_auth(fibric.ctx.target.control_token())
            .json(&body);
        let trimmed = crate::record::call(
            &fibric.recorder,
            &fibric.ctx.http,
            request,
            &fibric.limits,
            PROMPT,
        )
        .await
        .map_err(|e| format!("trimming through the control API: {e}"))?;
        if trimmed.status != 200 {
            return Err(format!(
                "the control API refused to trim: {} {}",
                trimmed.status, trimmed.body
            ));
        }
        Ok(())
    }

    fn skip(ctx: &CheckContext) -> Option<String> {
        (!ctx.target.is_reference() && ctx.producer.is_none()).then(|| {
            "needs a way to age the log past retention: a --producer that carries out the fibric `trim` action (the API has no method for it)".to_owned()
        })
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let envelope = spec("harness.expire", "harness");
        let mut stream = or_stop!(
            fibric,
            fibric.open_ok(0, "event_type=harness.expire", None).await
        );
        fibric
            .publish(&[(0, 0, &envelope), (0, 1, &envelope), (0, 2, &envelope)])
            .await?;
        // Read up to the last: the trim keeps only it, so the cursor of
        // any earlier one is expired.
        let events = read_until(&mut stream, &fibric.event_id(2), 6, PROMPT).await;
        drop(stream);
        let earlier = events.iter().find(|e| {
            serde_json::from_str::<Value>(&e.data)
                .is_ok_and(|v| v["event_id"] != fibric.event_id(2))
        });
        let Some(first) = earlier else {
            return fibric.done(vec![Finding::new(
                "unseen",
                "the published envelopes never arrived",
            )]);
        };
        let data: Value = serde_json::from_str(&first.data).unwrap_or_default();
        let cursor = data["cursor"].as_str().unwrap_or_default().to_owned();
        // Age the log: keep only the newest envelope of the tenant.
        Self::trim(&fibric, 1).await?;
        let mut findings = Vec::new();
        let query = format!("event_type=harness.expire&cursor={cursor}");
        let list = fibric.list(Some(fibric.key(0)), &query).await?;
        findings.extend(expect_refusal(
            "GET /v1/events with an expired cursor",
            list.status,
            &list.body,
            &[400, 404, 410],
            None,
        ));
        let (status, body) = match fibric
            .open(fibric.base(), Some(fibric.key(0)), &query, None)
            .await?
        {
            Ok(stream) => (stream.status, String::new()),
            Err(response) => (response.status, response.body),
        };
        findings.extend(expect_refusal(
            "the stream with an expired cursor",
            status,
            &body,
            &[400, 404, 410],
            None,
        ));
        fibric.done(findings)
    }
}
