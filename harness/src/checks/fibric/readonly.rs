//! Fibric check that reading is read-only: two consumers of one filter set both see every envelope.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::EnvelopeSpec;

use super::{
    Fibric, PROMPT, deliveries, generated_property, needs_producer, read_until_or_idle, spec,
};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

// How many envelopes both consumers must see (the last is the sentinel).
generated_property!(ReadOnly, meta::READ_ONLY, usize,
    strategy: 1usize..=6,
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: read_only_case);

async fn read_only_case(ctx: CheckContext, count: usize) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let query = "event_type=harness.readonly";
    let mut one = or_stop!(fibric, fibric.open_ok(0, query, None).await);
    let mut two = or_stop!(fibric, fibric.open_ok(0, query, None).await);
    let envelope = spec("harness.readonly", "harness");
    let items: Vec<(usize, usize, &EnvelopeSpec)> = (0..count).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&items).await?;
    let all: Vec<(usize, &EnvelopeSpec)> = (0..count).map(|k| (k, &envelope)).collect();
    let sentinel = fibric.event_id(count - 1);
    let mut findings = Vec::new();
    for (which, stream) in [("the first", &mut one), ("the second", &mut two)] {
        let events = read_until_or_idle(stream, &sentinel, 2 * count + 2, PROMPT).await;
        let observation = Observation {
            promise: Promise::AT_LEAST_ONCE_ORDERED,
            expected: fibric.expected(&all),
            published: (0..count).map(|k| fibric.event_id(k)).collect(),
            connections: vec![Connection {
                conn: stream.conn,
                start: Start::Beginning,
                delivered: deliveries(&events),
            }],
            complete: true,
        };
        findings.extend(delivery::check(&observation).into_iter().map(|f| Finding {
            message: format!(
                "{which} of two consumers with the same filters: {}",
                f.message
            ),
            ..f
        }));
    }
    fibric.done(findings)
}
