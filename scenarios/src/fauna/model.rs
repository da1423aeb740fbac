//! Fauna plans and a brute-force model of set membership: which events a where-set stream owes for a run of writes.
//!
//! The set is "documents of the case's collection where `.status == "in"`".
//! A plan is a list of [`Op`]s on documents the plan itself created; each
//! write also stores a fresh `v`, so a delivered event can be told from any
//! other. The model knows nothing of the reference server: it keeps, per
//! document, whether it exists and whether it matches, and derives the events
//! from the seed's words: `add` when a document starts matching, `update`
//! when it changes and still matches, `remove` when it stops matching or is
//! deleted while matching.

use std::fmt;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Finding;

/// The field the set filters on, and its matching value.
pub const FIELD: &str = "status";
pub const INSIDE: &str = "in";
pub const OUTSIDE: &str = "out";
/// The field every write sets to a fresh number.
pub const VERSION: &str = "v";

/// One step of a set-membership plan. Targets are taken modulo the
/// documents alive at that point (an op with none alive is skipped), so
/// shrinking never makes a plan invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    Create { inside: bool },
    Update { target: u8, inside: bool },
    Delete { target: u8 },
}

/// A plan: the ops, in order, made before the stream opens (replayed) or after (live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPlan {
    pub ops: Vec<Op>,
    pub replay: bool,
}

/// 1 to 12 ops, creates and updates more often than deletes, replayed or live.
pub fn set_plan() -> impl Strategy<Value = SetPlan> {
    let op = prop_oneof![
        3 => any::<bool>().prop_map(|inside| Op::Create { inside }),
        4 => (any::<u8>(), any::<bool>()).prop_map(|(target, inside)| Op::Update { target, inside }),
        1 => any::<u8>().prop_map(|target| Op::Delete { target }),
    ];
    (prop::collection::vec(op, 1..=12), any::<bool>())
        .prop_map(|(ops, replay)| SetPlan { ops, replay })
}

/// A write the driver makes, on the plan's `doc`-th created document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    Create { doc: usize, inside: bool, v: u64 },
    Update { doc: usize, inside: bool, v: u64 },
    Delete { doc: usize },
}

impl Write {
    /// The fields a create or update writes.
    pub fn fields(inside: bool, v: u64) -> Value {
        json!({ FIELD: if inside { INSIDE } else { OUTSIDE }, VERSION: v })
    }
}

/// The kind of a set event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Add,
    Remove,
    Update,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Remove => "remove",
            Kind::Update => "update",
        }
    }
}

/// An event the model owes: its kind, the plan's document, and (for `add`
/// and `update`) the `v` the document then has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owed {
    pub kind: Kind,
    pub doc: usize,
    pub v: Option<u64>,
}

/// An event as the stream delivered it: type, document id, `v`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub kind: String,
    pub id: String,
    pub v: Option<u64>,
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.kind, self.id)?;
        if let Some(v) = self.v {
            write!(f, " (v {v})")?;
        }
        Ok(())
    }
}

/// The writes a plan comes to, with the skipped ops left out.
pub fn writes(plan: &SetPlan) -> Vec<Write> {
    let mut alive: Vec<usize> = Vec::new();
    let mut created = 0;
    let mut out = Vec::new();
    for op in &plan.ops {
        let v = out.len() as u64 + 1;
        match *op {
            Op::Create { inside } => {
                out.push(Write::Create {
                    doc: created,
                    inside,
                    v,
                });
                alive.push(created);
                created += 1;
            }
            Op::Update { target, inside } if !alive.is_empty() => {
                let doc = alive[usize::from(target) % alive.len()];
                out.push(Write::Update { doc, inside, v });
            }
            Op::Delete { target } if !alive.is_empty() => {
                let doc = alive.remove(usize::from(target) % alive.len());
                out.push(Write::Delete { doc });
            }
            Op::Update { .. } | Op::Delete { .. } => {}
        }
    }
    out
}

/// The events a where-set stream owes for `writes`, in order.
pub fn owed(writes: &[Write]) -> Vec<Owed> {
    // Per document: `Some(matches)` while it exists.
    let mut docs: Vec<Option<bool>> = Vec::new();
    let mut events = Vec::new();
    for write in writes {
        let (doc, after, v) = match *write {
            Write::Create { doc, inside, v } | Write::Update { doc, inside, v } => {
                (doc, Some(inside), Some(v))
            }
            Write::Delete { doc } => (doc, None, None),
        };
        if docs.len() <= doc {
            docs.resize(doc + 1, None);
        }
        let was = docs[doc] == Some(true);
        let is = after == Some(true);
        let kind = match (was, is) {
            (false, true) => Some(Kind::Add),
            (true, true) => Some(Kind::Update),
            (true, false) => Some(Kind::Remove),
            (false, false) => None,
        };
        if let Some(kind) = kind {
            let v = if kind == Kind::Remove { None } else { v };
            events.push(Owed { kind, doc, v });
        }
        docs[doc] = after;
    }
    events
}

/// Compares what a stream delivered with what the model owes; `ids` are the
/// plan's documents' ids, in creation order. One finding, at the first
/// difference, with both sequences as evidence.
pub fn compare(owed: &[Owed], ids: &[String], delivered: &[Delivered]) -> Vec<Finding> {
    let want: Vec<Delivered> = owed
        .iter()
        .map(|o| Delivered {
            kind: o.kind.name().to_owned(),
            id: ids.get(o.doc).cloned().unwrap_or_default(),
            v: o.v,
        })
        .collect();
    let same = |w: &Delivered, d: &Delivered| {
        w.kind == d.kind && w.id == d.id && (w.v.is_none() || w.v == d.v)
    };
    let first = want
        .iter()
        .zip(delivered)
        .position(|(w, d)| !same(w, d))
        .or_else(|| (want.len() != delivered.len()).then(|| want.len().min(delivered.len())));
    let Some(at) = first else {
        return Vec::new();
    };
    let message = match (want.get(at), delivered.get(at)) {
        (Some(w), Some(d)) => format!("event {} should be {w}, but the stream sent {d}", at + 1),
        (Some(w), None) => format!(
            "the stream sent {} event(s) and stopped; event {} should be {w}",
            delivered.len(),
            at + 1
        ),
        (None, Some(d)) => format!(
            "the model owes {} event(s), but the stream went on with {d}",
            want.len()
        ),
        (None, None) => return Vec::new(),
    };
    let kind = match (want.get(at), delivered.get(at)) {
        (Some(_), None) => "lost",
        (None, Some(_)) => "unexpected",
        _ => "set-membership",
    };
    vec![Finding::new(kind, message).with_evidence(json!({"owed": want, "delivered": delivered}))]
}

/// A plan that reads `events` events and then resumes after the `at`-th (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePlan {
    pub events: usize,
    pub at: usize,
}

/// 2 to 6 events, resumed after any one of them.
pub fn resume_plan() -> impl Strategy<Value = ResumePlan> {
    (2usize..=6).prop_flat_map(|events| {
        (Just(events), 0..events).prop_map(|(events, at)| ResumePlan { events, at })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(ops: Vec<Op>) -> Vec<(Kind, usize)> {
        owed(&writes(&SetPlan { ops, replay: false }))
            .iter()
            .map(|o| (o.kind, o.doc))
            .collect()
    }

    #[test]
    fn documents_entering_changing_and_leaving() {
        use Kind::*;
        let ops = vec![
            Op::Create { inside: true },
            Op::Create { inside: false },
            Op::Update {
                target: 0,
                inside: true,
            },
            Op::Update {
                target: 1,
                inside: true,
            },
            Op::Update {
                target: 0,
                inside: false,
            },
            Op::Delete { target: 1 },
            Op::Delete { target: 0 },
        ];
        assert_eq!(
            kinds(ops),
            [(Add, 0), (Update, 0), (Add, 1), (Remove, 0), (Remove, 1)]
        );
    }

    #[test]
    fn ops_without_a_live_document_are_skipped_and_targets_wrap() {
        let plan = SetPlan {
            ops: vec![
                Op::Delete { target: 3 },
                Op::Create { inside: false },
                Op::Update {
                    target: 7,
                    inside: true,
                },
                Op::Delete { target: 9 },
                Op::Update {
                    target: 0,
                    inside: true,
                },
            ],
            replay: false,
        };
        assert_eq!(
            writes(&plan),
            [
                Write::Create {
                    doc: 0,
                    inside: false,
                    v: 1
                },
                Write::Update {
                    doc: 0,
                    inside: true,
                    v: 2
                },
                Write::Delete { doc: 0 },
            ]
        );
        assert_eq!(
            owed(&writes(&plan)),
            [
                Owed {
                    kind: Kind::Add,
                    doc: 0,
                    v: Some(2)
                },
                Owed {
                    kind: Kind::Remove,
                    doc: 0,
                    v: None
                },
            ]
        );
    }

    fn delivered(kind: &str, id: &str, v: Option<u64>) -> Delivered {
        Delivered {
            kind: kind.to_owned(),
            id: id.to_owned(),
            v,
        }
    }

    #[test]
    fn comparison_names_the_first_difference() {
        let owed = [
            Owed {
                kind: Kind::Add,
                doc: 0,
                v: Some(1),
            },
            Owed {
                kind: Kind::Remove,
                doc: 0,
                v: None,
            },
        ];
        let ids = ["10".to_owned()];
        let right = [
            delivered("add", "10", Some(1)),
            delivered("remove", "10", Some(2)),
        ];
        assert!(compare(&owed, &ids, &right).is_empty());
        let wrong = [
            delivered("add", "10", Some(1)),
            delivered("update", "10", Some(2)),
        ];
        let findings = compare(&owed, &ids, &wrong);
        assert_eq!(findings[0].kind, "set-membership");
        assert!(
            findings[0]
                .message
                .contains("event 2 should be remove of 10")
        );
        assert_eq!(compare(&owed, &ids, &right[..1])[0].kind, "lost");
        let extra = [
            right[0].clone(),
            right[1].clone(),
            delivered("add", "11", Some(3)),
        ];
        assert_eq!(compare(&owed, &ids, &extra)[0].kind, "unexpected");
    }
}
