//! `subscribeLabels` cursors beyond the stream: `FutureCursor` for one in the future, `#info OutdatedCursor` for one before the replay window.

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::Value;
use wire::frame::Frame;

use super::labels::{SUBSCRIBE_LABELS, label_uri, make_label, needs_labeler};
use super::{Atproto, PROMPT, Received, fixed_property, seq};
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
    /// The first two frames after `cursor=1`.
    async fn first_two(atproto: &Atproto) -> Result<Vec<Frame>, String> {
        let mut subscription = atproto.subscribe_to(SUBSCRIBE_LABELS, Some(1)).await?;
        let mut frames = Vec::new();
        while frames.len() < 2 {
            match subscription.next(PROMPT).await {
                Received::Frame(Ok(frame)) => frames.push(frame),
                Received::Frame(Err(e)) => return Err(format!("an undecodable frame: {e}")),
                _ => break,
            }
        }
        Ok(frames)
    }

    /// Like `atproto/cursor/outdated-cursor` on the label stream: a target
    /// whose label stream was trimmed must say so before it replays; on a
    /// reference server the case labels past its replay window (256 frames
    /// when embedded) first. Elsewhere, nothing trimmed is noted as untested.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut frames = Self::first_two(&atproto).await?;
        let nothing_trimmed = |frames: &[Frame]| {
            frames
                .first()
                .is_none_or(|f| f.header.op == -1 || seq(f).is_some_and(|s| s <= 2))
        };
        if nothing_trimmed(&frames) && ctx.target.is_reference() {
            let uri = label_uri(&atproto);
            for n in 0..300 {
                make_label(&atproto, &uri, &format!("harness-o{n}"), false).await?;
            }
            frames = Self::first_two(&atproto).await?;
        }
        let mut findings = Vec::new();
        match frames.first() {
            None => findings.push(Finding::new("missing", "cursor=1 got no frame")),
            Some(first) if first.header.t.as_deref() == Some("#info") => {
                let name = first.body.get("name").and_then(Value::as_str);
                if name != Some("OutdatedCursor") {
                    findings.push(Finding::new("info", format!("#info named {name:?}, not OutdatedCursor")));
                }
                if frames.get(1).and_then(seq).is_none() {
                    findings.push(Finding::new("missing", "no #labels frame after #info OutdatedCursor"));
                }
            }
            Some(first) => match seq(first) {
                Some(s) if s > 2 => findings.push(
                    Finding::new("no-outdated-cursor", format!("cursor=1 started at seq {s} without #info OutdatedCursor: labels 2..{s} are gone silently"))
                        .with_evidence(json!({"first_seq": s})),
                ),
                _ => findings.push(
                    Finding::new("untested", "nothing before the label stream's replay window was trimmed, so OutdatedCursor could not be provoked").informational(),
                ),
            },
        }
        atproto.done(findings)
    }
}
