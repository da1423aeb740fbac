//! Fibric check of replayed frames: what a stream replays after a cursor or a Last-Event-ID matches its filters and tenant.

use proptest::prelude::*;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{self, EnvelopeSpec, FilterPlan};

use super::list::{MARKERS, admitted, marker_cursor};
use super::{
    Fibric, PROMPT, deliveries, generated_property, needs_producer, read_until_any, sentinel_for,
};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// The tenant that reads: the second, as in the live tenancy check.
const READER: usize = 1;

// A filter set, envelopes of both tenants, and whether the resume is by
// Last-Event-ID (true) or by the cursor parameter.
generated_property!(Replayed, meta::REPLAYED, (FilterPlan, bool),
    strategy: (plans::two_tenant_filter_plan(), any::<bool>()),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: |ctx, (plan, by_last_event_id)| replayed_case(ctx, plan, by_last_event_id));

/// Takes a resume position from the stream ([`marker_cursor`]), publishes
/// the plan's envelopes while no stream is open, then resumes: every frame is
/// a replay, and must be the reader's own envelopes that the filters admit.
async fn replayed_case(
    ctx: CheckContext,
    plan: FilterPlan,
    by_last_event_id: bool,
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let query = plan.filters.query();
    let marker = or_stop!(fibric, marker_cursor(&fibric, &plan, READER).await);
    // Two admitted envelopes last: the case reads up to the second, so a
    // server that drops the first replayed frame still ends at a sentinel;
    // then one of the other tenant, which ends the read at once on a server
    // that replays that tenant's log.
    let fence = sentinel_for(&plan.filters);
    let last = MARKERS + plan.envelopes.len() + 1;
    let mut items: Vec<(usize, usize, &EnvelopeSpec)> = plan
        .envelopes
        .iter()
        .enumerate()
        .map(|(n, (tenant, spec))| (*tenant, MARKERS + n, spec))
        .collect();
    items.push((READER, last - 1, &fence));
    items.push((READER, last, &fence));
    items.push((1 - READER, last + 1, &fence));
    fibric.publish(&items).await?;
    let opened = if by_last_event_id {
        fibric.open_ok(READER, &query, Some(&marker.frame_id)).await
    } else {
        let with_cursor = if query.is_empty() {
            format!("cursor={}", marker.cursor)
        } else {
            format!("{query}&cursor={}", marker.cursor)
        };
        fibric.open_ok(READER, &with_cursor, None).await
    };
    let mut stream = or_stop!(fibric, opened.map_err(|stop| stop.prefixed("resuming")));
    let ends = [fibric.event_id(last), fibric.event_id(last + 1)];
    let ends: Vec<&str> = ends.iter().map(String::as_str).collect();
    let events = read_until_any(&mut stream, &ends, 2 * (last + 2), PROMPT).await;
    let marker_spec = sentinel_for(&plan.filters);
    let mut expected = vec![(0, &marker_spec), (1, &marker_spec)];
    expected.extend(admitted(&plan, &items, READER));
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&expected),
        published: (0..=last + 1).map(|n| fibric.event_id(n)).collect(),
        connections: vec![
            marker.connection,
            Connection {
                conn: stream.conn,
                start: Start::After(fibric.event_id(1)),
                delivered: deliveries(&events),
            },
        ],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}
