//! Cuts: where a connection is cut and how, and the plan of every API's cuts check through the fault proxy.
//!
//! The fault proxy (in the harness) carries these out; its schedule
//! language writes them as `after 3 frames + 5 bytes, rst`.

use std::fmt;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a cut falls on one connection's downstream bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CutAt {
    Bytes(u64),
    Frames { frames: u64, plus_bytes: u64 },
}

/// How a connection is cut: a clean close, a reset, or a stall (nothing more forwarded, the sockets held open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CutAction {
    Fin,
    Rst,
    Stall,
}

/// One connection's cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    pub at: CutAt,
    pub action: CutAction,
}

/// The plan of every API's cuts check: `published` events, read through
/// connections the fault proxy cuts where `cuts` say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutsPlan {
    pub published: usize,
    /// Publish before the first connection opens (replay) or after (live).
    pub before: bool,
    /// The cuts of connections 1, 2, …; later connections are left alone.
    pub cuts: Vec<Cut>,
}

/// 1 to `max_published` events and one to three cuts, each at a frame
/// boundary or some bytes into the next frame, by FIN or RST.
pub fn cuts_plan(max_published: usize) -> impl Strategy<Value = CutsPlan> {
    let cut = (
        0u64..6,
        prop_oneof![3 => Just(0u64), 2 => 1u64..60],
        prop_oneof![Just(CutAction::Fin), Just(CutAction::Rst)],
    )
        .prop_map(|(frames, plus_bytes, action)| Cut {
            at: CutAt::Frames { frames, plus_bytes },
            action,
        });
    (
        1..=max_published,
        any::<bool>(),
        prop::collection::vec(cut, 1..=3),
    )
        .prop_map(|(published, before, cuts)| CutsPlan {
            published,
            before,
            cuts,
        })
}

impl fmt::Display for CutAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutAt::Bytes(n) => write!(f, "after {n} bytes"),
            CutAt::Frames { frames, plus_bytes } => {
                write!(f, "after {frames} frames + {plus_bytes} bytes")
            }
        }
    }
}

impl fmt::Display for CutAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CutAction::Fin => "fin",
            CutAction::Rst => "rst",
            CutAction::Stall => "stall",
        })
    }
}
