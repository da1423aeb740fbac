//! Pulse checks of what is delivered: filters, event shapes, and lookup by id.

use std::collections::HashSet;

use reqwest::Method;
use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::{self, FilterPlan, Identity, ModelEvent, ShapePlan, Via};
use scenarios::pulse::shape;
use serde_json::{Value, json};

use super::{
    PROMPT, Published, Pulse, SUBSCRIPTION, UNKNOWN_ID, clip, create, deliveries, event_id,
    expected, fixed_property, needs_producer, read_live, read_until,
};
use crate::checks::case::{Stop, or_stop};
use crate::checks::generated_property;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;
use wire::sse::SseEvent;

/// What one connection that read `events` should have seen of `published`:
/// the events `filter` admits, kept as `promise` says.
pub(super) fn observe(
    model: &str,
    published: &[(String, ModelEvent)],
    filter: Option<&plans::Filter>,
    promise: Promise,
    connection: Connection,
) -> Observation {
    let admitted: Vec<(String, ModelEvent)> = published
        .iter()
        .filter(|(_, event)| plans::admits(filter, event))
        .cloned()
        .collect();
    Observation {
        promise,
        expected: expected(model, &admitted),
        published: published.iter().map(|(id, _)| id.clone()).collect(),
        connections: vec![connection],
        complete: true,
    }
}

/// A named stream or a subscription, as a plan chooses.
async fn open_via(
    pulse: &Pulse,
    via: Via,
    model: &str,
    name: &str,
    filter: Option<&Value>,
) -> Result<SseConn, Stop> {
    match via {
        Via::NamedStream => {
            pulse.create_stream_ok(name, model, filter).await?;
            pulse.consume_ok(pulse.base(), name, None).await
        }
        Via::Subscription => pulse.subscribe_ok(model, filter).await,
    }
}

generated_property!(Filters, meta::FILTERS, FilterPlan,
    strategy: plans::filter_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: filters_case);

async fn filters_case(ctx: CheckContext, plan: FilterPlan) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Filter");
    pulse.declare_model(&model, plan.identity).await?;
    let name = pulse.stream_name("filter");
    let filter_json = plan.filter.to_json();
    let mut conn = or_stop!(
        pulse,
        open_via(&pulse, plan.via, &model, &name, Some(&filter_json)).await
    );
    let sentinel = |key| plan.filter.sentinel_on(key, plan.identity);
    let Some(first) = sentinel(plans::SENTINEL_KEY) else {
        return Err("the plan's filter admits no event the harness can make".to_owned());
    };
    let mut published = Published::new(plan.identity);
    published.changes(&pulse, &model, &plan.changes).await?;
    let events = match plan.via {
        // A named stream delivers at least once: its one sentinel must come.
        Via::NamedStream => {
            published.changes(&pulse, &model, &first).await?;
            let max = 2 * published.events.len() + 2;
            read_until(&mut conn, &published.last_id(), max, PROMPT).await
        }
        Via::Subscription => {
            let sentinel = |key| sentinel(key).unwrap_or_default();
            read_live(&pulse, &mut conn, &mut published, &model, sentinel).await?
        }
    };
    let (promise, start) = match plan.via {
        Via::NamedStream => (Promise::AT_LEAST_ONCE_ORDERED, Start::Beginning),
        Via::Subscription => (SUBSCRIPTION, Start::Live),
    };
    let connection = Connection {
        conn: conn.conn,
        start,
        delivered: deliveries(&events),
    };
    let observation = observe(
        &model,
        &published.events,
        Some(&plan.filter),
        promise,
        connection,
    );
    let findings = delivery::check(&observation);
    drop(conn);
    if plan.via == Via::NamedStream {
        pulse.delete_stream(&name).await?;
    }
    pulse.done(findings)
}

generated_property!(EventShape, meta::EVENT_SHAPE, ShapePlan,
    strategy: plans::shape_plan(),
    cases: |requested| requested,
    skip: needs_producer,
    run: event_shape_case);

async fn event_shape_case(ctx: CheckContext, plan: ShapePlan) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Shape");
    pulse.declare_model(&model, plan.identity).await?;
    let name = pulse.stream_name("shape");
    let mut stream = or_stop!(
        pulse,
        open_via(&pulse, Via::NamedStream, &model, &name, None).await
    );
    let mut subscription = or_stop!(pulse, pulse.subscribe_ok(&model, None).await);
    let mut published = Published::new(plan.identity);
    published.changes(&pulse, &model, &plan.changes).await?;
    // The named stream must deliver every event; the subscription may lose
    // some, and the shape of each that it delivers is checked all the same.
    let max = 2 * plan.changes.len() + 2;
    let streamed = read_until(&mut stream, &published.last_id(), max, PROMPT).await;
    let stream_events = published.events.clone();
    let live = read_live(&pulse, &mut subscription, &mut published, &model, |key| {
        vec![create(key)]
    })
    .await?;
    let mut findings = shapes("the named stream", &streamed, &stream_events, &model);
    findings.extend(shapes("the subscription", &live, &published.events, &model));
    let readings = [
        (
            &stream,
            streamed,
            &stream_events,
            Promise::AT_LEAST_ONCE_ORDERED,
            Start::Beginning,
        ),
        (
            &subscription,
            live,
            &published.events,
            SUBSCRIPTION,
            Start::Live,
        ),
    ];
    for (conn, events, events_published, promise, start) in readings {
        let connection = Connection {
            conn: conn.conn,
            start,
            delivered: deliveries(&events),
        };
        let observation = observe(&model, events_published, None, promise, connection);
        // Shape findings say more than `inconsistent` about the same event.
        findings.extend(
            delivery::check(&observation)
                .into_iter()
                .filter(|f| f.kind != "inconsistent"),
        );
    }
    drop((stream, subscription));
    pulse.delete_stream(&name).await?;
    pulse.done(findings)
}

/// Shape findings about each event `events` delivered (once per event) that
/// the case published, named after the connection `what`.
fn shapes(
    what: &str,
    events: &[SseEvent],
    published: &[(String, ModelEvent)],
    model: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut seen = HashSet::new();
    for event in events {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            findings.push(Finding::new(
                "event-shape",
                format!("{what}: an event's data is not JSON: {}", clip(&event.data)),
            ));
            continue;
        };
        let Some(position) = published
            .iter()
            .position(|(id, _)| data["id"] == id.as_str())
        else {
            continue;
        };
        if seen.insert(position) {
            findings.extend(
                shape::event(&data, &published[position].1, model)
                    .into_iter()
                    .map(|mut finding| {
                        finding.message = format!("{what}: {}", finding.message);
                        finding
                    }),
            );
        }
    }
    findings
}

fixed_property!(Lookup, meta::LOOKUP, skip: Self::skip);

impl Lookup {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Lookup");
        pulse.declare_model(&model, Identity::Full).await?;
        // A named stream, which must deliver the event (a subscription may lose it).
        let name = pulse.stream_name("lookup");
        let mut stream = or_stop!(
            pulse,
            open_via(&pulse, Via::NamedStream, &model, &name, None).await
        );
        let id = pulse.change(&model, &create(0)).await?;
        let events = read_until(&mut stream, &id, 4, PROMPT).await;
        drop(stream);
        pulse.delete_stream(&name).await?;
        let Some(delivered) = events
            .iter()
            .find(|event| event_id(event).as_deref() == Some(id.as_str()))
            .and_then(|event| serde_json::from_str::<Value>(&event.data).ok())
        else {
            let problem = format!("the event {id} never arrived on a named stream");
            return pulse.done(vec![Finding::new("unseen", problem)]);
        };
        let mut findings = Vec::new();
        let get =
            |path: String| pulse.request(pulse.base(), Method::GET, &path, Some(pulse.key()), None);
        let found = pulse.call(get(format!("/events/{id}"))).await?;
        match (found.status, found.json()) {
            (200, Some(event)) if event == delivered => {}
            (200, body) => findings.push(
                Finding::new(
                    "lookup",
                    format!("GET /events/{id} answered another event than was delivered"),
                )
                .with_evidence(json!({"delivered": delivered, "looked-up": body})),
            ),
            (status, _) => findings.push(Finding::new(
                "status",
                format!(
                    "GET /events/{id} answered {status}, not 200: {}",
                    clip(&found.body)
                ),
            )),
        }
        // The seed documents 200, 401, 404 and 500 for getEvent: an id that
        // breaks its pattern names no event, so it is a 404 as well.
        let probes = [
            ("an unknown event id", UNKNOWN_ID.to_owned(), 404),
            ("a malformed event id", "not-a-ulid".to_owned(), 404),
            ("a lower-case event id", id.to_lowercase(), 404),
        ];
        for (what, probe, want) in probes {
            let response = pulse.call(get(format!("/events/{probe}"))).await?;
            findings.extend(shape::error_answer(
                &format!("GET /events/{probe} ({what})"),
                response.status,
                &response.body,
                Some(want),
            ));
        }
        pulse.done(findings)
    }
}
