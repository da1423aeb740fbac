//! AT Protocol checks of event shapes, `OutdatedCursor`, and signed labels.

use std::collections::BTreeMap;

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::{Value, encode};
use wire::frame::Frame;

use super::relay::{check_signature, k256_key};
use super::{Atproto, PROMPT, Received, about, fixed_property, seq};
use crate::property::CaseOutcome;
use crate::record;
use crate::runner::CheckContext;

/// What a field must hold.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bool,
    Bytes,
    Link,
    List,
    /// Text or null, and present.
    NullableText,
}

fn fits(value: &Value, kind: Kind) -> bool {
    matches!(
        (kind, value),
        (Kind::Int, Value::Integer(_))
            | (Kind::Text, Value::String(_))
            | (Kind::Bool, Value::Bool(_))
            | (Kind::Bytes, Value::Bytes(_))
            | (Kind::Link, Value::Link(_))
            | (Kind::List, Value::Array(_))
            | (Kind::NullableText, Value::String(_) | Value::Null)
    )
}

/// The required fields of each message type, from the subscribeRepos lexicon.
fn required(t: &str) -> &'static [(&'static str, Kind)] {
    match t {
        "#identity" => &[
            ("seq", Kind::Int),
            ("did", Kind::Text),
            ("time", Kind::Text),
        ],
        "#account" => &[
            ("seq", Kind::Int),
            ("did", Kind::Text),
            ("time", Kind::Text),
            ("active", Kind::Bool),
        ],
        "#sync" => &[
            ("seq", Kind::Int),
            ("did", Kind::Text),
            ("blocks", Kind::Bytes),
            ("rev", Kind::Text),
            ("time", Kind::Text),
        ],
        "#commit" => &[
            ("seq", Kind::Int),
            ("rebase", Kind::Bool),
            ("tooBig", Kind::Bool),
            ("repo", Kind::Text),
            ("commit", Kind::Link),
            ("rev", Kind::Text),
            ("since", Kind::NullableText),
            ("blocks", Kind::Bytes),
            ("ops", Kind::List),
            ("blobs", Kind::List),
            ("time", Kind::Text),
        ],
        _ => &[],
    }
}

/// The findings for one frame's shape.
fn shape(frame: &Frame) -> Vec<Finding> {
    let t = frame.header.t.as_deref().unwrap_or("");
    let mut findings = Vec::new();
    for (name, kind) in required(t) {
        match frame.body.get(name) {
            Some(value) if fits(value, *kind) => {}
            Some(value) => findings.push(Finding::new(
                "shape",
                format!(
                    "{t} seq {:?}: {name} is a {}, not {kind:?}",
                    seq(frame),
                    value.type_name()
                ),
            )),
            None => findings.push(Finding::new(
                "shape",
                format!(
                    "{t} seq {:?}: the required field {name} is missing",
                    seq(frame)
                ),
            )),
        }
    }
    if t == "#commit" {
        for flag in ["rebase", "tooBig"] {
            if frame.body.get(flag) == Some(&Value::Bool(true)) {
                findings.push(Finding::new(
                    "shape",
                    format!(
                        "#commit seq {:?}: {flag} is true (deprecated; always false)",
                        seq(frame)
                    ),
                ));
            }
        }
    }
    findings
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(EventShapes, meta::EVENT_SHAPES);

impl EventShapes {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        let session = atproto.account(0).await?;
        atproto.post_record(&session, "shape").await?;
        let frames = live.until_commits(&session.did, 1, 2_000).await;
        let mut findings = Vec::new();
        match frames {
            Ok(frames) => {
                let own: Vec<&Frame> = frames.iter().filter(|f| about(f, &session.did)).collect();
                for frame in &own {
                    findings.extend(shape(frame));
                }
                let kinds: Vec<&str> = own.iter().filter_map(|f| f.header.t.as_deref()).collect();
                for wanted in ["#identity", "#account"] {
                    if !kinds.contains(&wanted) {
                        findings.push(Finding::new(
                            "missing",
                            format!("account creation sent no {wanted} (got {kinds:?})"),
                        ));
                    }
                }
            }
            Err(problem) => findings.push(Finding::new(
                "missing",
                format!("the driver's frames: {problem}"),
            )),
        }
        atproto.done(findings)
    }
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(OutdatedCursor, meta::OUTDATED_CURSOR);

impl OutdatedCursor {
    /// The first two frames after `cursor=1`.
    async fn first_two(atproto: &Atproto) -> Result<Vec<Frame>, String> {
        let mut subscription = atproto.subscribe(Some(1)).await?;
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

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut frames = Self::first_two(&atproto).await?;
        // Nothing to see yet: an empty target (FutureCursor), or nothing trimmed.
        let nothing_trimmed = |frames: &[Frame]| {
            frames
                .first()
                .is_none_or(|f| f.header.op == -1 || seq(f).is_some_and(|s| s <= 2))
        };
        if nothing_trimmed(&frames) && ctx.target.is_reference() {
            // Write past the reference server's replay window (256 frames when embedded), then look again.
            let session = atproto.account(0).await?;
            for n in 0..300 {
                atproto.post_record(&session, &format!("o{n}")).await?;
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
                    findings.push(Finding::new("missing", "no frame with a seq after #info OutdatedCursor"));
                }
            }
            Some(first) => match seq(first) {
                Some(s) if s > 2 => findings.push(
                    Finding::new("no-outdated-cursor", format!("cursor=1 started at seq {s} without #info OutdatedCursor: frames 2..{s} are gone silently"))
                        .with_evidence(json!({"first_seq": s})),
                ),
                _ => findings.push(
                    Finding::new("untested", "nothing before the replay window was trimmed, so OutdatedCursor could not be provoked").informational(),
                ),
            },
        }
        atproto.done(findings)
    }
}

// The driver writes through the API itself.
fixed_property!(SeqIncreasing, meta::SEQ_INCREASING);

impl SeqIncreasing {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        let session = atproto.account(0).await?;
        let posts = 8;
        for n in 0..posts {
            atproto.post_record(&session, &format!("s{n}")).await?;
        }
        // Live, then the same frames again as a replay from before the account.
        let frames = live.until_commits(&session.did, posts, 2_000).await;
        let mut findings = Vec::new();
        let live_seqs: Vec<u64> = match &frames {
            Ok(frames) => frames.iter().filter_map(seq).collect(),
            Err(problem) => {
                findings.push(Finding::new(
                    "missing",
                    format!("the driver's frames: {problem}"),
                ));
                return atproto.done(findings);
            }
        };
        let cursor = live_seqs.first().map_or(0, |s| s.saturating_sub(1));
        let mut replay = atproto.subscribe(Some(cursor)).await?;
        let last = live_seqs.last().copied().unwrap_or(0);
        let replayed: Vec<u64> = replay
            .frames_until(2_000, |f| seq(f).is_some_and(|s| s >= last))
            .await
            .map(|frames| frames.iter().filter_map(seq).collect())
            .unwrap_or_default();
        for (what, seqs) in [("live", &live_seqs), ("replayed", &replayed)] {
            if seqs.contains(&0) {
                findings.push(Finding::new(
                    "seq",
                    format!("a {what} frame has seq 0; seqs are positive"),
                ));
            }
            if let Some(pair) = seqs.windows(2).find(|w| w[0] >= w[1]) {
                let kind = if pair[0] == pair[1] {
                    "seq-repeated"
                } else {
                    "nonmonotonic"
                };
                findings.push(
                    Finding::new(
                        kind,
                        format!("{what}: seq {} followed by {}", pair[0], pair[1]),
                    )
                    .with_evidence(json!({"seqs": seqs})),
                );
            }
        }
        atproto.done(findings)
    }
}

fixed_property!(LabelsSigned, meta::LABELS_SIGNED, skip: Self::skip);

impl LabelsSigned {
    fn skip(ctx: &CheckContext) -> Option<String> {
        (!ctx.target.is_reference()).then(|| {
            "labels are made through the reference server's control API; a labeler has no standard write method".to_owned()
        })
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto
            .subscribe_to("com.atproto.label.subscribeLabels", None)
            .await?;
        let uri = format!(
            "at://did:plc:{}/app.bsky.feed.post/3kaaaaaaaaaaa",
            "a".repeat(24)
        );
        make_labels(&atproto, &uri).await?;
        let mut findings = Vec::new();
        let mut labels = Vec::new();
        let mut seqs = Vec::new();
        while labels.len() < 2 {
            match live.next(PROMPT).await {
                Received::Frame(Ok(frame)) if frame.header.t.as_deref() == Some("#labels") => {
                    seqs.extend(seq(&frame));
                    if let Some(list) = frame.body.get("labels").and_then(Value::as_array) {
                        labels.extend(
                            list.iter()
                                .filter(|l| {
                                    l.get("uri").and_then(Value::as_str) == Some(uri.as_str())
                                })
                                .cloned(),
                        );
                    }
                }
                Received::Frame(Ok(_)) => {}
                other => {
                    findings.push(Finding::new(
                        "missing",
                        format!("{} of 2 labels arrived: {other:?}", labels.len()),
                    ));
                    return atproto.done(findings);
                }
            }
        }
        if !seqs.windows(2).all(|w| w[0] < w[1]) {
            findings.push(Finding::new(
                "nonmonotonic",
                format!("#labels seqs {seqs:?}"),
            ));
        }
        for (n, label) in labels.iter().enumerate() {
            findings.extend(label_findings(&atproto, n, label).await?);
        }
        atproto.done(findings)
    }
}

/// Labels `uri` with `harness-check` through the reference server's control API, then negates it.
async fn make_labels(atproto: &Atproto, uri: &str) -> Result<(), String> {
    let ctx = &atproto.ctx;
    for neg in [false, true] {
        let request = ctx
            .http
            .post(format!("{}/_control/atproto/labels", atproto.base()))
            .bearer_auth(ctx.target.control_token())
            .json(&json!({"uri": uri, "val": "harness-check", "neg": neg}));
        let response = record::call(
            &atproto.recorder,
            &ctx.http,
            request,
            &Default::default(),
            PROMPT,
        )
        .await
        .map_err(|e| format!("making a label: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "the control API answered {} {}",
                response.status, response.body
            ));
        }
    }
    Ok(())
}

/// What is wrong with label `n` (the second one negates the first): its
/// shape, its `neg`, and its signature by the `#atproto_label` key of its `src`.
async fn label_findings(
    atproto: &Atproto,
    n: usize,
    label: &Value,
) -> Result<Vec<Finding>, String> {
    let Value::Map(fields) = label else {
        return Ok(vec![Finding::new("shape", "a label that is not a map")]);
    };
    let mut unsigned: BTreeMap<String, Value> = fields.clone();
    let sig = unsigned.remove("sig");
    let src = fields
        .get("src")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if fields.get("ver").and_then(Value::as_i64) != Some(1) || src.is_empty() {
        return Ok(vec![Finding::new(
            "shape",
            format!("label {n} lacks ver: 1 or src"),
        )]);
    }
    let mut findings = Vec::new();
    let negated = fields.get("neg") == Some(&Value::Bool(true));
    if negated != (n == 1) {
        findings.push(Finding::new("neg", format!("label {n} has neg {negated}")));
    }
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
