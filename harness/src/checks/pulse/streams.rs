//! Pulse checks of named streams: create and list, delete, one consumer at a time, and resuming from the acknowledged cursor.

use std::time::Duration;

use reqwest::Method;
use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::{self, Identity, ResumePlan};
use scenarios::pulse::shape;
use serde_json::json;
use wire::sse::SseEvent;

use super::listing::{gone, listed_cursor, listing};
use super::{
    PROMPT, Published, Pulse, clip, create, deliveries, event_id, expected, fixed_property,
    needs_producer, read_until, resume_id,
};
use crate::checks::case::{Found, Stop, or_stop};
use crate::checks::generated_property;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;

fixed_property!(Lifecycle, meta::LIFECYCLE, skip: Self::skip);

impl Lifecycle {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Life");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("life");
        let mut findings = Vec::new();
        let created = pulse.create_stream(&name, &model, None).await?;
        let info = match (created.status, created.json()) {
            (201, Some(info)) => info,
            (status, _) => {
                let problem = format!(
                    "POST /streams answered {status}, not 201 StreamInfo: {}",
                    clip(&created.body)
                );
                return pulse.done(vec![Finding::new("status", problem)]);
            }
        };
        findings.extend(shape::stream_info(
            "the StreamInfo of POST /streams",
            &info,
            &name,
            &model,
        ));
        let again = pulse.create_stream(&name, &model, None).await?;
        findings.extend(shape::error_answer(
            "POST /streams with an existing name",
            again.status,
            &again.body,
            Some(409),
        ));
        let no_model = json!({ "name": pulse.stream_name("life-no-model") });
        let request = pulse.request(
            pulse.base(),
            Method::POST,
            "/streams",
            Some(pulse.key()),
            Some(&no_model),
        );
        let bad = pulse.call(request).await?;
        findings.extend(shape::error_answer(
            "POST /streams without a model",
            bad.status,
            &bad.body,
            Some(400),
        ));
        let request = pulse.request(
            pulse.base(),
            Method::GET,
            "/streams",
            Some(pulse.key()),
            None,
        );
        let listed = pulse.call(request).await?;
        findings.extend(listing(listed.status, listed.json(), &info, &name, &model));
        pulse.delete_stream(&name).await?;
        pulse.done(findings)
    }
}

fixed_property!(Delete, meta::DELETE, skip: Self::skip);

impl Delete {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Gone");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("gone");
        or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
        let mut published = Published::new(Identity::Default);
        let first = published.change(&pulse, &model, &create(0)).await?;
        let mut consumer = or_stop!(pulse, pulse.consume_ok(pulse.base(), &name, None).await);
        // The consumer is surely connected once it has the first event.
        read_until(&mut consumer, &first, 4, PROMPT).await;
        let mut findings = Vec::new();
        let deleted = pulse.delete_stream(&name).await?;
        if deleted.status != 204 {
            findings.push(Finding::new(
                "status",
                format!(
                    "DELETE /streams/{name} answered {}, not 204: {}",
                    deleted.status,
                    clip(&deleted.body)
                ),
            ));
        }
        if !consumer.ends_within(ctx.patience).await {
            findings.push(Finding::new(
                "consumer-kept",
                format!(
                    "the consumer of the deleted stream was still connected {} later",
                    humantime::format_duration(ctx.patience)
                ),
            ));
        }
        drop(consumer);
        let again = pulse.delete_stream(&name).await?;
        findings.extend(shape::error_answer(
            "DELETE of a deleted stream",
            again.status,
            &again.body,
            Some(404),
        ));
        findings.extend(gone(&pulse, &name).await?);
        let mut update = create(0);
        update.action = plans::Action::Update;
        published.change(&pulse, &model, &update).await?;
        match pulse.create_stream_ok(&name, &model, None).await {
            Ok(_) => {}
            Err(Stop::Found(more)) => {
                findings.extend(more);
                return pulse.done(findings);
            }
            Err(Stop::Broke(error)) => return Err(error),
        }
        let last = published.change(&pulse, &model, &update).await?;
        let mut fresh = match pulse.consume_ok(pulse.base(), &name, None).await {
            Ok(stream) => stream,
            Err(Stop::Found(more)) => {
                findings.extend(more);
                return pulse.done(findings);
            }
            Err(Stop::Broke(error)) => return Err(error),
        };
        let events = read_until(&mut fresh, &last, 8, PROMPT).await;
        let observation = Observation {
            promise: Promise::AT_LEAST_ONCE_ORDERED,
            expected: expected(&model, &published.events[2..]),
            published: published.ids(),
            connections: vec![Connection {
                conn: fresh.conn,
                start: Start::Beginning,
                delivered: deliveries(&events),
            }],
            complete: true,
        };
        findings.extend(delivery::check(&observation));
        drop(fresh);
        pulse.delete_stream(&name).await?;
        pulse.done(findings)
    }
}

fixed_property!(SingleConsumer, meta::SINGLE_CONSUMER, skip: Self::skip);

impl SingleConsumer {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Busy");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("busy");
        or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
        let early = pulse.change(&model, &create(0)).await?;
        let mut first = or_stop!(pulse, pulse.consume_ok(pulse.base(), &name, None).await);
        // The first consumer is surely connected once it has an event.
        read_until(&mut first, &early, 4, PROMPT).await;
        let found = take_over(&pulse, &name, &model, &mut first).await;
        drop(first);
        pulse.delete_stream(&name).await?;
        pulse.finish(found)
    }
}

/// A second consumer of `name` while `first` is connected: it must be let
/// in (the seed documents no status to refuse it) and receive the sentinel,
/// an event committed once it holds the stream; `first` must have ended
/// without it.
async fn take_over(pulse: &Pulse, name: &str, model: &str, first: &mut SseConn) -> Found {
    let mut second = match pulse.consume(pulse.base(), name, None).await? {
        Ok(second) => second,
        Err(response) => {
            let problem = format!(
                "a second consumer of {name} answered {}, not 200 (the seed documents no status that refuses it): {}",
                response.status,
                clip(&response.body)
            );
            return Ok(vec![Finding::new("status", problem)]);
        }
    };
    let sentinel = pulse.change(model, &create(1)).await?;
    let got = |events: &[SseEvent]| {
        events
            .iter()
            .any(|event| event_id(event).as_deref() == Some(sentinel.as_str()))
    };
    let mut findings = Vec::new();
    if !got(&read_until(&mut second, &sentinel, 8, PROMPT).await) {
        findings.push(Finding::new(
            "unseen",
            format!("the consumer that took {name} over never received {sentinel}"),
        ));
    }
    if got(&read_until(first, &sentinel, 8, PROMPT).await) {
        findings.push(Finding::new(
            "second-consumer",
            format!(
                "both consumers of {name} received {sentinel}: the first stayed connected when a second took the stream over"
            ),
        ));
    } else if !first.ends_within(Duration::ZERO).await {
        findings.push(Finding::new(
            "second-consumer",
            format!("the first consumer of {name} was still connected after a second took the stream over"),
        ));
    }
    Ok(findings)
}

// A named stream consumed over several connections, each acknowledging
// what the one before read (by `Last-Event-ID`) or not.
generated_property!(Resume, meta::RESUME, ResumePlan,
    strategy: plans::resume_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: resume_case);

async fn resume_case(ctx: CheckContext, plan: ResumePlan) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Resume");
    pulse.declare_model(&model, Identity::Default).await?;
    let name = pulse.stream_name("resume");
    or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
    let mut published = Published::new(Identity::Default);
    // What an EventSource keeps: the id of the last event it received, on
    // any connection; and what the server should have saved as the cursor.
    let mut last_seen: Option<String> = None;
    let mut acknowledged: Option<String> = None;
    let mut connections = Vec::new();
    // Every step publishes before it connects, so something is always left
    // to read after the saved cursor and no read waits out a timeout.
    let last_step = plans::ResumeStep {
        publish: 1,
        ack: plan.last_ack,
        read: usize::MAX,
    };
    for step in plan.steps.iter().chain(std::iter::once(&last_step)) {
        // One more event than the step's: a server that loses the first
        // event after a resume still sends the last, and the read ends there.
        published.creates(&pulse, &model, step.publish + 1).await?;
        let send = if step.ack { last_seen.clone() } else { None };
        if send.is_some() {
            acknowledged.clone_from(&send);
        }
        let start = match &acknowledged {
            Some(id) => Start::After(id.clone()),
            None => Start::Beginning,
        };
        let mut stream = or_stop!(
            pulse,
            pulse.consume_ok(pulse.base(), &name, send.as_deref()).await
        );
        let stop = published.last_id();
        let max = step.read.min(2 * published.events.len() + 2);
        let events = if max == 0 {
            Vec::new()
        } else {
            read_until(&mut stream, &stop, max, PROMPT).await
        };
        if let Some(id) = events.last().and_then(resume_id) {
            last_seen = Some(id);
        }
        connections.push(Connection {
            conn: stream.conn,
            start,
            delivered: deliveries(&events),
        });
    }
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: expected(&model, &published.events),
        published: published.ids(),
        connections,
        complete: true,
    };
    let mut findings = delivery::check(&observation);
    findings.extend(listed_cursor(&pulse, &name, &published.ids()).await?);
    pulse.delete_stream(&name).await?;
    pulse.done(findings)
}
