//! Pulse's at-least-once promise across connections that the fault proxy cuts at random frame and byte positions.

use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::pulse::meta;
use scenarios::pulse::plans::Identity;
use scenarios::transcript::Observed;

use super::{
    PROMPT, Published, Pulse, deliveries, event_id, expected, needs_producer, read_until, resume_id,
};
use crate::checks::case::{Stop, or_stop};
use crate::checks::cuts::{fault_proxy, plain_tcp_only};
use crate::checks::generated_property;
use crate::property::CaseOutcome;
use crate::proxy::Proxy;
use crate::proxy::framing::Framing;
use crate::runner::CheckContext;
use scenarios::cuts::{CutsPlan, cuts_plan};

/// Changes published on every reconnect: with two, the last one is never
/// the event right after the resume position, so a server that drops that
/// one still sends the event the case reads up to.
const PER_RECONNECT: usize = 2;

generated_property!(Cuts, meta::CUTS, CutsPlan,
    strategy: cuts_plan(8),
    cases: |requested| requested.div_ceil(2),
    skip: through_the_proxy,
    run: cuts_case);

/// The proxy speaks plain TCP, and the check publishes.
fn through_the_proxy(ctx: &CheckContext) -> Option<String> {
    plain_tcp_only(ctx).or_else(|| needs_producer(ctx))
}

async fn cuts_case(ctx: CheckContext, plan: CutsPlan) -> Result<CaseOutcome, String> {
    let pulse = Pulse::new(&ctx);
    let model = pulse.model_name("Cut");
    pulse.declare_model(&model, Identity::Default).await?;
    let name = pulse.stream_name("cut");
    or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
    let proxy = fault_proxy(pulse.base(), &plan.cuts, Framing::Sse, &pulse.recorder).await?;
    let mut published = Published::new(Identity::Default);
    if plan.before {
        published.creates(&pulse, &model, plan.published).await?;
    }
    let through = Through {
        pulse: &pulse,
        proxy: &proxy,
        name: &name,
        model: &model,
    };
    let connections = or_stop!(pulse, through.reconnects(&plan, &mut published).await);
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

/// A named stream consumed through the fault proxy.
struct Through<'a> {
    pulse: &'a Pulse,
    proxy: &'a Proxy,
    name: &'a str,
    model: &'a str,
}

impl Through<'_> {
    /// Consumes the stream again and again, each connection reading up to
    /// the last change published or its cut, until one reads to the end;
    /// what each delivered, or a finding when a reconnect is refused.
    async fn reconnects(
        &self,
        plan: &CutsPlan,
        published: &mut Published,
    ) -> Result<Vec<Connection>, Stop> {
        let pulse = self.pulse;
        let mut connections = Vec::new();
        // The first connection starts at the stream's saved cursor; every later
        // one resumes after the last event received, as an EventSource does.
        let mut last: Option<String> = None;
        for attempt in 0..plan.cuts.len() + 2 {
            let opened = pulse
                .consume_ok(&self.proxy.base_url(), self.name, last.as_deref())
                .await;
            let more = match attempt {
                0 if plan.before => 0,
                0 => plan.published,
                _ => PER_RECONNECT,
            };
            published.creates(pulse, self.model, more).await?;
            let start = match &last {
                Some(id) => Start::After(id.clone()),
                None => Start::Beginning,
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(refused @ Stop::Found(_)) => {
                    return Err(refused.prefixed(&format!("reconnect {attempt}")));
                }
                // A cut can fall inside the response head; that connection
                // delivered nothing, and the next one tries again.
                Err(Stop::Broke(error)) => {
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
        Ok(connections)
    }
}
