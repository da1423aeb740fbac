//! The delivery oracle: what a consumer should have seen against what it saw, in the anomaly names of Jepsen and Kafka checkers.
//!
//! - `lost`: expected, at or before the furthest item read, never delivered.
//! - `unseen`: expected, after the furthest item read, never delivered (a
//!   failure only when the case waited for everything).
//! - `duplicated`: delivered more than once: reported, and a failure only
//!   when the API promises at-most-once.
//! - `unexpected`: delivered but never published, or outside the filters or tenant.
//! - `inconsistent`: delivered with content other than what was published.
//! - `skip` / `nonmonotonic`: within one connection, an expected item was
//!   jumped over / an item came after a later one.
//! - `resume-gap`: the first item of a resumed connection is not the
//!   successor of its resume position.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::verdict::Finding;

/// What an API promises about delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// Every expected item arrives (possibly more than once).
    pub at_least_once: bool,
    /// No item arrives twice.
    pub at_most_once: bool,
    /// Within a connection, items arrive in log order with no gaps.
    pub ordered: bool,
}

impl Promise {
    pub const AT_LEAST_ONCE_ORDERED: Promise = Promise {
        at_least_once: true,
        at_most_once: false,
        ordered: true,
    };
    pub const AT_MOST_ONCE: Promise = Promise {
        at_least_once: false,
        at_most_once: true,
        ordered: false,
    };
}

/// An item the consumer should see, in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub id: String,
    /// A canonical rendering of what was published, to catch `inconsistent`.
    pub content: String,
}

/// Where a connection started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Start {
    /// From the first expected item.
    Beginning,
    /// Strictly after the expected item with this id.
    After(String),
    /// At the expected item with this id or strictly after it: a cursor the
    /// API may read inclusively (the AT Protocol spec's `seq >= cursor`) or
    /// exclusively. Repeating that one item is then a duplicate, not a gap.
    AtOrAfter(String),
    /// Live: no claim about the first item.
    Live,
}

/// What one connection delivered, in arrival order: (id, content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub conn: u32,
    pub start: Start,
    pub delivered: Vec<(String, String)>,
}

/// Everything the oracle needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub promise: Promise,
    pub expected: Vec<Expected>,
    /// Every id the case published, matching the filters or not.
    pub published: Vec<String>,
    pub connections: Vec<Connection>,
    /// The case waited until it believed everything had arrived.
    pub complete: bool,
}

/// The findings of one observation. `duplicated` under at-least-once is informational.
///
/// Findings come in a fixed order: per connection and per delivered item the
/// item's own findings (`unexpected`, `inconsistent`, then `resume-gap`,
/// `nonmonotonic` or `skip`), then `duplicated`, then `lost` and `unseen`.
pub fn check(observation: &Observation) -> Vec<Finding> {
    let index: HashMap<&str, usize> = observation
        .expected
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let published: HashSet<&str> = observation.published.iter().map(String::as_str).collect();
    let mut findings = Vec::new();
    let mut tally = Tally::default();
    for connection in &observation.connections {
        check_connection(
            observation,
            &index,
            &published,
            connection,
            &mut tally,
            &mut findings,
        );
    }
    findings.extend(duplicates(observation, &tally.counts));
    if observation.promise.at_least_once {
        findings.extend(missing(observation, &tally));
    }
    findings
}

/// What every connection together delivered of the expected items: the
/// connections are judged one by one, but `duplicated`, `lost` and `unseen`
/// are about the whole observation.
#[derive(Default)]
struct Tally {
    /// How many times each expected item (by log position) arrived.
    counts: BTreeMap<usize, usize>,
    /// The log position of the furthest item any connection read.
    furthest: Option<usize>,
}

/// Judges one connection item by item, in arrival order, and adds what it
/// delivered to the tally.
fn check_connection(
    observation: &Observation,
    index: &HashMap<&str, usize>,
    published: &HashSet<&str>,
    connection: &Connection,
    tally: &mut Tally,
    findings: &mut Vec<Finding>,
) {
    let ordered = observation.promise.ordered;
    // The log position the connection has reached. Under an ordering promise it
    // never moves back, so one late item does not make every later one a skip.
    let mut previous: Option<usize> = None;
    for (id, content) in &connection.delivered {
        let Some(&position) = index.get(id.as_str()) else {
            findings.push(unexpected(connection, id, published));
            continue;
        };
        let expected = &observation.expected[position];
        if expected.content != *content {
            findings.push(
                Finding::new("inconsistent", format!("{id} arrived with content other than what was published"))
                    .with_evidence(json!({"conn": connection.conn, "published": expected.content, "delivered": content})),
            );
        }
        *tally.counts.entry(position).or_default() += 1;
        tally.furthest = tally.furthest.max(Some(position));
        match previous {
            // Only an item the connection was asked for says where it began;
            // an unexpected one before it is reported above and passed over.
            None => findings.extend(misplaced_start(
                observation,
                index,
                connection,
                id,
                position,
            )),
            Some(previous) if ordered => {
                findings.extend(out_of_order(
                    observation,
                    connection,
                    id,
                    previous,
                    position,
                ));
            }
            Some(_) => {}
        }
        previous = Some(match previous {
            Some(p) if ordered => p.max(position),
            _ => position,
        });
    }
}

/// `unexpected`: the connection delivered an id that is not among the
/// expected items; the message says whether it was published at all.
fn unexpected(connection: &Connection, id: &str, published: &HashSet<&str>) -> Finding {
    let why = if published.contains(id) {
        "was published but is outside the filters, the tenant or the window this connection asked for"
    } else {
        "was never published"
    };
    Finding::new(
        "unexpected",
        format!("connection {} delivered {id}, which {why}", connection.conn),
    )
    .with_evidence(json!({"conn": connection.conn, "id": id}))
}

/// `resume-gap`, when the first expected item of a connection (at `position`
/// in the log) is not the one its start position calls for. A live start
/// makes no claim, and an inclusive cursor may also repeat its own item.
fn misplaced_start(
    observation: &Observation,
    index: &HashMap<&str, usize>,
    connection: &Connection,
    id: &str,
    position: usize,
) -> Option<Finding> {
    let (wanted, also) = match &connection.start {
        Start::Beginning => (Some(0), None),
        Start::After(after) => (index.get(after.as_str()).map(|p| p + 1), None),
        Start::AtOrAfter(at) => {
            let at = index.get(at.as_str()).copied();
            (at.map(|p| p + 1), at)
        }
        Start::Live => (None, None),
    };
    let wanted = wanted?;
    (wanted != position && also != Some(position))
        .then(|| resume_gap(observation, connection, id, position, wanted))
}

/// `nonmonotonic` or `skip`, when an ordered connection that had reached
/// `previous` in the log delivers the item at `position` out of turn.
fn out_of_order(
    observation: &Observation,
    connection: &Connection,
    id: &str,
    previous: usize,
    position: usize,
) -> Option<Finding> {
    let previous_id = &observation.expected[previous].id;
    if position < previous {
        Some(
            Finding::new(
                "nonmonotonic",
                format!(
                    "connection {} delivered {id} after {previous_id}, which comes later in the log",
                    connection.conn
                ),
            )
            .with_evidence(json!({"conn": connection.conn, "after": previous_id, "id": id})),
        )
    } else if position > previous + 1 {
        let skipped: Vec<&str> = observation.expected[previous + 1..position]
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        Some(
            Finding::new(
                "skip",
                format!(
                    "connection {} went from {previous_id} to {id}, skipping {}",
                    connection.conn,
                    skipped.join(", ")
                ),
            )
            .with_evidence(json!({"conn": connection.conn, "skipped": skipped})),
        )
    } else {
        None
    }
}

/// `duplicated`, in log order, for every expected item that arrived more than
/// once over all connections: a failure only when the API promises
/// at-most-once, since at-least-once allows redelivery.
fn duplicates(observation: &Observation, counts: &BTreeMap<usize, usize>) -> Vec<Finding> {
    counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(position, count)| {
            let id = &observation.expected[*position].id;
            let finding = Finding::new("duplicated", format!("{id} was delivered {count} times"))
                .with_evidence(json!({"id": id, "count": count}));
            if observation.promise.at_most_once {
                finding
            } else {
                finding.informational()
            }
        })
        .collect()
}

/// `lost` and `unseen`, for an at-least-once API: the expected items that
/// never arrived, split at the furthest item read. Items past it may simply
/// not have arrived yet, so they fail only a case that waited for everything.
fn missing(observation: &Observation, tally: &Tally) -> Vec<Finding> {
    let mut lost = Vec::new();
    let mut unseen = Vec::new();
    for (position, expected) in observation.expected.iter().enumerate() {
        if tally.counts.contains_key(&position) {
            continue;
        }
        if tally.furthest.is_some_and(|f| position <= f) {
            lost.push(expected.id.as_str());
        } else {
            unseen.push(expected.id.as_str());
        }
    }
    let mut findings = Vec::new();
    if !lost.is_empty() {
        findings.push(
            Finding::new(
                "lost",
                format!(
                    "{} published item(s) before the last one read never arrived: {}",
                    lost.len(),
                    lost.join(", ")
                ),
            )
            .with_evidence(json!({"lost": lost})),
        );
    }
    if !unseen.is_empty() && observation.complete {
        findings.push(
            Finding::new(
                "unseen",
                format!(
                    "{} published item(s) never arrived before the case gave up: {}",
                    unseen.len(),
                    unseen.join(", ")
                ),
            )
            .with_evidence(json!({"unseen": unseen})),
        );
    }
    findings
}

/// The first item of a resumed connection is not where it should start:
/// ahead of it (a gap) or at or before its resume position (a replay).
fn resume_gap(
    observation: &Observation,
    connection: &Connection,
    id: &str,
    position: usize,
    wanted: usize,
) -> Finding {
    let wanted_id = observation
        .expected
        .get(wanted)
        .map_or("nothing", |e| e.id.as_str());
    let message = if position < wanted {
        let from = match &connection.start {
            Start::After(after) => format!("after {after}"),
            Start::AtOrAfter(at) => format!("at or after {at}"),
            Start::Beginning | Start::Live => "at the beginning".to_owned(),
        };
        format!(
            "connection {} resumed {from} but began with {id}: a replay of what came before its resume position",
            connection.conn
        )
    } else {
        format!(
            "connection {} started with {id}, but the successor of its start position is {wanted_id}",
            connection.conn
        )
    };
    Finding::new("resume-gap", message).with_evidence(json!({
        "conn": connection.conn,
        "start": connection.start,
        "first": id,
        "wanted": wanted_id,
        "replay": position < wanted,
    }))
}

#[cfg(test)]
mod tests;
