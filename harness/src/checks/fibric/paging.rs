//! Fibric checks of paging: the list walks the log, and backfill-then-tail has no seam.

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::{EnvelopeSpec, SeamPlan, seam_plan};
use serde_json::Value;

use super::{
    Fibric, PROMPT, deliveries, generated_property, needs_producer, read_until, read_until_or_idle,
    spec,
};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Pages through `GET /v1/events?{query}` as tenant 0 from the start;
/// returns the items and the last next_cursor.
async fn backfill(
    fibric: &Fibric,
    query: &str,
    limit: usize,
    max_pages: usize,
) -> Result<(Vec<Value>, String), Stop> {
    backfill_from(fibric, 0, query, None, limit, max_pages).await
}

/// Pages through `GET /v1/events?{query}` as `tenant`, from `start` (a
/// cursor) or the beginning, until `has_more` is false; returns the items
/// and the last next_cursor, or a finding when a page is refused or malformed.
pub(super) async fn backfill_from(
    fibric: &Fibric,
    tenant: usize,
    query: &str,
    start: Option<String>,
    limit: usize,
    max_pages: usize,
) -> Result<(Vec<Value>, String), Stop> {
    let mut items = Vec::new();
    let mut cursor = start;
    for _ in 0..max_pages {
        let mut parts = vec![format!("limit={limit}")];
        if !query.is_empty() {
            parts.insert(0, query.to_owned());
        }
        if let Some(c) = &cursor {
            parts.push(format!("cursor={c}"));
        }
        let response = fibric
            .list(Some(fibric.key(tenant)), &parts.join("&"))
            .await?;
        let Some(page) = response.json().filter(|_| response.status == 200) else {
            let problem = format!(
                "GET /v1/events answered {} {}",
                response.status, response.body
            );
            return Err(Finding::new("status", problem).into());
        };
        let Some(data) = page["data"].as_array() else {
            let finding =
                Finding::new("list-shape", "a page has no data array").with_evidence(page.clone());
            return Err(finding.into());
        };
        items.extend(data.iter().cloned());
        let Some(next) = page["next_cursor"].as_str() else {
            let finding =
                Finding::new("list-shape", "a page has no next_cursor").with_evidence(page.clone());
            return Err(finding.into());
        };
        cursor = Some(next.to_owned());
        if page["has_more"] == false {
            return Ok((items, next.to_owned()));
        }
    }
    let problem = format!("has_more was still true after {max_pages} pages");
    Err(Finding::new("list-shape", problem).into())
}

generated_property!(Seam, meta::SEAM, SeamPlan,
    strategy: seam_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: seam_case);

async fn seam_case(ctx: CheckContext, plan: SeamPlan) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    // A source of the case's own keeps the backfill to this case's envelopes.
    let source = format!("harness-seam-{}", fibric.event_id(0));
    let envelope = spec("harness.seam", &source);
    let query = format!("source={source}");
    // The last live envelope is the sentinel the tail reads up to; one more
    // than the plan's, so that a server dropping the first live one still
    // delivers it.
    let total = plan.backfill + plan.gap + plan.live + 1;
    let first: Vec<(usize, usize, &EnvelopeSpec)> =
        (0..plan.backfill).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&first).await?;
    let (items, cursor) = or_stop!(
        fibric,
        backfill(&fibric, &query, plan.page, plan.backfill + 3).await
    );
    let gap: Vec<(usize, usize, &EnvelopeSpec)> = (plan.backfill..plan.backfill + plan.gap)
        .map(|k| (0, k, &envelope))
        .collect();
    fibric.publish(&gap).await?;
    let mut stream = match fibric
        .open_ok(0, &format!("{query}&cursor={cursor}"), None)
        .await
    {
        Ok(stream) => stream,
        Err(stop) => return fibric.finish(Err(stop.prefixed("tailing from next_cursor"))),
    };
    // Let the stream catch up with the gap before the live envelopes land:
    // up to the last of the gap, or until the stream idles (a server that
    // skipped it).
    let mut events = Vec::new();
    if plan.gap > 0 {
        let last_gap = fibric.event_id(plan.backfill + plan.gap - 1);
        events = read_until_or_idle(&mut stream, &last_gap, 2 * plan.gap + 2, PROMPT).await;
    }
    let live: Vec<(usize, usize, &EnvelopeSpec)> = (plan.backfill + plan.gap..total)
        .map(|k| (0, k, &envelope))
        .collect();
    fibric.publish(&live).await?;
    events.extend(read_until(&mut stream, &fibric.event_id(total - 1), 2 * total, PROMPT).await);
    let all: Vec<(usize, &EnvelopeSpec)> = (0..total).map(|k| (k, &envelope)).collect();
    let listed: Vec<(String, String)> = items
        .iter()
        .map(|item| {
            (
                item["event_id"].as_str().unwrap_or("").to_owned(),
                Fibric::delivered_content(item),
            )
        })
        .collect();
    let start = match plan.backfill {
        0 => Start::Beginning,
        n => Start::After(fibric.event_id(n - 1)),
    };
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..total).map(|k| fibric.event_id(k)).collect(),
        connections: vec![
            Connection {
                conn: 0,
                start: Start::Beginning,
                delivered: listed,
            },
            Connection {
                conn: stream.conn,
                start,
                delivered: deliveries(&events),
            },
        ],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

// `count` envelopes paged with `limit`.
generated_property!(Pages, meta::PAGES, (usize, usize),
    strategy: (0usize..=12, 1usize..=5),
    cases: |requested| requested.div_ceil(2),
    skip: needs_producer,
    run: pages_case);

async fn pages_case(
    ctx: CheckContext,
    (count, limit): (usize, usize),
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let source = format!("harness-pages-{}", fibric.event_id(0));
    let envelope = spec("harness.pages", &source);
    let items: Vec<(usize, usize, &EnvelopeSpec)> = (0..count).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&items).await?;
    let (listed, _) = or_stop!(
        fibric,
        backfill(&fibric, &format!("source={source}"), limit, count + 3).await
    );
    let all: Vec<(usize, &EnvelopeSpec)> = (0..count).map(|k| (k, &envelope)).collect();
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..count).map(|k| fibric.event_id(k)).collect(),
        connections: vec![Connection {
            conn: 0,
            start: Start::Beginning,
            delivered: listed
                .iter()
                .map(|item| {
                    (
                        item["event_id"].as_str().unwrap_or("").to_owned(),
                        Fibric::delivered_content(item),
                    )
                })
                .collect(),
        }],
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}
