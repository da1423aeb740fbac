//! Actyx checks of where a feed starts: subscribe from a `lowerBound` (how a plain subscriber resumes), and subscribe_monotonic without one.

use scenarios::Finding;
use scenarios::actyx::meta;
use scenarios::actyx::order::Key;
use scenarios::actyx::plans::{ResumePlan, resume_plan};
use serde_json::json;

use super::live::read_until;
use super::{Actyx, Found, PROMPT, Published, bound_after, fixed_property, generated_property};
use crate::client::actyx;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fn no_skip(_ctx: &CheckContext) -> Option<String> {
    None
}

/// Keys as `stream@offset`, for messages.
fn show<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Vec<String> {
    keys.into_iter()
        .map(|k| format!("{}@{}", k.stream, k.offset))
        .collect()
}

generated_property!(
    SubscribeLowerBound,
    meta::SUBSCRIBE_LOWER_BOUND,
    ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.div_ceil(2),
    skip: no_skip,
    run: |ctx: CheckContext, plan: ResumePlan| async move {
        let mut ax = Actyx::new(&ctx);
        let found = lower_bound(&mut ax, &plan).await;
        ax.finish(found)
    }
);

/// Publishes `before` events, subscribes after the first `read` of them,
/// then publishes `after` more and a sentinel live: the feed must send
/// exactly the events after the bound, in order, the catch-up ones before
/// its `offsets` line.
async fn lower_bound(ax: &mut Actyx, plan: &ResumePlan) -> Found {
    ax.login().await?;
    let published = ax.publish_n(0, plan.before).await?;
    let bound = bound_after(published[..plan.read].iter().map(|p| &p.key));
    let body = actyx::subscribe(&format!("FROM '{}'", ax.tag("")), Some(&bound));
    let mut feed = ax.open_ok("events/subscribe", &body).await?;
    let (catch_up, _) = feed.until_offsets(PROMPT).await?;
    let mut findings = Vec::new();
    let want: Vec<&Key> = published[plan.read..].iter().map(|p| &p.key).collect();
    let got: Vec<&Key> = catch_up.iter().map(|e| &e.key).collect();
    if got != want {
        findings.push(Finding::new(
            "catch-up",
            format!(
                "subscribe with lowerBound {bound:?} caught up with {:?}, not the {} event(s) after the bound {:?}",
                show(got),
                want.len(),
                show(want)
            ),
        ));
    }
    // The last one is the sentinel: once it is in, everything is.
    let live = ax.publish_n(plan.before, plan.after + 1).await?;
    let mut events = catch_up;
    if let Some(last) = live.last() {
        findings.extend(read_until(&mut feed, &last.key, &mut events).await);
    }
    let expected: Vec<(Key, String)> = published[plan.read..]
        .iter()
        .chain(&live)
        .map(Published::delivery)
        .collect();
    let delivered: Vec<(Key, String)> = events.iter().map(super::delivered).collect();
    if delivered != expected {
        findings.push(Finding::new(
            "resume",
            format!(
                "subscribe with lowerBound {bound:?} delivered {:?}, expected exactly {:?} in this order",
                show(delivered.iter().map(|(k, _)| k)),
                show(expected.iter().map(|(k, _)| k))
            ),
        ));
    }
    Ok(findings)
}

fixed_property!(MonotonicLowerOptional, meta::MONOTONIC_LOWER_OPTIONAL);

impl MonotonicLowerOptional {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    /// One session id, two queries, neither with a lowerBound: each
    /// catch-up must hold all its query's events, from the beginning.
    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let (a, b) = (ax.tag("a"), ax.tag("b"));
        let events: Vec<(Vec<String>, serde_json::Value)> = (0..4)
            .map(|n| {
                let which = if n % 2 == 0 { &a } else { &b };
                (vec![ax.tag(""), which.clone()], json!({ "n": n }))
            })
            .collect();
        let published = ax.publish(&events).await?;
        let session = format!("harness-{}", ax.nonce);
        let mut findings = Vec::new();
        for (round, tag) in [a, b].iter().enumerate() {
            let body = json!({"session": session, "query": format!("FROM '{tag}'")});
            let mut feed = ax.open_ok("events/subscribe_monotonic", &body).await?;
            let (catch_up, _) = feed.until_offsets(PROMPT).await?;
            let want: Vec<&Key> = published
                .iter()
                .filter(|p| p.tags.contains(tag))
                .map(|p| &p.key)
                .collect();
            let got: Vec<&Key> = catch_up.iter().map(|e| &e.key).collect();
            if got != want {
                let when = if round == 0 {
                    "a new session"
                } else {
                    "the same session id with another query"
                };
                findings.push(Finding::new(
                    "lower-bound-default",
                    format!(
                        "subscribe_monotonic without lowerBound ({when}) caught up with {:?}, not every matching event from the beginning {:?}",
                        show(got),
                        show(want)
                    ),
                ));
            }
        }
        Ok(findings)
    }
}
