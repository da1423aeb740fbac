//! The Actyx check that delivered events carry what was published: keys, timestamp, tags, payload, and the publishing app's `appId`, on every feed.

use std::collections::BTreeSet;

use scenarios::Finding;
use scenarios::actyx::lines::EventLine;
use scenarios::actyx::meta;
use serde_json::{Value, json};

use super::feed::Feed;
use super::{Actyx, Found, NDJSON, PROMPT, Published, fixed_property, query_events};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(EventFields, meta::EVENT_FIELDS);

impl EventFields {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let (case, x, y) = (ax.tag(""), ax.tag("x"), ax.tag("y"));
        let events = vec![
            (vec![case.clone()], json!({"n": 0})),
            (
                vec![case.clone(), x, y.clone()],
                json!({"n": 1, "nested": {"list": [1, "two", null], "flag": true}}),
            ),
            (vec![case.clone(), y], json!({"n": 2, "text": "ünïcödé"})),
        ];
        let published = ax.publish(&events).await?;
        let app_id = ax.ctx.credentials.actyx_app_id.clone();
        let query = format!("FROM '{case}'");
        let mut findings = Vec::new();

        let body = json!({"query": query, "order": "asc"});
        let mut feed = ax.open_ok("events/query", &body).await?;
        findings.extend(content_type("query", &feed));
        let (_, lines) = feed.ends_within_reading(PROMPT).await;
        let (got, found) = query_events("query", &lines);
        findings.extend(found);
        findings.extend(compare("query", &got, &published, &app_id));

        // No lowerBound: from the beginning.
        let body = json!({ "query": query });
        let mut feed = ax.open_ok("events/subscribe", &body).await?;
        findings.extend(content_type("subscribe", &feed));
        let (got, _) = feed.until_offsets(PROMPT).await?;
        findings.extend(compare("subscribe", &got, &published, &app_id));

        // An empty lowerBound, which the real node needs.
        let session = format!("harness-{}", ax.nonce);
        let body = json!({"session": session, "query": query, "lowerBound": {}});
        let mut feed = ax.open_ok("events/subscribe_monotonic", &body).await?;
        findings.extend(content_type("subscribe_monotonic", &feed));
        let (got, _) = feed.until_offsets(PROMPT).await?;
        findings.extend(compare("subscribe_monotonic", &got, &published, &app_id));
        Ok(findings)
    }
}

/// A finding unless the feed is `application/x-ndjson`.
fn content_type(what: &str, feed: &Feed) -> Option<Finding> {
    let ndjson = feed
        .header("content-type")
        .is_some_and(|t| t.starts_with(NDJSON));
    (!ndjson).then(|| {
        Finding::new(
            "content-type",
            format!(
                "{what} answered Content-Type {:?}, not {NDJSON}",
                feed.header("content-type")
            ),
        )
    })
}

/// Findings unless `got` holds each published event once, with the fields it was published with.
fn compare(what: &str, got: &[EventLine], published: &[Published], app_id: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for event in published {
        let matching: Vec<&EventLine> = got.iter().filter(|e| e.key == event.key).collect();
        let [line] = matching[..] else {
            findings.push(Finding::new(
                "delivered",
                format!(
                    "{what} delivered the event {}@{} {} time(s), not once",
                    event.key.stream,
                    event.key.offset,
                    matching.len()
                ),
            ));
            continue;
        };
        let mut wrong = Vec::new();
        if line.timestamp != event.timestamp {
            wrong.push(format!(
                "timestamp {} (publish answered {})",
                line.timestamp, event.timestamp
            ));
        }
        let tags: BTreeSet<&String> = line.tags.iter().collect();
        if tags != event.tags.iter().collect() {
            wrong.push(format!("tags {:?} (published {:?})", line.tags, event.tags));
        }
        if line.app_id != app_id {
            wrong.push(format!("appId {:?} (published by {app_id:?})", line.app_id));
        }
        if line.payload != event.payload {
            wrong.push(format!(
                "payload {} (published {})",
                line.payload, event.payload
            ));
        }
        if !wrong.is_empty() {
            findings.push(
                Finding::new(
                    "event-fields",
                    format!(
                        "{what} delivered {}@{} with {}",
                        event.key.stream,
                        event.key.offset,
                        wrong.join(", ")
                    ),
                )
                .with_evidence(Value::from(event.tags.clone())),
            );
        }
    }
    let extra = got
        .iter()
        .filter(|e| !published.iter().any(|p| p.key == e.key))
        .count();
    if extra > 0 {
        findings.push(Finding::new(
            "unexpected",
            format!("{what} delivered {extra} event(s) the case did not publish"),
        ));
    }
    findings
}
