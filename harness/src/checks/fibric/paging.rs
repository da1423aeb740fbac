//! Fibric checks of paging: the list walks the log, honours `limit` in `data` pages, and backfill-then-tail has no seam.

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
///
/// The seed names `has_more` and `next_cursor` but neither the page's item
/// field nor a page size: the items are the page's `data`, or its one array
/// when it has no `data` ([`page_items`]), and `limit` is asked for but
/// dropped when the first page refuses it (`fibric/list/limit` holds a
/// target to both, at SHOULD).
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
    let mut ask_limit = true;
    for page_number in 0..max_pages {
        let url = |with_limit: bool| page_query(query, with_limit.then_some(limit), &cursor);
        let key = Some(fibric.key(tenant));
        let mut response = fibric.list(key, &url(ask_limit)).await?;
        if page_number == 0 && response.status == 400 {
            let without = fibric.list(key, &url(false)).await?;
            if without.status == 200 {
                (response, ask_limit) = (without, false);
            }
        }
        let Some(page) = response.json().filter(|_| response.status == 200) else {
            let problem = format!(
                "GET /v1/events answered {} {}",
                response.status, response.body
            );
            return Err(Finding::new("status", problem).into());
        };
        let Some(data) = page_items(&page) else {
            let finding = Finding::new(
                "list-shape",
                "a page has no data array, nor any other single array of envelopes",
            )
            .with_evidence(page.clone());
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

/// The query of one list page: the filters, `limit` when asked, the cursor.
fn page_query(query: &str, limit: Option<usize>, cursor: &Option<String>) -> String {
    let mut parts = Vec::new();
    if !query.is_empty() {
        parts.push(query.to_owned());
    }
    if let Some(limit) = limit {
        parts.push(format!("limit={limit}"));
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    parts.join("&")
}

/// A page's envelopes: its `data` array (the reference server's field), or
/// else its only array-valued member, since the seed does not name the field.
fn page_items(page: &Value) -> Option<&Vec<Value>> {
    if let Some(data) = page["data"].as_array() {
        return Some(data);
    }
    let mut arrays = page.as_object()?.values().filter_map(Value::as_array);
    match (arrays.next(), arrays.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
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

// A page size, and how many envelopes beyond one page to publish.
generated_property!(Limit, meta::LIMIT, (usize, usize),
    strategy: (1usize..=4, 1usize..=5),
    cases: |requested| requested.div_ceil(4),
    skip: needs_producer,
    run: limit_case);

/// Publishes more envelopes than one page of `limit` holds and pages through
/// them with `limit`: every page must answer 200 with a `data` array of at
/// most `limit` envelopes.
async fn limit_case(
    ctx: CheckContext,
    (limit, extra): (usize, usize),
) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let source = format!("harness-limit-{}", fibric.event_id(0));
    let envelope = spec("harness.limit", &source);
    let count = limit + extra;
    let items: Vec<(usize, usize, &EnvelopeSpec)> = (0..count).map(|k| (0, k, &envelope)).collect();
    fibric.publish(&items).await?;
    let mut cursor = None;
    for _ in 0..count + 3 {
        let query = page_query(&format!("source={source}"), Some(limit), &cursor);
        let response = fibric.list(Some(fibric.key(0)), &query).await?;
        let page = response.json().filter(|_| response.status == 200);
        let Some(page) = page else {
            let problem = format!(
                "GET /v1/events?{query} answered {} {}",
                response.status, response.body
            );
            return fibric.done(vec![Finding::new("limit", problem)]);
        };
        let Some(data) = page["data"].as_array() else {
            let finding =
                Finding::new("list-shape", "a page has no data array").with_evidence(page.clone());
            return fibric.done(vec![finding]);
        };
        if data.len() > limit {
            let problem = format!(
                "a page asked for with limit={limit} held {} envelopes",
                data.len()
            );
            return fibric.done(vec![Finding::new("limit", problem)]);
        }
        match page["next_cursor"].as_str() {
            Some(next) if page["has_more"] != false => cursor = Some(next.to_owned()),
            _ => return fibric.done(Vec::new()),
        }
    }
    let problem = format!("has_more was still true after {} pages", count + 3);
    fibric.done(vec![Finding::new("list-shape", problem)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_is_read_from_data_or_its_one_array() {
        let data = json!({"data": [{"event_id": "a"}], "other": [], "has_more": false});
        assert_eq!(page_items(&data).unwrap().len(), 1);
        let renamed = json!({"items": [{"event_id": "a"}, {"event_id": "b"}], "has_more": true});
        assert_eq!(page_items(&renamed).unwrap().len(), 2);
        assert!(page_items(&json!({"a": [], "b": [], "has_more": false})).is_none());
        assert!(page_items(&json!({"has_more": false})).is_none());
        assert!(page_items(&json!([1])).is_none());
    }

    #[test]
    fn page_queries_put_filters_limit_and_cursor_in_order() {
        let cursor = Some("cur_x".to_owned());
        assert_eq!(
            page_query("source=s", Some(3), &cursor),
            "source=s&limit=3&cursor=cur_x"
        );
        assert_eq!(page_query("", None, &None), "");
        assert_eq!(page_query("", None, &cursor), "cursor=cur_x");
    }
}
