//! `pulse/events/unique-ids`: no two events share an id, even when many are published in one millisecond.

use std::collections::{BTreeMap, BTreeSet};

use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::plans::{Change, Identity};
use serde_json::json;

use super::{PROMPT, Pulse, create, deliveries, fixed_property, needs_producer, read_until};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(UniqueIds, meta::UNIQUE_IDS, skip: needs_producer);

impl UniqueIds {
    /// Concurrent publishers, each making this many creates back to back,
    /// so that many events land in one millisecond, where an id minted from
    /// the clock alone would repeat.
    const LANES: u32 = 4;
    const PER_LANE: u32 = 40;

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Ids");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("ids");
        or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
        let lanes = (0..Self::LANES).map(|lane| {
            let changes: Vec<Change> = (0..Self::PER_LANE)
                .map(|k| create(lane * Self::PER_LANE + k))
                .collect();
            let pulse = &pulse;
            let model = &model;
            async move { pulse.changes(model, &changes).await }
        });
        for lane in futures_util::future::join_all(lanes).await {
            lane?;
        }
        let stop = pulse
            .change(&model, &create(Self::LANES * Self::PER_LANE))
            .await?;
        let budget = 2 * (Self::LANES * Self::PER_LANE) as usize + 4;
        let mut stream = or_stop!(pulse, pulse.consume_ok(pulse.base(), &name, None).await);
        let events = read_until(&mut stream, &stop, budget, PROMPT).await;
        drop(stream);
        pulse.delete_stream(&name).await?;
        pulse.done(shared_ids(&deliveries(&events)).into_iter().collect())
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
