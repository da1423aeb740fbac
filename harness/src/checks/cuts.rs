//! What every cuts check shares: its plan, and a fault proxy in front of the target that cuts connections 1, 2, … where the plan says.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::proxy::framing::Framing;
use crate::proxy::schedule::{ConnPlan, Cut, CutAction, CutAt, Schedule, Selector};
use crate::proxy::{self, FaultLog, Proxy};
use crate::record::Recorder;
use crate::runner::CheckContext;

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

/// Why the fault proxy cannot stand in front of this target, if it cannot:
/// it speaks plain TCP.
pub fn plain_tcp_only(ctx: &CheckContext) -> Option<String> {
    ctx.target.base_url().starts_with("https://").then(|| {
        "the fault proxy speaks plain TCP; an https:// target needs its own TLS front".to_owned()
    })
}

/// A fault proxy on loopback in front of the target at `base`, cutting
/// connection `i + 1` as `cuts[i]` says and reading frames as `framing`;
/// the schedule and every fault go into `recorder`'s transcript.
pub async fn fault_proxy(
    base: &str,
    cuts: &[Cut],
    framing: Framing,
    recorder: &Recorder,
) -> Result<Proxy, String> {
    let upstream = reqwest::Url::parse(base)
        .ok()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        })
        .ok_or("the target URL has no host and port")?;
    let rules = cuts.iter().enumerate().map(|(i, cut)| {
        let conn = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let plan = ConnPlan {
            cut: Some(*cut),
            ..ConnPlan::default()
        };
        (Selector::Conn(conn), plan)
    });
    let schedule = Schedule {
        rules: rules.collect(),
    };
    recorder.note(format!("fault schedule: {schedule}"));
    proxy::start(
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        upstream,
        schedule,
        framing,
        FaultLog::Recorder(recorder.clone()),
    )
    .await
    .map_err(|e| format!("starting the fault proxy: {e}"))
}
