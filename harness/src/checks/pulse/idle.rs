//! Pulse's long-lived named-stream connection: it stays open while idle and delivers what comes later on the same connection.

use std::time::Duration;

use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::plans::Identity;

use super::{PROMPT, Pulse, create, event_id, fixed_property, needs_producer, read_until};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// How long the connection sits idle after catching up: longer than the
/// keep-alive interval of the embedded server, short enough for a fast case.
const IDLE: Duration = Duration::from_secs(1);

fixed_property!(LongLived, meta::LONG_LIVED, skip: needs_producer);

impl LongLived {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Idle");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("idle");
        or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
        let first = pulse.change(&model, &create(0)).await?;
        let mut stream = or_stop!(pulse, pulse.consume_ok(pulse.base(), &name, None).await);
        let arrived = |events: &[wire::sse::SseEvent], id: &str| {
            events.iter().any(|e| event_id(e).as_deref() == Some(id))
        };
        let mut findings = Vec::new();
        if !arrived(&read_until(&mut stream, &first, 4, PROMPT).await, &first) {
            findings.push(Finding::new(
                "unseen",
                format!("the event {first}, made before the stream was consumed, never arrived"),
            ));
        } else if stream.ends_within(IDLE).await {
            let reason = stream.closed.clone().unwrap_or_default();
            findings.push(Finding::new(
                "connection-ended",
                format!(
                    "the stream's connection ended within {} of catching up, while idle ({reason})",
                    humantime::format_duration(IDLE)
                ),
            ));
        } else {
            let later = pulse.change(&model, &create(1)).await?;
            if !arrived(&read_until(&mut stream, &later, 4, PROMPT).await, &later) {
                let ended = stream
                    .closed
                    .as_deref()
                    .map(|reason| format!(" (the connection ended: {reason})"))
                    .unwrap_or_default();
                findings.push(Finding::new(
                    "unseen",
                    format!("the event {later}, made after an idle second, never arrived on the open connection{ended}"),
                ));
            }
        }
        drop(stream);
        pulse.delete_stream(&name).await?;
        pulse.done(findings)
    }
}
