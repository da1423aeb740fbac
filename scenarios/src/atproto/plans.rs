//! AT Protocol plans: writes read through connections the client cuts, each resumed by cursor.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// How the client ends a connection it cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CutKind {
    /// A WebSocket close frame, then the socket closes.
    Close,
    /// The TCP connection is reset (no close frame, unread data discarded).
    Reset,
}

/// One cut: after `frames` frames on that connection (0: right after the upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCut {
    pub frames: usize,
    pub kind: CutKind,
}

/// `writes` records written before the first connection opens (replay) or
/// after (live), read through connections cut where `cuts` say; every
/// connection after the first resumes from the last seq it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutsPlan {
    pub writes: usize,
    pub before: bool,
    pub cuts: Vec<ClientCut>,
}

/// 1 to `max_writes` writes and one to three cuts of 0 to 6 frames.
pub fn cuts_plan(max_writes: usize) -> impl Strategy<Value = CutsPlan> {
    let cut = (
        0usize..7,
        prop_oneof![Just(CutKind::Close), Just(CutKind::Reset)],
    )
        .prop_map(|(frames, kind)| ClientCut { frames, kind });
    (
        1..=max_writes,
        any::<bool>(),
        prop::collection::vec(cut, 1..=3),
    )
        .prop_map(|(writes, before, cuts)| CutsPlan {
            writes,
            before,
            cuts,
        })
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    #[test]
    fn plans_stay_within_their_bounds_and_shrink_towards_fewer_writes_and_cuts() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..64 {
            let mut tree = cuts_plan(8).new_tree(&mut runner).unwrap();
            let plan = tree.current();
            assert!((1..=8).contains(&plan.writes), "{plan:?}");
            assert!((1..=3).contains(&plan.cuts.len()), "{plan:?}");
            assert!(plan.cuts.iter().all(|c| c.frames < 7), "{plan:?}");
            while tree.simplify() {}
            let simplest = tree.current();
            assert_eq!(simplest.writes, 1);
            assert_eq!(simplest.cuts.len(), 1);
            assert_eq!(simplest.cuts[0].frames, 0);
        }
    }
}
