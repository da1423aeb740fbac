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
pub fn check(observation: &Observation) -> Vec<Finding> {
    let promise = observation.promise;
    let index: HashMap<&str, usize> = observation
        .expected
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let published: HashSet<&str> = observation.published.iter().map(String::as_str).collect();
    let mut findings = Vec::new();
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut furthest: Option<usize> = None;

    for connection in &observation.connections {
        let mut previous: Option<usize> = None;
        let mut first = true;
        for (id, content) in &connection.delivered {
            let Some(&position) = index.get(id.as_str()) else {
                let why = if published.contains(id.as_str()) {
                    "was published but is outside the filters, the tenant or the window this connection asked for"
                } else {
                    "was never published"
                };
                findings.push(
                    Finding::new(
                        "unexpected",
                        format!("connection {} delivered {id}, which {why}", connection.conn),
                    )
                    .with_evidence(json!({"conn": connection.conn, "id": id})),
                );
                continue;
            };
            let expected = &observation.expected[position];
            if expected.content != *content {
                findings.push(
                    Finding::new("inconsistent", format!("{id} arrived with content other than what was published"))
                        .with_evidence(json!({"conn": connection.conn, "published": expected.content, "delivered": content})),
                );
            }
            *counts.entry(position).or_default() += 1;
            furthest = furthest.max(Some(position));
            if first {
                first = false;
                let (wanted, also) = match &connection.start {
                    Start::Beginning => (Some(0), None),
                    Start::After(after) => (index.get(after.as_str()).map(|p| p + 1), None),
                    Start::AtOrAfter(at) => {
                        let at = index.get(at.as_str()).copied();
                        (at.map(|p| p + 1), at)
                    }
                    Start::Live => (None, None),
                };
                if let Some(wanted) = wanted
                    && wanted != position
                    && also != Some(position)
                {
                    findings.push(resume_gap(observation, connection, id, position, wanted));
                }
            } else if promise.ordered
                && let Some(previous) = previous
            {
                if position < previous {
                    findings.push(
                        Finding::new(
                            "nonmonotonic",
                            format!(
                                "connection {} delivered {id} after {}, which comes later in the log",
                                connection.conn, observation.expected[previous].id
                            ),
                        )
                        .with_evidence(json!({"conn": connection.conn, "after": observation.expected[previous].id, "id": id})),
                    );
                } else if position > previous + 1 {
                    let skipped: Vec<&str> = observation.expected[previous + 1..position]
                        .iter()
                        .map(|e| e.id.as_str())
                        .collect();
                    findings.push(
                        Finding::new(
                            "skip",
                            format!(
                                "connection {} went from {} to {id}, skipping {}",
                                connection.conn,
                                observation.expected[previous].id,
                                skipped.join(", ")
                            ),
                        )
                        .with_evidence(json!({"conn": connection.conn, "skipped": skipped})),
                    );
                }
            }
            previous = Some(match previous {
                Some(p) if promise.ordered => p.max(position),
                _ => position,
            });
        }
    }

    for (position, count) in &counts {
        if *count > 1 {
            let id = &observation.expected[*position].id;
            let finding = Finding::new("duplicated", format!("{id} was delivered {count} times"))
                .with_evidence(json!({"id": id, "count": count}));
            findings.push(if promise.at_most_once {
                finding
            } else {
                finding.informational()
            });
        }
    }

    if promise.at_least_once {
        let mut lost = Vec::new();
        let mut unseen = Vec::new();
        for (position, expected) in observation.expected.iter().enumerate() {
            if counts.contains_key(&position) {
                continue;
            }
            if furthest.is_some_and(|f| position <= f) {
                lost.push(expected.id.as_str());
            } else {
                unseen.push(expected.id.as_str());
            }
        }
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
