//! Tag expressions as a property: generated events and `FROM` expressions, AQL text for them, and the brute-force oracle.
//!
//! The model is written from the seed and PROTOCOLS.md (`&` binds tighter
//! than `|`, parentheses group, `allEvents` selects everything), apart from
//! the reference server's parser. Expressions render with only the
//! parentheses precedence needs, plus the ones a [`TagExpr::Group`] asks for,
//! so that `'a' & 'b' | 'c'` is exercised as written.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// The tags a case draws from, before the case's own prefix.
pub const TAG_NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// A `FROM` expression over [`TAG_NAMES`] (by index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagExpr {
    Tag(u8),
    AllEvents,
    And(Box<TagExpr>, Box<TagExpr>),
    Or(Box<TagExpr>, Box<TagExpr>),
    /// Explicit parentheses around an expression.
    Group(Box<TagExpr>),
}

impl TagExpr {
    /// Whether an event with these tag indices matches.
    pub fn matches(&self, tags: &[u8]) -> bool {
        match self {
            TagExpr::Tag(t) => tags.contains(t),
            TagExpr::AllEvents => true,
            TagExpr::And(l, r) => l.matches(tags) && r.matches(tags),
            TagExpr::Or(l, r) => l.matches(tags) || r.matches(tags),
            TagExpr::Group(e) => e.matches(tags),
        }
    }

    /// AQL text; `tag` names tag index `i` (the case prefixes its tags).
    pub fn render(&self, tag: &dyn Fn(u8) -> String) -> String {
        match self {
            TagExpr::Tag(t) => format!("'{}'", tag(*t)),
            TagExpr::AllEvents => "allEvents".to_owned(),
            TagExpr::Or(l, r) => format!("{} | {}", l.render(tag), r.render(tag)),
            TagExpr::And(l, r) => {
                // `&` binds tighter: an `|` below it needs parentheses, nothing else does.
                let side = |e: &TagExpr| match e {
                    TagExpr::Or(..) => format!("({})", e.render(tag)),
                    _ => e.render(tag),
                };
                format!("{} & {}", side(l), side(r))
            }
            TagExpr::Group(e) => format!("({})", e.render(tag)),
        }
    }
}

/// One case: the events' tags (indices into [`TAG_NAMES`]) and the expressions to query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagPlan {
    pub events: Vec<Vec<u8>>,
    pub exprs: Vec<TagExpr>,
}

/// Expressions nested at most `depth` operators deep (sendable, for the harness's runner).
fn tag_expr(depth: u32) -> SBoxedStrategy<TagExpr> {
    let leaf = prop_oneof![
        6 => (0u8..TAG_NAMES.len() as u8).prop_map(TagExpr::Tag),
        1 => Just(TagExpr::AllEvents),
    ];
    if depth == 0 {
        return leaf.sboxed();
    }
    let inner = tag_expr(depth - 1);
    prop_oneof![
        2 => leaf,
        3 => (inner.clone(), inner.clone()).prop_map(|(l, r)| TagExpr::And(Box::new(l), Box::new(r))),
        3 => (inner.clone(), inner.clone()).prop_map(|(l, r)| TagExpr::Or(Box::new(l), Box::new(r))),
        1 => inner.prop_map(|e| TagExpr::Group(Box::new(e))),
    ]
    .sboxed()
}

/// 1 to 8 events with up to three tags each, and 1 to 3 expressions.
pub fn tag_plan() -> impl Strategy<Value = TagPlan> {
    let tags = prop::collection::btree_set(0u8..TAG_NAMES.len() as u8, 0..=3)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>());
    (
        // One more event and expression of each are added below.
        prop::collection::vec(tags, 0..=7),
        prop::collection::vec(tag_expr(3), 0..=2),
    )
        .prop_map(|(mut events, mut exprs)| {
            // However few cases run, one expression whose meaning depends on
            // `&` binding tighter than `|`, and an event that tells them apart.
            let a_or_b_and_c = TagExpr::Or(
                Box::new(TagExpr::Tag(0)),
                Box::new(TagExpr::And(
                    Box::new(TagExpr::Tag(1)),
                    Box::new(TagExpr::Tag(2)),
                )),
            );
            exprs.insert(0, a_or_b_and_c);
            events.insert(0, vec![0]);
            TagPlan { events, exprs }
        })
}

/// The indices of the events `expr` selects: the oracle.
pub fn selected(events: &[Vec<u8>], expr: &TagExpr) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, tags)| expr.matches(tags))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    fn tag(i: u8) -> String {
        TAG_NAMES[usize::from(i)].to_owned()
    }

    fn t(i: u8) -> Box<TagExpr> {
        Box::new(TagExpr::Tag(i))
    }

    #[test]
    fn and_binds_tighter_than_or_in_text_and_in_the_oracle() {
        let expr = TagExpr::Or(Box::new(TagExpr::And(t(0), t(1))), t(2));
        assert_eq!(expr.render(&tag), "'a' & 'b' | 'c'");
        assert!(expr.matches(&[2]) && expr.matches(&[0, 1]) && !expr.matches(&[0]));
        let expr = TagExpr::And(t(0), Box::new(TagExpr::Or(t(1), t(2))));
        assert_eq!(expr.render(&tag), "'a' & ('b' | 'c')");
        assert!(!expr.matches(&[2]) && expr.matches(&[0, 2]));
        let grouped = TagExpr::Group(Box::new(TagExpr::Or(t(0), Box::new(TagExpr::AllEvents))));
        assert_eq!(grouped.render(&tag), "('a' | allEvents)");
        assert!(grouped.matches(&[]));
    }

    #[test]
    fn the_oracle_filters_by_index() {
        let events = vec![vec![0], vec![1], vec![0, 1], vec![]];
        assert_eq!(selected(&events, &TagExpr::And(t(0), t(1))), vec![2]);
        assert_eq!(selected(&events, &TagExpr::AllEvents), vec![0, 1, 2, 3]);
    }

    #[test]
    fn generated_plans_stay_small() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..64 {
            let plan = tag_plan().new_tree(&mut runner).unwrap().current();
            assert!((1..=8).contains(&plan.events.len()));
            assert!(plan.exprs.iter().all(|e| e.render(&tag).len() < 400));
        }
    }
}
