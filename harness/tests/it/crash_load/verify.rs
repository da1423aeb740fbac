//! What must hold after the crashes, checked with the delivery oracle: nothing acknowledged lost, no position reused, every cursor resumes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scenarios::delivery::{self, Connection, Expected, Observation, Promise, Start};

use super::positions::Pos;
use super::rounds::Record;

/// Exactly once, in log order: what a read of a durable log owes.
const EXACTLY_ONCE: Promise = Promise {
    at_least_once: true,
    at_most_once: true,
    ordered: true,
};

/// The numbers a run reports, and everything that broke.
#[derive(Debug, Default)]
pub struct Summary {
    pub acknowledged: usize,
    /// Events stored though their publish was never answered (in flight at a kill).
    pub kept_unacknowledged: usize,
    /// Events acknowledged or seen live, missing after the restarts.
    pub lost: usize,
    /// Positions handed to two events.
    pub reused: usize,
    pub cursors: usize,
    pub cursors_resumed: usize,
    pub violations: Vec<String>,
}

pub fn verify(record: &Record) -> Summary {
    let mut summary = Summary {
        acknowledged: record.acks.len(),
        cursors: record.cursors.len(),
        violations: record.troubles.clone(),
        ..Summary::default()
    };
    let truth = record.truth.as_slice();
    acks_unique_and_monotonic(record, &mut summary);
    log_unique_and_monotonic(truth, &mut summary);
    everything_kept(record, truth, &mut summary);
    cursors_resume(record, truth, &mut summary);
    summary
}

/// No two acknowledgements name one position, and each restart's
/// acknowledgements come after all the earlier rounds'.
fn acks_unique_and_monotonic(record: &Record, summary: &mut Summary) {
    let mut owners: HashMap<&str, u64> = HashMap::new();
    for ack in &record.acks {
        if let Some(other) = owners.insert(&ack.unique, ack.k) {
            summary.reused += 1;
            summary.violations.push(format!(
                "{} was acknowledged for event {other} and again for event {}",
                ack.unique, ack.k
            ));
        }
    }
    let mut rounds: BTreeMap<u32, (&str, &str)> = BTreeMap::new();
    for ack in &record.acks {
        let entry = rounds.entry(ack.round).or_insert((&ack.order, &ack.order));
        entry.0 = entry.0.min(&ack.order);
        entry.1 = entry.1.max(&ack.order);
    }
    let mut before: Option<(u32, &str)> = None;
    for (round, (low, high)) in rounds {
        if let Some((earlier, newest)) = before
            && low <= newest
        {
            summary.violations.push(format!(
                "after restart {round} an event was acknowledged at {low}, not after round {earlier}'s {newest}"
            ));
        }
        if before.is_none_or(|(_, newest)| high > newest) {
            before = Some((round, high));
        }
    }
}

/// The log read from the start holds each event once, at strictly growing positions.
fn log_unique_and_monotonic(truth: &[(u64, Pos)], summary: &mut Summary) {
    let mut events = BTreeSet::new();
    for (k, _) in truth {
        if !events.insert(*k) {
            summary
                .violations
                .push(format!("event {k} is in the log twice"));
        }
    }
    for pair in truth.windows(2) {
        let ((a, at_a), (b, at_b)) = (&pair[0], &pair[1]);
        if at_a.stream == at_b.stream && at_b.n <= at_a.n {
            if at_b.n == at_a.n {
                summary.reused += 1;
            }
            summary.violations.push(format!(
                "the log holds event {b} at {at_b} after event {a} at {at_a}"
            ));
        }
    }
}

/// Every acknowledged event, and every event a subscriber saw before a
/// kill, is in the log exactly once, where it was acknowledged or seen.
fn everything_kept(record: &Record, truth: &[(u64, Pos)], summary: &mut Summary) {
    let stored: HashMap<u64, &Pos> = truth.iter().map(|(k, at)| (*k, at)).collect();
    let mut known: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for ack in &record.acks {
        known.insert(ack.k, ack.at.as_ref().map(Pos::to_string));
    }
    for (k, round, at) in &record.seen {
        let at = at.to_string();
        match known.get(k) {
            Some(Some(acked)) if *acked != at => summary.violations.push(format!(
                "event {k} was acknowledged at {acked} but delivered at {at} before kill {round}"
            )),
            Some(Some(_)) => {}
            _ => {
                known.insert(*k, Some(at));
            }
        }
    }
    summary.kept_unacknowledged = truth.iter().filter(|(k, _)| !known.contains_key(k)).count();
    // In log order; what is missing goes last.
    let mut order: Vec<u64> = truth
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| known.contains_key(k))
        .collect();
    let missing: Vec<u64> = known
        .keys()
        .copied()
        .filter(|k| !stored.contains_key(k))
        .collect();
    summary.lost = missing.len();
    if !missing.is_empty() {
        summary.violations.push(format!(
            "{} acknowledged or delivered event(s) lost: {}",
            missing.len(),
            list(&missing)
        ));
    }
    order.extend(missing);
    let expected = order
        .iter()
        .map(|k| Expected {
            id: k.to_string(),
            content: known[k]
                .clone()
                .or_else(|| stored.get(k).map(|at| at.to_string()))
                .unwrap_or_default(),
        })
        .collect();
    let delivered = truth
        .iter()
        .filter(|(k, _)| known.contains_key(k))
        .map(|(k, at)| (k.to_string(), at.to_string()))
        .collect();
    oracle(
        record,
        expected,
        delivered,
        "the log read from the start",
        summary,
    );
}

/// Each cursor a subscriber held before a kill resumes, after all the
/// restarts, with exactly the events after the one it was taken at.
fn cursors_resume(record: &Record, truth: &[(u64, Pos)], summary: &mut Summary) {
    for (cursor, resumed) in record.cursors.iter().zip(&record.resumed) {
        let what = format!(
            "the cursor after event {} (round {})",
            cursor.after, cursor.round
        );
        let Some(index) = truth.iter().position(|(k, _)| *k == cursor.after) else {
            summary
                .violations
                .push(format!("{what}: its event is not in the log"));
            continue;
        };
        let resumed = match resumed {
            Ok(resumed) => resumed,
            Err(e) => {
                summary
                    .violations
                    .push(format!("{what} did not resume: {e}"));
                continue;
            }
        };
        let expected = truth[index + 1..]
            .iter()
            .map(|(k, at)| Expected {
                id: k.to_string(),
                content: at.to_string(),
            })
            .collect();
        let delivered = resumed
            .iter()
            .map(|(k, at)| (k.to_string(), at.to_string()))
            .collect();
        if oracle(record, expected, delivered, &what, summary) {
            summary.cursors_resumed += 1;
        }
    }
}

/// Runs the delivery oracle on one read; true when it found nothing.
fn oracle(
    record: &Record,
    expected: Vec<Expected>,
    delivered: Vec<(String, String)>,
    what: &str,
    summary: &mut Summary,
) -> bool {
    let observation = Observation {
        promise: EXACTLY_ONCE,
        expected,
        published: (0..record.attempted).map(|k| k.to_string()).collect(),
        connections: vec![Connection {
            conn: 0,
            start: Start::Beginning,
            delivered,
        }],
        complete: true,
    };
    let findings: Vec<_> = delivery::check(&observation)
        .into_iter()
        .filter(|f| !f.informational)
        .collect();
    for finding in &findings {
        let message: String = finding.message.chars().take(400).collect();
        summary
            .violations
            .push(format!("{what}: {}: {message}", finding.kind));
    }
    findings.is_empty()
}

/// The first few of many event numbers.
fn list(ks: &[u64]) -> String {
    let shown: Vec<String> = ks.iter().take(20).map(u64::to_string).collect();
    let more = ks.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
