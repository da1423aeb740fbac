//! What the cuts checks share: a fault proxy in front of the target that cuts connections 1, 2, … where the plan (`scenarios::cuts::CutsPlan`) says.

use scenarios::cuts::Cut;

use crate::proxy::framing::Framing;
use crate::proxy::schedule::{ConnPlan, Schedule, Selector};
use crate::proxy::{self, FaultLog, Proxy};
use crate::record::Recorder;
use crate::runner::CheckContext;

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
