//! Pulse checks of event ids under a burst of changes: no two events share an id, and ids increase with delivery order.
//!
//! Both publish [`LANES`] × [`PER_LANE`] creates from concurrent publishers,
//! so that many events land in one millisecond, where an id minted from the
//! clock alone would repeat and a ULID's random part would sort at random.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::plans::{Change, Identity};
use scenarios::pulse::shape;
use serde_json::json;
use wire::sse::SseEvent;

use super::{
    PROMPT, Pulse, create, deliveries, event_id, fixed_property, needs_producer, read_until,
};
use crate::checks::case::{Stop, or_stop};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Concurrent publishers.
const LANES: u32 = 4;
/// Creates each publisher makes back to back.
const PER_LANE: u32 = 40;

/// What a burst came to: the ids the writes returned, the sentinel's last,
/// and what the named stream delivered up to the sentinel.
struct Burst {
    published: Vec<String>,
    events: Vec<SseEvent>,
}

/// Makes a model and a named stream of it (their names after `role`), the
/// burst of creates and then a sentinel, and reads the stream up to it.
async fn burst(pulse: &Pulse, role: &str) -> Result<Result<Burst, Stop>, String> {
    let model = pulse.model_name(role);
    pulse.declare_model(&model, Identity::Default).await?;
    let name = pulse.stream_name(&role.to_lowercase());
    if let Err(stop) = pulse.create_stream_ok(&name, &model, None).await {
        return Ok(Err(stop));
    }
    let lanes = (0..LANES).map(|lane| {
        let changes: Vec<Change> = (0..PER_LANE).map(|k| create(lane * PER_LANE + k)).collect();
        let model = &model;
        async move { pulse.changes(model, &changes).await }
    });
    let mut published: Vec<String> = Vec::new();
    for lane in futures_util::future::join_all(lanes).await {
        published.extend(lane?);
    }
    let stop = pulse.change(&model, &create(LANES * PER_LANE)).await?;
    published.push(stop.clone());
    let mut stream = match pulse.consume_ok(pulse.base(), &name, None).await {
        Ok(stream) => stream,
        Err(stop) => return Ok(Err(stop)),
    };
    let events = read_until(&mut stream, &stop, 2 * published.len() + 2, PROMPT).await;
    drop(stream);
    pulse.delete_stream(&name).await?;
    Ok(Ok(Burst { published, events }))
}

fixed_property!(UniqueIds, meta::UNIQUE_IDS, skip: needs_producer);

impl UniqueIds {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let burst = or_stop!(pulse, burst(&pulse, "Ids").await?);
        pulse.done(shared_ids(&deliveries(&burst.events)).into_iter().collect())
    }
}

/// A finding when one id carried different events. A named stream may
/// deliver an event again (at least once), so the same id with the same
/// content is no evidence; the same id on two rows' creates is.
fn shared_ids(delivered: &[(String, String)]) -> Option<Finding> {
    let mut contents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, content) in delivered {
        contents.entry(id).or_default().insert(content);
    }
    let shared: Vec<(&str, usize)> = contents
        .iter()
        .filter(|(_, events)| events.len() > 1)
        .map(|(id, events)| (*id, events.len()))
        .collect();
    let (first, count) = shared.first()?;
    let message = format!(
        "{} ids each carried more than one event (the seed: \"Unique ULID identifier for the event\"); {first} carried {count}",
        shared.len()
    );
    let evidence = json!({"shared": shared.iter().take(10).collect::<Vec<_>>()});
    Some(Finding::new("unique-id", message).with_evidence(evidence))
}

fixed_property!(UlidOrder, meta::ULID_ORDER, skip: needs_producer);

impl UlidOrder {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let burst = or_stop!(pulse, burst(&pulse, "Order").await?);
        let delivered: Vec<String> = burst.events.iter().filter_map(event_id).collect();
        let mut findings: Vec<Finding> = not_ulids(&delivered).into_iter().collect();
        findings.extend(backwards(&delivered));
        findings.extend(lost(&burst.published, &delivered));
        pulse.done(findings)
    }
}

fn not_ulids(delivered: &[String]) -> Option<Finding> {
    let malformed: Vec<&String> = delivered.iter().filter(|id| !shape::is_ulid(id)).collect();
    if malformed.is_empty() {
        return None;
    }
    let message = format!("{} event ids are not ULIDs", malformed.len());
    Some(Finding::new("ulid", message).with_evidence(json!({ "ids": malformed })))
}

fn backwards(delivered: &[String]) -> Option<Finding> {
    let backwards: Vec<(&String, &String)> = delivered
        .windows(2)
        .filter(|pair| pair[1] <= pair[0])
        .map(|pair| (&pair[0], &pair[1]))
        .collect();
    let (before, after) = backwards.first()?;
    let message = format!(
        "{} times an id did not increase over the one delivered before it, first {after} after {before}",
        backwards.len()
    );
    let evidence = json!({ "pairs": backwards.iter().take(10).collect::<Vec<_>>() });
    Some(Finding::new("ulid-order", message).with_evidence(evidence))
}

fn lost(published: &[String], delivered: &[String]) -> Option<Finding> {
    let got: HashSet<&String> = delivered.iter().collect();
    let missing: Vec<&String> = published.iter().filter(|id| !got.contains(id)).collect();
    if missing.is_empty() {
        return None;
    }
    let message = format!(
        "{} of {} published events never arrived",
        missing.len(),
        published.len()
    );
    let evidence = json!({ "missing": missing.iter().take(10).collect::<Vec<_>>() });
    Some(Finding::new("lost", message).with_evidence(evidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(id, content)| ((*id).to_owned(), (*content).to_owned()))
            .collect()
    }

    #[test]
    fn a_redelivered_event_is_no_finding_but_two_events_under_one_id_are() {
        let again = delivered(&[("A", "row 1"), ("B", "row 2"), ("A", "row 1")]);
        assert_eq!(shared_ids(&again), None);
        let shared = delivered(&[("A", "row 1"), ("A", "row 2"), ("B", "row 3")]);
        let finding = shared_ids(&shared).expect("a finding");
        assert_eq!(finding.kind, "unique-id");
        assert!(finding.message.starts_with("1 ids"), "{}", finding.message);
    }
}
