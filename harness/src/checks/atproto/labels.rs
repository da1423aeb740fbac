//! AT Protocol label stream checks: signed labels and replay from a cursor on `subscribeLabels`.
//!
//! Labels are made through the producer's `label` action, or, on a
//! reference server without one, through its control API: a labeler has no
//! standard write method for labels.

use std::collections::BTreeMap;

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::{Value, encode};
use wire::frame::Frame;

use super::formats::{is_datetime, is_did};
use super::relay::{check_signature, k256_key};
use super::{Atproto, PROMPT, Received, Subscription, fixed_property, seq};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

pub const SUBSCRIBE_LABELS: &str = "com.atproto.label.subscribeLabels";

/// Label checks run where labels can be made: a reference server, or a producer with the `label` action.
pub fn needs_labeler(ctx: &CheckContext) -> Option<String> {
    (!ctx.can_produce()).then(|| {
        "needs a --producer with the atproto `label` action (a labeler has no standard write method for labels): the target is not a reference server and no producer was given".to_owned()
    })
}

/// An AT URI of the case's own, so labels of other cases are told apart.
pub(super) fn label_uri(atproto: &Atproto) -> String {
    format!(
        "at://did:plc:{}/com.example.harness.record/{}",
        "a".repeat(24),
        atproto.nonce
    )
}

/// Makes one label on `uri` through the producer's `label` action, or the reference server's control API.
pub(super) async fn make_label(
    atproto: &Atproto,
    uri: &str,
    val: &str,
    neg: bool,
) -> Result<(), String> {
    let ctx = &atproto.ctx;
    if let Some(producer) = &ctx.producer {
        let request =
            json!({"api": "atproto", "action": "label", "uri": uri, "val": val, "neg": neg});
        return producer
            .request(&request)
            .await
            .map(|_| ())
            .map_err(|e| format!("the producer's atproto label action: {e}"));
    }
    let request = ctx
        .http
        .post(format!("{}/_control/atproto/labels", atproto.base()))
        .bearer_auth(ctx.target.control_token())
        .json(&json!({"uri": uri, "val": val, "neg": neg}));
    let response = atproto
        .call(request)
        .await
        .map_err(|e| format!("making a label: {e}"))?;
    if response.status != 200 {
        return Err(format!(
            "the control API answered {} {}",
            response.status, response.body
        ));
    }
    Ok(())
}

/// One label on the case's URI, with the seq of the frame that carried it.
#[derive(Debug, Clone)]
struct Seen {
    seq: Option<u64>,
    label: Value,
}

impl Seen {
    fn val(&self) -> &str {
        self.label
            .get("val")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Reads `subscription` until `stop` holds for the labels on `uri` seen so
/// far (each within [`PROMPT`]), noting every frame whose header is not
/// `{op: 1, t: "#labels" | "#info"}`.
async fn read_labels(
    subscription: &mut Subscription,
    uri: &str,
    mut stop: impl FnMut(&[Seen], &Frame) -> bool,
) -> Result<(Vec<Seen>, Vec<u64>, Vec<Finding>), String> {
    let (mut seen, mut seqs, mut findings) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2_000 {
        let frame = match subscription.next(PROMPT).await {
            Received::Frame(Ok(frame)) => frame,
            Received::Frame(Err(e)) => return Err(format!("an undecodable frame: {e}")),
            Received::Text(_) => return Err("a text message on the label stream".to_owned()),
            Received::Closed(reason) => return Err(reason),
            Received::Silent => return Err(format!("no frame within {PROMPT:?}")),
        };
        match (frame.header.op, frame.header.t.as_deref()) {
            (1, Some("#labels")) => {
                seqs.extend(seq(&frame));
                let labels = frame.body.get("labels").and_then(Value::as_array);
                for label in labels.into_iter().flatten() {
                    if label.get("uri").and_then(Value::as_str) == Some(uri) {
                        seen.push(Seen {
                            seq: seq(&frame),
                            label: label.clone(),
                        });
                    }
                }
            }
            (1, Some("#info")) => {}
            (op, t) => findings.push(Finding::new(
                "header",
                format!("a label stream frame with header op {op}, t {t:?}: only #labels and #info are sent"),
            )),
        }
        if stop(&seen, &frame) {
            return Ok((seen, seqs, findings));
        }
    }
    Err("2,000 frames without the labels awaited".to_owned())
}

fixed_property!(LabelsSigned, meta::LABELS_SIGNED, skip: needs_labeler);

impl LabelsSigned {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut findings = Vec::new();
        let mut live = match atproto.subscribe_to(SUBSCRIBE_LABELS, None).await {
            Ok(live) => live,
            Err(e) => {
                findings.push(Finding::new(
                    "unavailable",
                    format!("an unauthenticated subscribeLabels was refused: {e}"),
                ));
                return atproto.done(findings);
            }
        };
        let uri = label_uri(&atproto);
        make_label(&atproto, &uri, "harness-check", false).await?;
        make_label(&atproto, &uri, "harness-check", true).await?;
        let labels = match read_labels(&mut live, &uri, |seen, _| seen.len() >= 2).await {
            Ok((labels, seqs, more)) => {
                findings.extend(more);
                if !seqs.windows(2).all(|w| w[0] < w[1]) {
                    findings.push(Finding::new(
                        "nonmonotonic",
                        format!("#labels seqs {seqs:?}"),
                    ));
                }
                labels
            }
            Err(problem) => {
                findings.push(Finding::new(
                    "missing",
                    format!("the case's 2 labels: {problem}"),
                ));
                return atproto.done(findings);
            }
        };
        for (n, seen) in labels.iter().enumerate() {
            if seen.seq.is_none() {
                findings.push(Finding::new(
                    "shape",
                    "a #labels frame without an integer seq",
                ));
            }
            findings.extend(label_findings(&atproto, n, &seen.label).await?);
        }
        atproto.done(findings)
    }
}

/// What is wrong with label `n` (the second one negates the first): its
/// shape (`ver` is optional, an integer when present), its `neg`, and its
/// signature by the `#atproto_label` key of its `src`.
async fn label_findings(
    atproto: &Atproto,
    n: usize,
    label: &Value,
) -> Result<Vec<Finding>, String> {
    let Value::Map(fields) = label else {
        return Ok(vec![Finding::new("shape", "a label that is not a map")]);
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let mut problems = Vec::new();
    if fields.get("ver").is_some_and(|v| v.as_i64().is_none()) {
        problems.push("ver is not an integer".to_owned());
    }
    if !text("src").is_some_and(is_did) {
        problems.push(format!("src {:?} is not a DID", fields.get("src")));
    }
    if text("uri").is_none() {
        problems.push("uri is missing".to_owned());
    }
    if !text("val").is_some_and(|v| !v.is_empty() && v.len() <= 128) {
        problems.push(format!(
            "val {:?} is not a string of at most 128 bytes",
            fields.get("val")
        ));
    }
    if !text("cts").is_some_and(is_datetime) {
        problems.push(format!("cts {:?} is not a datetime", fields.get("cts")));
    }
    if !problems.is_empty() {
        return Ok(vec![Finding::new(
            "shape",
            format!("label {n}: {}", problems.join("; ")),
        )]);
    }
    let src = text("src").unwrap_or_default();
    let mut findings = Vec::new();
    let negated = fields.get("neg") == Some(&Value::Bool(true));
    if negated != (n == 1) {
        findings.push(Finding::new("neg", format!("label {n} has neg {negated}")));
    }
    let mut unsigned: BTreeMap<String, Value> = fields.clone();
    let sig = unsigned.remove("sig");
    let key = atproto.key(src, "atproto_label").await?;
    let verified = match sig {
        Some(Value::Bytes(sig)) => k256_key(&key)
            .and_then(|key| check_signature(&key, &encode(&Value::Map(unsigned)), &sig)),
        _ => Err(("signature", "the label has no sig bytes".to_owned())),
    };
    if let Err((kind, message)) = verified {
        findings.push(Finding::new(
            kind,
            format!("label {n} from {src}: {message} (#atproto_label key)"),
        ));
    }
    Ok(findings)
}

fixed_property!(LabelsReplay, meta::LABELS_REPLAY, skip: needs_labeler);

impl LabelsReplay {
    /// Three labels read live, then a connection from the second one's seq:
    /// it replays from that frame or the next (either reading of "the seq to
    /// backfill from"), nothing earlier, and every later label.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let uri = label_uri(&atproto);
        let mut live = atproto.subscribe_to(SUBSCRIBE_LABELS, None).await?;
        for n in 0..3 {
            make_label(&atproto, &uri, &format!("harness-{n}"), false).await?;
        }
        let mut findings = Vec::new();
        let own = match read_labels(&mut live, &uri, |seen, _| seen.len() >= 3).await {
            Ok((own, _, more)) => {
                findings.extend(more);
                own
            }
            Err(problem) => {
                findings.push(Finding::new(
                    "missing",
                    format!("the case's 3 labels, live: {problem}"),
                ));
                return atproto.done(findings);
            }
        };
        let seqs: Vec<u64> = own.iter().filter_map(|s| s.seq).collect();
        let (Some(&cursor), Some(&last)) = (seqs.get(1), seqs.last()) else {
            findings.push(Finding::new(
                "shape",
                format!("#labels frames without seqs: {seqs:?}"),
            ));
            return atproto.done(findings);
        };
        if last <= cursor {
            let text =
                format!("the labels came in one frame (seqs {seqs:?}): no later frame to replay");
            findings.push(Finding::new("untested", text).informational());
            return atproto.done(findings);
        }
        // A label on another subject after the three: its frame is past
        // `last`, so a replay that lost the third label still ends at once.
        make_label(&atproto, &format!("{uri}-end"), "harness-end", false).await?;
        let mut replay = atproto.subscribe_to(SUBSCRIBE_LABELS, Some(cursor)).await?;
        let mut all = Vec::new();
        let got = read_labels(&mut replay, &uri, |_, frame| {
            all.extend(seq(frame));
            seq(frame).is_some_and(|s| s >= last)
        })
        .await;
        let got = match got {
            Ok((got, _, more)) => {
                findings.extend(more);
                got
            }
            Err(problem) => {
                findings.push(Finding::new(
                    "missing",
                    format!("the replay from cursor={cursor}: {problem}"),
                ));
                return atproto.done(findings);
            }
        };
        findings.extend(replay_findings(cursor, &own, &got, &all));
        atproto.done(findings)
    }
}

/// The findings of a replay from `cursor`: `own` is what the live connection
/// saw of the case's labels, `got` what the replay sent of them, `all` the
/// seqs of every frame it sent.
fn replay_findings(cursor: u64, own: &[Seen], got: &[Seen], all: &[u64]) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(first) = all.first().filter(|s| **s < cursor) {
        findings.push(
            Finding::new(
                "before-cursor",
                format!(
                    "cursor={cursor} replayed seq {first}, before the cursor under either reading"
                ),
            )
            .with_evidence(json!({"cursor": cursor, "seqs": all})),
        );
    }
    if !all.windows(2).all(|w| w[0] < w[1]) {
        findings.push(Finding::new(
            "nonmonotonic",
            format!("replayed seqs {all:?}"),
        ));
    }
    let key = |seen: &[Seen], from: u64| -> Vec<(u64, String)> {
        seen.iter()
            .filter_map(|s| s.seq.map(|seq| (seq, s.val().to_owned())))
            .filter(|(seq, _)| *seq >= from)
            .collect()
    };
    let got = key(got, 0);
    let (inclusive, exclusive) = (key(own, cursor), key(own, cursor + 1));
    if got == inclusive {
        findings.push(Finding::new("reading", format!("cursor={cursor} replayed the frame at the cursor first: the seq >= cursor reading")).informational());
    } else if got == exclusive {
        findings.push(Finding::new("reading", format!("cursor={cursor} replayed from the frame after the cursor: the seq > cursor reading")).informational());
    } else {
        findings.push(
            Finding::new(
                "lost",
                format!("from cursor={cursor} the case's labels {inclusive:?} (or, reading > cursor, {exclusive:?}) came back as {got:?}"),
            )
            .with_evidence(json!({"cursor": cursor, "seqs": all})),
        );
    }
    findings
}
