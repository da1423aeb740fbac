//! Actyx checks of the live feeds: subscribe's catch-up / `offsets` / live seam, and subscribe_monotonic's `caughtUp`, `timeTravel` and session resume.

use std::collections::BTreeMap;

use scenarios::Finding;
use scenarios::actyx::lines::{EventLine, FeedLine};
use scenarios::actyx::meta;
use scenarios::actyx::order::Key;
use scenarios::actyx::plans::{ResumePlan, SeamPlan, exactly_once, resume_plan, seam_plan};
use serde_json::{Value, json};

use super::feed::Feed;
use super::{
    Actyx, Found, PROMPT, Published, bound_after, delivered, fixed_property, generated_property,
    needs_replicate,
};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fn no_skip(_ctx: &CheckContext) -> Option<String> {
    None
}

/// Reads events until `last` arrives or a quiet `PROMPT`; other lines are findings.
pub(super) async fn read_until(
    feed: &mut Feed,
    last: &Key,
    into: &mut Vec<EventLine>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let deadline = tokio::time::Instant::now() + PROMPT;
    while !into.iter().any(|e| &e.key == last) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match feed.next_significant(left).await {
            Some(FeedLine::Event(event)) => into.push(event),
            Some(other) => findings.push(Finding::new(
                "feed-line",
                format!("while live, the feed sent {other:?}"),
            )),
            None => break,
        }
    }
    findings
}

/// Findings unless the `offsets` line covers every published offset.
fn marker_covers(offsets: &BTreeMap<String, u64>, published: &[Published]) -> Vec<Finding> {
    published
        .iter()
        .filter(|p| offsets.get(&p.key.stream).is_none_or(|o| *o < p.key.offset))
        .map(|p| {
            Finding::new(
                "offsets-marker",
                format!(
                    "the offsets line names {:?} for {}, below the offset {} published before the subscription",
                    offsets.get(&p.key.stream),
                    p.key.stream,
                    p.key.offset
                ),
            )
        })
        .collect()
}

generated_property!(
    SubscribeSeam,
    meta::SUBSCRIBE_SEAM,
    SeamPlan,
    strategy: seam_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: no_skip,
    run: |ctx: CheckContext, plan: SeamPlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = seam(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn seam(ax: &mut Actyx, plan: &SeamPlan) -> Found {
    ax.login().await?;
    let mut published = Vec::new();
    if plan.before > 0 {
        published.extend(ax.publish_n(0, plan.before).await?);
    }
    let query = json!({ "query": format!("FROM '{}'", ax.tag("")) });
    let mut feed = ax.open_ok("events/subscribe", &query).await?;
    let (catch_up, offsets) = feed.until_offsets(PROMPT).await?;
    let mut findings = marker_covers(&offsets, &published);
    let got: Vec<&Key> = catch_up.iter().map(|e| &e.key).collect();
    let want: Vec<&Key> = published.iter().map(|p| &p.key).collect();
    if got != want {
        findings.push(Finding::new(
            "catch-up",
            format!(
                "before the offsets line came {got:?}, not the {} event(s) published before",
                want.len()
            ),
        ));
    }
    let mut first = plan.before;
    for n in &plan.after {
        published.extend(ax.publish_n(first, *n).await?);
        first += n;
    }
    let mut events = catch_up;
    if let Some(last) = published.last() {
        findings.extend(read_until(&mut feed, &last.key, &mut events).await);
    }
    let expected: Vec<(Key, String)> = published.iter().map(Published::delivery).collect();
    let deliveries = events.iter().map(delivered).collect();
    findings.extend(exactly_once(
        &expected,
        vec![(feed.conn, None, deliveries)],
        true,
    ));
    Ok(findings)
}

/// `{session, query, lowerBound}` for the case's tag.
fn monotonic(ax: &Actyx, lower: &BTreeMap<String, u64>) -> Value {
    json!({
        "session": format!("harness-{}", ax.nonce),
        "query": format!("FROM '{}'", ax.tag("")),
        "lowerBound": lower,
    })
}

fixed_property!(CaughtUp, meta::CAUGHT_UP);

impl CaughtUp {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        ax.publish_n(0, 3).await?;
        let mut feed = ax
            .open_ok(
                "events/subscribe_monotonic",
                &monotonic(ax, &BTreeMap::new()),
            )
            .await?;
        let (catch_up, _) = feed.until_offsets(PROMPT).await?;
        let mut findings = Vec::new();
        let last = catch_up.len().saturating_sub(1);
        for (i, event) in catch_up.iter().enumerate() {
            // Known events remain after every catch-up event but the last,
            // whose flag depends on whether the node counts it as exhausted.
            let ok = match event.caught_up {
                Some(Some(flag)) => i == last || !flag,
                _ => false,
            };
            if !ok {
                findings.push(Finding::new(
                    "caught-up",
                    format!(
                        "catch-up event {} of {} ({}@{}) has caughtUp {:?}, not false, though known events remain",
                        i + 1,
                        catch_up.len(),
                        event.key.stream,
                        event.key.offset,
                        event.caught_up
                    ),
                ));
            }
        }
        let live = ax.publish_n(3, 1).await?;
        let mut events = Vec::new();
        findings.extend(read_until(&mut feed, &live[0].key, &mut events).await);
        match events.iter().find(|e| e.key == live[0].key) {
            Some(event) if event.caught_up == Some(Some(true)) => {}
            Some(event) => findings.push(Finding::new(
                "caught-up",
                format!(
                    "the one live event, with nothing else to deliver, has caughtUp {:?}, not true",
                    event.caught_up
                ),
            )),
            None => findings.push(Finding::new(
                "lost",
                format!(
                    "the live event published after the offsets line never arrived within {} ({})",
                    humantime::format_duration(PROMPT),
                    feed.closed.as_deref().unwrap_or("the feed is still open")
                ),
            )),
        }
        Ok(findings)
    }
}

fixed_property!(TimeTravel, meta::TIME_TRAVEL, skip: Self::skip);

impl TimeTravel {
    fn skip(ctx: &CheckContext) -> Option<String> {
        needs_replicate(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let local = ax.publish_n(0, 1).await?;
        let mut feed = ax
            .open_ok(
                "events/subscribe_monotonic",
                &monotonic(ax, &BTreeMap::new()),
            )
            .await?;
        feed.until_offsets(PROMPT).await?;
        // An event of another node that sorts just before the one delivered.
        let stream = ax.foreign_stream(0);
        let lamport = local[0].key.lamport.saturating_sub(1);
        let event = json!({"offset": 0, "lamport": lamport, "tags": [ax.tag("")], "payload": {"foreign": true}});
        ax.replicate(&stream, &[event]).await?;
        let want = Key {
            lamport,
            stream,
            offset: 0,
        };
        let mut findings = Vec::new();
        match feed.next_significant(PROMPT).await {
            Some(FeedLine::TimeTravel(start)) if start == want => {}
            other => {
                findings.push(Finding::new(
                    "time-travel",
                    format!("after an earlier event became known, the feed sent {other:?}, not timeTravel with newStart {want:?}"),
                ));
                return Ok(findings);
            }
        }
        let (ended, extra) = feed.ends_within_reading(PROMPT).await;
        if !ended || !extra.is_empty() {
            findings.push(Finding::new(
                "time-travel-open",
                format!(
                    "after timeTravel the feed stayed open ({} more line(s)) instead of closing",
                    extra.len()
                ),
            ));
        }
        Ok(findings)
    }
}

generated_property!(
    SessionResume,
    meta::SESSION_RESUME,
    ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: no_skip,
    run: |ctx: CheckContext, plan: ResumePlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = resume(&mut ax, &plan).await;
        ax.finish(found)
    }
);

async fn resume(ax: &mut Actyx, plan: &ResumePlan) -> Found {
    ax.login().await?;
    let mut published = ax.publish_n(0, plan.before).await?;
    let mut findings = Vec::new();
    let mut feed = ax
        .open_ok(
            "events/subscribe_monotonic",
            &monotonic(ax, &BTreeMap::new()),
        )
        .await?;
    let (first, lower) = if plan.at_offsets {
        feed.until_offsets(PROMPT).await?
    } else {
        let mut first = Vec::new();
        let want = &published[plan.read - 1].key;
        findings.extend(read_until(&mut feed, want, &mut first).await);
        let lower = bound_after(first.iter().map(|e| &e.key));
        (first, lower)
    };
    let first_conn = feed.conn;
    drop(feed);
    if plan.after > 0 {
        published.extend(ax.publish_n(plan.before, plan.after).await?);
    }
    let mut feed = ax
        .open_ok("events/subscribe_monotonic", &monotonic(ax, &lower))
        .await?;
    let (mut second, _) = feed.until_offsets(PROMPT).await?;
    // A sentinel, live, so that the read ends as soon as everything is in.
    let sentinel = ax.publish_n(plan.before + plan.after, 1).await?;
    findings.extend(read_until(&mut feed, &sentinel[0].key, &mut second).await);
    published.extend(sentinel);
    let expected: Vec<(Key, String)> = published.iter().map(Published::delivery).collect();
    let resumed_after = first.last().map(|e| e.key.clone());
    findings.extend(exactly_once(
        &expected,
        vec![
            (first_conn, None, first.iter().map(delivered).collect()),
            (
                feed.conn,
                resumed_after.as_ref(),
                second.iter().map(delivered).collect(),
            ),
        ],
        true,
    ));
    if second.iter().any(|e| e.caught_up.is_none()) {
        findings.push(Finding::new(
            "caught-up",
            "a resumed session's event has no caughtUp",
        ));
    }
    Ok(findings)
}
