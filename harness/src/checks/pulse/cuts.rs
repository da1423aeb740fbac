//! Pulse's at-least-once promise across connections that the fault proxy cuts at random frame and byte positions.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use proptest::prelude::*;
use proptest::strategy::SBoxedStrategy;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::Identity;
use scenarios::transcript::Observed;
use scenarios::{CheckMeta, Finding};

use super::{
    PROMPT, Published, Pulse, deliveries, event_id, expected, needs_producer, read_until, resume_id,
};
use crate::checks::{CutsPlan, cuts_plan};
use crate::property::{CaseOutcome, Property};
use crate::proxy::framing::Framing;
use crate::proxy::schedule::{ConnPlan, Schedule, Selector};
use crate::proxy::{self, FaultLog};
use crate::runner::CheckContext;

/// Changes published on every reconnect: with two, the last one is never
/// the event right after the resume position, so a server that drops that
/// one still sends the event the case reads up to.
const PER_RECONNECT: usize = 2;

#[derive(Debug)]
pub struct Cuts;

impl Property for Cuts {
    type Plan = CutsPlan;

    fn meta(&self) -> &'static CheckMeta {
        &meta::CUTS
    }

    fn skip_reason(&self, ctx: &CheckContext) -> Option<String> {
        if ctx.target.base_url().starts_with("https://") {
            return Some(
                "the fault proxy speaks plain TCP; an https:// target needs its own TLS front"
                    .to_owned(),
            );
        }
        needs_producer(ctx)
    }

    fn strategy(&self) -> SBoxedStrategy<CutsPlan> {
        cuts_plan(8).sboxed()
    }

    fn cases(&self, requested: u32) -> u32 {
        requested.div_ceil(2)
    }

    fn run_case(
        self: Arc<Self>,
        ctx: CheckContext,
        plan: CutsPlan,
    ) -> BoxFuture<'static, Result<CaseOutcome, String>> {
        cuts_case(ctx, plan).boxed()
    }
}

async fn cuts_case(ctx: CheckContext, plan: CutsPlan) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Cut");
    pulse.declare_model(&model, Identity::Default).await?;
    let name = pulse.stream_name("cut");
    if let Err(finding) = pulse.create_stream_ok(&name, &model, None).await? {
        return pulse.done(vec![finding]);
    }
    let upstream = reqwest::Url::parse(pulse.base())
        .ok()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        })
        .ok_or("the target URL has no host and port")?;
    let schedule = Schedule {
        rules: plan
            .cuts
            .iter()
            .enumerate()
            .map(|(i, cut)| {
                let conn = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let plan = ConnPlan {
                    cut: Some(*cut),
                    ..ConnPlan::default()
                };
                (Selector::Conn(conn), plan)
            })
            .collect(),
    };
    pulse.recorder.note(format!("fault schedule: {schedule}"));
    let proxy = proxy::start(
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        upstream,
        schedule,
        Framing::Sse,
        FaultLog::Recorder(pulse.recorder.clone()),
    )
    .await
    .map_err(|e| format!("starting the fault proxy: {e}"))?;
    let mut published = Published::new(Identity::Default);
    if plan.before {
        published.creates(&pulse, &model, plan.published).await?;
    }
    let mut connections = Vec::new();
    // The first connection starts at the stream's saved cursor; every later
    // one resumes after the last event received, as an EventSource does.
    let mut last: Option<String> = None;
    for attempt in 0..plan.cuts.len() + 2 {
        let opened = pulse
            .consume_ok(&proxy.base_url(), &name, last.as_deref())
            .await;
        let more = match attempt {
            0 if plan.before => 0,
            0 => plan.published,
            _ => PER_RECONNECT,
        };
        published.creates(&pulse, &model, more).await?;
        let start = match &last {
            Some(id) => Start::After(id.clone()),
            None => Start::Beginning,
        };
        let mut stream = match opened {
            Ok(Ok(stream)) => stream,
            Ok(Err(problem)) => {
                let problem = format!("reconnect {attempt}: {problem}");
                return pulse.done(vec![Finding::new("status", problem)]);
            }
            // A cut can fall inside the response head; that connection
            // delivered nothing, and the next one tries again.
            Err(error) => {
                pulse.recorder.record(
                    0,
                    Observed::Note {
                        text: format!("connection {attempt} failed before its head: {error}"),
                    },
                );
                continue;
            }
        };
        let stop = published.last_id();
        let max = 2 * published.events.len() + 2;
        let events = read_until(&mut stream, &stop, max, PROMPT).await;
        let got_stop = events
            .iter()
            .any(|event| event_id(event).as_deref() == Some(stop.as_str()));
        if let Some(id) = events.last().and_then(resume_id) {
            last = Some(id);
        }
        connections.push(Connection {
            conn: stream.conn,
            start,
            delivered: deliveries(&events),
        });
        if got_stop || stream.closed.is_none() {
            break;
        }
    }
    drop(proxy);
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: expected(&model, &published.events),
        published: published.ids(),
        connections,
        complete: true,
    };
    let findings = delivery::check(&observation);
    pulse.delete_stream(&name).await?;
    pulse.done(findings)
}
