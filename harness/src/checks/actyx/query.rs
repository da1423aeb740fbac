//! Actyx checks of publish answers, offsets, and queries: bounds, the three orders, the stream-id tie-break, tag expressions.

use std::collections::BTreeMap;

use scenarios::Finding;
use scenarios::actyx::meta;
use scenarios::actyx::order::{Key, Order, is_stream_id, order_findings};
use scenarios::actyx::plans::{
    BatchesPlan, BoundsPlan, TieBreakPlan, batches_plan, bounds_plan, tie_break_plan,
};
use scenarios::actyx::tags::{TAG_NAMES, TagPlan, selected, tag_plan};
use serde_json::{Value, json};

use super::{
    Actyx, Found, Published, clip, generated_property, needs_replicate, now_micros, query_events,
};
use crate::runner::CheckContext;

/// An hour: how far a node's clock may be from the harness's.
const SKEW_MICROS: u64 = 3_600_000_000;

fn no_skip(_ctx: &CheckContext) -> Option<String> {
    None
}

/// Publishes each batch in its own request, after logging in.
async fn publish_batches(
    ax: &mut Actyx,
    batches: &[usize],
) -> Result<Vec<Vec<Published>>, super::Stop> {
    ax.login().await?;
    let mut all = Vec::new();
    let mut first = 0;
    for n in batches {
        all.push(ax.publish_n(first, *n).await?);
        first += n;
    }
    Ok(all)
}

generated_property!(
    PublishResponse,
    meta::PUBLISH_RESPONSE,
    BatchesPlan,
    strategy: batches_plan(),
    cases: |requested| requested.div_ceil(4),
    skip: no_skip,
    run: |ctx: CheckContext, plan: BatchesPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = publish_response(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn publish_response(ax: &mut Actyx, plan: &BatchesPlan) -> Found {
    let before = now_micros();
    let batches = publish_batches(ax, &plan.batches).await?;
    let after = now_micros();
    let mut findings = Vec::new();
    let mut previous: Option<&Published> = None;
    for event in batches.iter().flatten() {
        let key = &event.key;
        if !is_stream_id(&key.stream) {
            findings.push(Finding::new(
                "stream-id",
                format!(
                    "stream {:?} is not <43-character node id>-<number>",
                    key.stream
                ),
            ));
        }
        let plausible = before.saturating_sub(SKEW_MICROS)..=after.saturating_add(SKEW_MICROS);
        if !plausible.contains(&event.timestamp) {
            findings.push(Finding::new(
                "timestamp",
                format!(
                    "timestamp {} is not microseconds since the epoch near the harness's {before}",
                    event.timestamp
                ),
            ));
        }
        if let Some(previous) = previous {
            if key.lamport <= previous.key.lamport {
                findings.push(Finding::new(
                    "nonmonotonic",
                    format!(
                        "lamport {} after {}: later publishes must get higher lamports",
                        key.lamport, previous.key.lamport
                    ),
                ));
            }
            if key.stream == previous.key.stream && key.offset <= previous.key.offset {
                findings.push(Finding::new(
                    "nonmonotonic",
                    format!(
                        "offset {} after {} in stream {}",
                        key.offset, previous.key.offset, key.stream
                    ),
                ));
            }
        }
        previous = Some(event);
    }
    Ok(findings)
}

generated_property!(
    OffsetsPresent,
    meta::OFFSETS_PRESENT,
    BatchesPlan,
    strategy: batches_plan(),
    cases: |requested| requested.div_ceil(4),
    skip: no_skip,
    run: |ctx: CheckContext, plan: BatchesPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = offsets_present(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn offsets_present(ax: &mut Actyx, plan: &BatchesPlan) -> Found {
    let batches = publish_batches(ax, &plan.batches).await?;
    let newest = batches.iter().flatten().map(|p| &p.key).max();
    // A node may take a moment to count what it acknowledged: ask again for up to a second.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    let response = loop {
        let request = ax
            .ctx
            .http
            .get(ax.url("events/offsets"))
            .bearer_auth(ax.token());
        let response = ax.call(request).await?;
        let covered = response.json().is_some_and(|body| {
            newest.is_none_or(|k| body["present"][&k.stream].as_u64() >= Some(k.offset))
        });
        if covered || tokio::time::Instant::now() >= deadline {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let Some(body) = response.json().filter(|_| response.status == 200) else {
        return Ok(vec![Finding::new(
            "status",
            format!(
                "GET events/offsets answered {} {}",
                response.status,
                clip(&response.body)
            ),
        )]);
    };
    let mut findings = Vec::new();
    for event in batches.iter().flatten() {
        let present = body["present"][&event.key.stream].as_u64();
        if present.is_none_or(|p| p < event.key.offset) {
            findings.push(
                Finding::new(
                    "present",
                    format!(
                        "present names {present:?} for {}, below the published offset {}",
                        event.key.stream, event.key.offset
                    ),
                )
                .with_evidence(body["present"].clone()),
            );
        }
    }
    match body["toReplicate"].as_object() {
        Some(map) => {
            for (stream, count) in map {
                if count.as_u64().is_none_or(|c| c == 0) {
                    findings.push(Finding::new(
                        "to-replicate",
                        format!("toReplicate names {count} for {stream}, not a count above 0"),
                    ));
                }
            }
        }
        None => findings.push(Finding::new(
            "to-replicate",
            format!("toReplicate is {}, not an object", body["toReplicate"]),
        )),
    }
    Ok(findings)
}

/// Findings unless a query's events are exactly `expected` (keys, in this order).
fn exact(what: &str, got: &[Key], expected: &[Key]) -> Vec<Finding> {
    if got == expected {
        return Vec::new();
    }
    let show = |keys: &[Key]| {
        keys.iter()
            .map(|k| format!("{}@{}", k.stream, k.offset))
            .collect::<Vec<_>>()
    };
    vec![Finding::new(
        "query-result",
        format!(
            "{what} returned {:?}, expected {:?}",
            show(got),
            show(expected)
        ),
    )]
}

generated_property!(
    QueryBounds,
    meta::QUERY_BOUNDS,
    BoundsPlan,
    strategy: bounds_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: no_skip,
    run: |ctx: CheckContext, plan: BoundsPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = query_bounds(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn query_bounds(ax: &mut Actyx, plan: &BoundsPlan) -> Found {
    let published = publish_batches(ax, &[plan.published]).await?.concat();
    let bound = |index: Option<usize>| {
        index.map(|i| {
            let key = &published[i].key;
            json!({ &key.stream: key.offset })
        })
    };
    let mut body = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
    if let Some(lower) = bound(plan.lower) {
        body["lowerBound"] = lower;
    }
    if let Some(upper) = bound(plan.upper) {
        body["upperBound"] = upper;
    }
    let lines = ax.query(&body).await?;
    let what = format!("the query {body}");
    let (events, mut findings) = query_events(&what, &lines);
    let got: Vec<Key> = events.iter().map(|e| e.key.clone()).collect();
    let expected: Vec<Key> = plan
        .expected()
        .iter()
        .map(|i| published[*i].key.clone())
        .collect();
    findings.extend(exact(&what, &got, &expected));
    Ok(findings)
}

generated_property!(
    QueryOrders,
    meta::QUERY_ORDERS,
    BatchesPlan,
    strategy: batches_plan(),
    cases: |requested| requested.div_ceil(4),
    skip: no_skip,
    run: |ctx: CheckContext, plan: BatchesPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = match publish_batches(&mut ax, &plan.batches).await {
            Ok(batches) => {
                let keys: Vec<Key> = batches.concat().into_iter().map(|p| p.key).collect();
                orders(&ax, &keys, &[Order::Asc, Order::Desc, Order::StreamAsc]).await
            }
            Err(stop) => Err(stop),
        };
        ax.finish(found)
    }
);

/// Queries the case's tag in each order: the same events as `keys`, sorted as the order says.
async fn orders(ax: &Actyx, keys: &[Key], which: &[Order]) -> Found {
    let mut findings = Vec::new();
    let mut sorted = keys.to_vec();
    sorted.sort();
    for order in which {
        let body = json!({"query": format!("FROM '{}'", ax.tag("")), "order": order.name()});
        let lines = ax.query(&body).await?;
        let what = format!("the query {body}");
        let (events, found) = query_events(&what, &lines);
        findings.extend(found);
        let got: Vec<Key> = events.iter().map(|e| e.key.clone()).collect();
        let mut same = got.clone();
        same.sort();
        findings.extend(exact(&format!("{what} (as a set)"), &same, &sorted));
        findings.extend(order_findings(*order, &got));
    }
    Ok(findings)
}

generated_property!(
    TieBreak,
    meta::TIE_BREAK,
    TieBreakPlan,
    strategy: tie_break_plan(),
    cases: |requested| requested.div_ceil(4),
    skip: needs_replicate,
    run: |ctx: CheckContext, plan: TieBreakPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = tie_break(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn tie_break(ax: &mut Actyx, plan: &TieBreakPlan) -> Found {
    ax.login().await?;
    let mut keys = Vec::new();
    for (i, lamports) in plan.streams.iter().enumerate() {
        let stream = ax.foreign_stream(i);
        let events: Vec<Value> = (0u64..)
            .zip(lamports)
            .map(|(offset, lamport)| {
                keys.push(Key {
                    lamport: *lamport,
                    stream: stream.clone(),
                    offset,
                });
                json!({"offset": offset, "lamport": lamport, "tags": [ax.tag("")], "payload": {"s": i}})
            })
            .collect();
        ax.replicate(&stream, &events).await?;
    }
    let mut findings = orders(ax, &keys, &[Order::Asc, Order::Desc]).await?;
    findings.extend(named_streams_only(ax, &keys).await?);
    Ok(findings)
}

/// An upperBound naming the first stream alone returns that stream's events only.
async fn named_streams_only(ax: &Actyx, keys: &[Key]) -> Found {
    let first = ax.foreign_stream(0);
    let mut expected: Vec<Key> = keys.iter().filter(|k| k.stream == first).cloned().collect();
    expected.sort();
    let Some(newest) = expected.iter().map(|k| k.offset).max() else {
        return Ok(Vec::new());
    };
    let body = json!({
        "query": format!("FROM '{}'", ax.tag("")),
        "order": "asc",
        "upperBound": { &first: newest },
    });
    let lines = ax.query(&body).await?;
    let what = format!("the query {body} (one stream named)");
    let (events, mut findings) = query_events(&what, &lines);
    let got: Vec<Key> = events.into_iter().map(|e| e.key).collect();
    findings.extend(exact(&what, &got, &expected));
    Ok(findings)
}

generated_property!(
    TagExpressions,
    meta::TAG_EXPRESSIONS,
    TagPlan,
    strategy: tag_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: no_skip,
    run: |ctx: CheckContext, plan: TagPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = tag_expressions(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn tag_expressions(ax: &mut Actyx, plan: &TagPlan) -> Found {
    ax.login().await?;
    let case = ax.tag("");
    let name = |i: u8| ax.tag(TAG_NAMES[usize::from(i)]);
    let events: Vec<(Vec<String>, Value)> = plan
        .events
        .iter()
        .enumerate()
        .map(|(n, tags)| {
            let mut all = vec![case.clone()];
            all.extend(tags.iter().map(|t| name(*t)));
            (all, json!({ "n": n }))
        })
        .collect();
    let published = ax.publish(&events).await?;
    let mut findings = Vec::new();
    for expr in &plan.exprs {
        let text = expr.render(&name);
        let body = json!({"query": format!("FROM '{case}' & ({text})"), "order": "asc"});
        let lines = ax.query(&body).await?;
        let what = format!("the query {body}");
        let (got, found) = query_events(&what, &lines);
        findings.extend(found);
        let got: BTreeMap<Key, Value> = got.into_iter().map(|e| (e.key, e.payload)).collect();
        let expected: BTreeMap<Key, Value> = selected(&plan.events, expr)
            .into_iter()
            .map(|i| (published[i].key.clone(), published[i].payload.clone()))
            .collect();
        if got != expected {
            findings.push(
                Finding::new(
                    "tag-expression",
                    format!(
                        "FROM {text} selected events {}, a brute-force filter selects {}",
                        Value::from(got.into_values().collect::<Vec<_>>()),
                        Value::from(expected.into_values().collect::<Vec<_>>())
                    ),
                )
                .with_evidence(json!({"events": plan.events, "expression": text})),
            );
        }
    }
    Ok(findings)
}
