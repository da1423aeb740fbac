//! Plans of the generated Actyx checks, and the pure parts of their oracles.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::order::Key;
use crate::Finding;
use crate::delivery::{Connection, Expected, Observation, Promise, Start};

/// Publish requests of these sizes, one after the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchesPlan {
    pub batches: Vec<usize>,
}

/// One to three publish requests of one to four events.
pub fn batches_plan() -> impl Strategy<Value = BatchesPlan> {
    prop::collection::vec(1usize..=4, 1..=3).prop_map(|batches| BatchesPlan { batches })
}

/// `published` events, then a query with a lower bound after event `lower`
/// (`None`: no lower bound) and an upper bound at event `upper` (`None`: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundsPlan {
    pub published: usize,
    pub lower: Option<usize>,
    pub upper: Option<usize>,
}

pub fn bounds_plan() -> impl Strategy<Value = BoundsPlan> {
    (1usize..=6)
        .prop_flat_map(|n| (Just(n), prop::option::of(0..n), prop::option::of(0..n)))
        .prop_map(|(published, lower, upper)| BoundsPlan {
            published,
            lower,
            upper,
        })
}

impl BoundsPlan {
    /// Indices of the published events the query must return.
    pub fn expected(&self) -> Vec<usize> {
        (0..self.published)
            .filter(|i| self.lower.is_none_or(|l| *i > l))
            .filter(|i| self.upper.is_none_or(|u| *i <= u))
            .collect()
    }
}

/// `before` events, a subscription, then `after` events live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeamPlan {
    pub before: usize,
    pub after: Vec<usize>,
}

/// Zero to four events before, one to three live batches of one to three.
pub fn seam_plan() -> impl Strategy<Value = SeamPlan> {
    (0usize..=4, prop::collection::vec(1usize..=3, 1..=3))
        .prop_map(|(before, after)| SeamPlan { before, after })
}

/// A monotonic session: `before` events, `read` of them delivered on the
/// first connection (or all of it and its `offsets` line when `at_offsets`),
/// then `after` events while away, and the session resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePlan {
    pub before: usize,
    pub read: usize,
    pub at_offsets: bool,
    pub after: usize,
}

pub fn resume_plan() -> impl Strategy<Value = ResumePlan> {
    (1usize..=5, any::<bool>(), 0usize..=3)
        .prop_flat_map(|(before, at_offsets, after)| {
            (Just(before), 1..=before, Just(at_offsets), Just(after))
        })
        .prop_map(|(before, read, at_offsets, after)| ResumePlan {
            before,
            read: if at_offsets { before } else { read },
            at_offsets,
            after,
        })
}

/// Foreign streams (two to four), each with its events' lamports, strictly
/// increasing along the stream and drawn from a small range so that
/// different streams share lamports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieBreakPlan {
    pub streams: Vec<Vec<u64>>,
}

pub fn tie_break_plan() -> impl Strategy<Value = TieBreakPlan> {
    let stream = prop::collection::btree_set(1u64..=4, 1..=3)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>());
    prop::collection::vec(stream, 2..=4).prop_map(|mut streams| {
        // At least one tie, however few cases run: the second stream shares
        // the first stream's first lamport.
        let shared = streams[0][0];
        if !streams[1].contains(&shared) {
            streams[1].push(shared);
            streams[1].sort_unstable();
        }
        TieBreakPlan { streams }
    })
}

/// An event's id for the delivery oracle.
pub fn event_id(key: &Key) -> String {
    format!("{}@{}", key.stream, key.offset)
}

/// One connection's deliveries: its number, the key it resumed after (none: from the start), and `(key, payload)`s.
pub type Delivered<'a> = (u32, Option<&'a Key>, Vec<(Key, String)>);

/// The delivery oracle for feeds that promise each event once, in order:
/// `expected` (in sort order) against each connection's `(key, payload)` deliveries.
pub fn exactly_once(
    expected: &[(Key, String)],
    connections: Vec<Delivered<'_>>,
    complete: bool,
) -> Vec<Finding> {
    let observation = Observation {
        promise: Promise {
            at_least_once: true,
            at_most_once: true,
            ordered: true,
        },
        expected: expected
            .iter()
            .map(|(key, content)| Expected {
                id: event_id(key),
                content: content.clone(),
            })
            .collect(),
        published: expected.iter().map(|(key, _)| event_id(key)).collect(),
        connections: connections
            .into_iter()
            .map(|(conn, after, delivered)| Connection {
                conn,
                start: after.map_or(Start::Beginning, |k| Start::After(event_id(k))),
                delivered: delivered
                    .into_iter()
                    .map(|(key, content)| (event_id(&key), content))
                    .collect(),
            })
            .collect(),
        complete,
    };
    crate::delivery::check(&observation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(offset: u64) -> Key {
        Key {
            lamport: offset + 10,
            stream: "s-0".into(),
            offset,
        }
    }

    #[test]
    fn bounds_are_exclusive_below_and_inclusive_above() {
        let plan = BoundsPlan {
            published: 5,
            lower: Some(1),
            upper: Some(3),
        };
        assert_eq!(plan.expected(), vec![2, 3]);
        let open = BoundsPlan {
            published: 2,
            lower: None,
            upper: None,
        };
        assert_eq!(open.expected(), vec![0, 1]);
    }

    #[test]
    fn exactly_once_flags_a_gap_and_a_repeat() {
        let expected: Vec<(Key, String)> = (0..3).map(|o| (key(o), o.to_string())).collect();
        let good = vec![(1, None, expected.clone())];
        assert!(exactly_once(&expected, good, true).is_empty());
        let gap = vec![(1, None, vec![expected[0].clone(), expected[2].clone()])];
        assert!(!exactly_once(&expected, gap, true).is_empty());
        let first = key(0);
        let again = vec![
            (1, None, vec![expected[0].clone()]),
            (2, Some(&first), expected.clone()),
        ];
        assert!(!exactly_once(&expected, again, true).is_empty());
    }
}
