//! `subscribeLabels` cursors beyond the stream: `FutureCursor` for one in the future, `#info OutdatedCursor` for one before the replay window.

use scenarios::Finding;
use scenarios::atproto::meta;
use wire::cbor::Value;

use super::labels::{SUBSCRIBE_LABELS, label_uri, make_label, needs_labeler};
use super::more::{first_two, nothing_trimmed, outdated_cursor_findings};
use super::{Atproto, PROMPT, Received, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(LabelsFutureCursor, meta::LABELS_FUTURE_CURSOR, skip: needs_labeler);

impl LabelsFutureCursor {
    /// A far-future cursor, then a label as the sentinel: a stream that took
    /// the cursor as live sends the label instead of the error frame.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let far = super::checks::FAR_FUTURE;
        let mut subscription = atproto.subscribe_to(SUBSCRIBE_LABELS, Some(far)).await?;
        let uri = label_uri(&atproto);
        make_label(&atproto, &uri, "harness-sentinel", false).await?;
        let mut findings = Vec::new();
        match subscription.next(PROMPT).await {
            Received::Frame(Ok(frame)) => {
                let error = frame.body.get("error").and_then(Value::as_str);
                if frame.header.op != -1 || error != Some("FutureCursor") {
                    findings.push(Finding::new(
                        "future-cursor",
                        format!(
                            "cursor={far} got {:?} {error:?}, not the error FutureCursor",
                            frame.header
                        ),
                    ));
                } else {
                    let after = subscription.next(PROMPT).await;
                    if !matches!(after, Received::Closed(_)) {
                        findings.push(Finding::new(
                            "no-close",
                            format!("after the error frame the connection stayed open ({after:?})"),
                        ));
                    }
                }
            }
            other => findings.push(Finding::new(
                "future-cursor",
                format!("cursor={far} got no FutureCursor error frame ({other:?})"),
            )),
        }
        atproto.done(findings)
    }
}

fixed_property!(LabelsOutdatedCursor, meta::LABELS_OUTDATED_CURSOR, skip: needs_labeler);

impl LabelsOutdatedCursor {
    /// Like `atproto/cursor/outdated-cursor` on the label stream: a target
    /// whose label stream was trimmed must say so before it replays; on a
    /// reference server the case labels past its replay window (256 frames
    /// when embedded) first. Elsewhere, nothing trimmed is noted as untested.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut frames = first_two(&atproto, SUBSCRIBE_LABELS).await?;
        if nothing_trimmed(&frames) && ctx.target.is_reference() {
            let uri = label_uri(&atproto);
            for n in 0..300 {
                make_label(&atproto, &uri, &format!("harness-o{n}"), false).await?;
            }
            frames = first_two(&atproto, SUBSCRIBE_LABELS).await?;
        }
        let findings = outdated_cursor_findings(&frames, true);
        atproto.done(findings)
    }
}
