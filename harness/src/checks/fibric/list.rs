//! Fibric checks of `GET /v1/events` as a read like the stream: the key's tenant only, and the stream's filters.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{self, EnvelopeSpec, FilterPlan};
use serde_json::{Value, json};

use super::paging::backfill_from;
use super::{
    Fibric, PROMPT, deliveries, generated_property, listed, needs_producer, read_until_any,
    sentinel_for,
};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// The tenant that reads: the second, since a server that sends every key
/// to one tenant's log most likely sends them to the first.
const READER: usize = 1;

// Envelopes of both tenants, all of one source of the case's own, listed as the second tenant.
generated_property!(ListTenancy, meta::LIST_TENANCY, Vec<(usize, EnvelopeSpec)>,
    strategy: plans::two_tenant_envelopes(),
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: list_tenancy_case);

async fn list_tenancy_case(
    ctx: CheckContext,
    envelopes: Vec<(usize, EnvelopeSpec)>,
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    // A source of the case's own keeps the list to this case's envelopes.
    let source = format!("harness-lt-{}", fibric.event_id(0));
    let specs: Vec<(usize, EnvelopeSpec)> = envelopes
        .into_iter()
        .map(|(tenant, spec)| {
            let spec = EnvelopeSpec {
                source: source.clone(),
                ..spec
            };
            (tenant, spec)
        })
        .collect();
    let items: Vec<(usize, usize, &EnvelopeSpec)> = specs
        .iter()
        .enumerate()
        .map(|(n, (tenant, spec))| (*tenant, n, spec))
        .collect();
    fibric.publish(&items).await?;
    let query = format!("source={source}");
    let (page, _) = or_stop!(
        fibric,
        backfill_from(&fibric, READER, &query, None, 4, specs.len() + 3).await
    );
    let own: Vec<(usize, &EnvelopeSpec)> = items
        .iter()
        .filter(|(tenant, _, _)| *tenant == READER)
        .map(|(_, n, spec)| (*n, *spec))
        .collect();
    let mut findings = tenant_findings(&page, fibric.tenant(READER));
    findings.extend(delivery::check(&Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&own),
        published: (0..specs.len()).map(|n| fibric.event_id(n)).collect(),
        connections: vec![Connection {
            conn: 0,
            start: Start::Beginning,
            delivered: listed(&page),
        }],
        complete: true,
    }));
    fibric.done(findings)
}

/// A finding for each listed envelope whose `tenant_id` is not the reader's.
fn tenant_findings(items: &[Value], tenant: &str) -> Vec<Finding> {
    items
        .iter()
        .filter(|item| item["tenant_id"] != tenant)
        .map(|item| {
            Finding::new(
                "tenant",
                format!(
                    "the list showed {} of tenant {}, not the key's tenant {tenant}",
                    item["event_id"], item["tenant_id"]
                ),
            )
            .with_evidence(json!({"event_id": item["event_id"], "tenant_id": item["tenant_id"]}))
        })
        .collect()
}

// A filter set, envelopes of both tenants, and a page size.
generated_property!(ListFilters, meta::LIST_FILTERS, (FilterPlan, usize),
    strategy: (plans::two_tenant_filter_plan(), 1usize..=5),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, (plan, limit)| list_filters_case(ctx, plan, limit));

/// Takes a cursor from the stream under the plan's filters ([`marker_cursor`]),
/// publishes the plan and a last admitted envelope, and pages the list from
/// that cursor with the same filters: exactly the reader's admitted
/// envelopes must come back, in order.
async fn list_filters_case(
    ctx: CheckContext,
    plan: FilterPlan,
    limit: usize,
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let query = plan.filters.query();
    let marker = or_stop!(fibric, marker_cursor(&fibric, &plan, 0).await);
    let sentinel = sentinel_for(&plan.filters);
    let last = MARKERS + plan.envelopes.len();
    let mut items: Vec<(usize, usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .map(|(n, (tenant, spec))| (*tenant, MARKERS + n, spec))
        .collect();
    items.push((0, last, &sentinel));
    fibric.publish(&items).await?;
    let (page, _) = or_stop!(
        fibric,
        backfill_from(&fibric, 0, &query, Some(marker.cursor), limit, last + 3).await
    );
    let admitted = admitted(&plan, &items, 0);
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&admitted),
        published: (0..=last).map(|n| fibric.event_id(n)).collect(),
        connections: vec![Connection {
            conn: 0,
            start: Start::Beginning,
            delivered: listed(&page),
        }],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

/// What `reader` must see of `items` under the plan's filters, in order.
pub(super) fn admitted<'a>(
    plan: &FilterPlan,
    items: &[(usize, usize, &'a EnvelopeSpec)],
    reader: usize,
) -> Vec<(usize, &'a EnvelopeSpec)> {
    items
        .iter()
        .filter(|(tenant, _, spec)| *tenant == reader && plan.filters.admits(spec))
        .map(|(_, n, spec)| (*n, *spec))
        .collect()
}

/// How many envelopes [`marker_cursor`] publishes: `0` and `1` for the
/// reader (the position is `1`'s), `2` for the other tenant.
pub(super) const MARKERS: usize = 3;

/// A position a case took from the stream: envelope `1`'s cursor, its
/// frame's id, and the connection that delivered it.
pub(super) struct Marker {
    pub cursor: String,
    pub frame_id: String,
    pub connection: Connection,
}

/// Opens the stream as `reader` under the plan's filters, publishes the
/// case's envelopes `0` and `1` (ones the filters admit) and `2` (the same,
/// for the other tenant), and reads up to `1`, or a finding when it does not
/// come. The read also ends at `2`, so a server that shows the reader the
/// other tenant's log fails at once, and at `1` even when `0` is dropped.
pub(super) async fn marker_cursor(
    fibric: &Fibric,
    plan: &FilterPlan,
    reader: usize,
) -> Result<Marker, Stop> {
    let mut stream = fibric.open_ok(reader, &plan.filters.query(), None).await?;
    let marker = sentinel_for(&plan.filters);
    fibric
        .publish(&[
            (reader, 0, &marker),
            (reader, 1, &marker),
            (1 - reader, 2, &marker),
        ])
        .await?;
    let (position, foreign) = (fibric.event_id(1), fibric.event_id(2));
    let events = read_until_any(&mut stream, &[&position, &foreign], 6, PROMPT).await;
    let frame = events.iter().find(|event| {
        serde_json::from_str::<Value>(&event.data).is_ok_and(|v| v["event_id"] == position)
    });
    let Some(frame) = frame else {
        let message = format!(
            "the envelope published to take a cursor from never arrived within {}",
            humantime::format_duration(PROMPT)
        );
        let finding = Finding::new("unseen", message)
            .with_evidence(json!({"delivered": deliveries(&events)}));
        return Err(finding.into());
    };
    let data: Value = serde_json::from_str(&frame.data).unwrap_or_default();
    let Some(cursor) = data["cursor"].as_str() else {
        return Err(Finding::new("cursor", "the marker envelope carries no cursor").into());
    };
    Ok(Marker {
        cursor: cursor.to_owned(),
        frame_id: frame.last_event_id.clone(),
        connection: Connection {
            conn: stream.conn,
            start: Start::Live,
            delivered: deliveries(&events),
        },
    })
}
