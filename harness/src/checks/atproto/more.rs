//! AT Protocol checks of event shapes, `OutdatedCursor`, and seq order.

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::Value;
use wire::frame::Frame;

use super::formats::{is_datetime, is_did, is_tid};
use super::{Atproto, PROMPT, Received, about, fixed_property, seq};
use crate::property::CaseOutcome;
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
pub(super) fn shape(frame: &Frame) -> Vec<Finding> {
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
    findings.extend(formats(t, frame));
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

/// The findings for the formats and sizes the lexicon gives a frame's fields.
fn formats(t: &str, frame: &Frame) -> Vec<Finding> {
    let text = |name: &str| frame.body.get(name).and_then(Value::as_str);
    let mut problems = Vec::new();
    for (name, holds, format) in [
        ("time", is_datetime as fn(&str) -> bool, "a datetime"),
        ("did", is_did, "a DID"),
        ("repo", is_did, "a DID"),
        ("rev", is_tid, "a TID"),
        ("since", is_tid, "a TID"),
    ] {
        if t == "#sync" && name == "rev" {
            // Sync's rev has no format in the lexicon; the relay check matches it to the commit.
            continue;
        }
        if let Some(value) = text(name).filter(|v| !holds(v)) {
            problems.push(format!("{name} {value:?} is not {format}"));
        }
    }
    let limit = match t {
        "#commit" => 2_000_000,
        "#sync" => 10_000,
        _ => usize::MAX,
    };
    let blocks = frame.body.get("blocks").and_then(Value::as_bytes);
    if let Some(len) = blocks.map(<[u8]>::len).filter(|len| *len > limit) {
        problems.push(format!("blocks is {len} bytes, more than {limit}"));
    }
    let ops = frame.body.get("ops").and_then(Value::as_array);
    if let Some(len) = ops.map(<[Value]>::len).filter(|len| *len > 200) {
        problems.push(format!("{len} ops, more than 200"));
    }
    problems
        .into_iter()
        .map(|problem| Finding::new("format", format!("{t} seq {:?}: {problem}", seq(frame))))
        .collect()
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(EventShapes, meta::EVENT_SHAPES);

impl EventShapes {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        // Two repositories: the firehose carries every repository on the host.
        let other = atproto.account(1).await?;
        atproto.post_record(&other, "other").await?;
        let session = atproto.account(0).await?;
        atproto.post_record(&session, "shape").await?;
        let frames = live.until_commits(&session.did, 1, 2_000).await;
        let mut findings = Vec::new();
        match frames {
            Ok(frames) => {
                let commit_of = |did: &str| {
                    frames
                        .iter()
                        .any(|f| about(f, did) && f.header.t.as_deref() == Some("#commit"))
                };
                if !commit_of(&other.did) {
                    findings.push(Finding::new(
                        "missing",
                        "the firehose sent the second repository's commits but not the first's",
                    ));
                }
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
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut frames = first_two(&atproto, crate::client::atproto::SUBSCRIBE_REPOS).await?;
        if nothing_trimmed(&frames) && ctx.target.is_reference() {
            // Write past the reference server's replay window (256 frames when embedded), then look again.
            let session = atproto.account(0).await?;
            for n in 0..300 {
                atproto.post_record(&session, &format!("o{n}")).await?;
            }
            frames = first_two(&atproto, crate::client::atproto::SUBSCRIBE_REPOS).await?;
        }
        let findings = outdated_cursor_findings(&frames, false);
        atproto.done(findings)
    }
}

/// The first two frames after `cursor=1` on `endpoint` (the repos or the label stream).
pub(super) async fn first_two(atproto: &Atproto, endpoint: &str) -> Result<Vec<Frame>, String> {
    let mut subscription = atproto.subscribe_to(endpoint, Some(1)).await?;
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

/// Nothing to see yet after `cursor=1`: an empty target (FutureCursor), or nothing trimmed.
pub(super) fn nothing_trimmed(frames: &[Frame]) -> bool {
    frames
        .first()
        .is_none_or(|f| f.header.op == -1 || seq(f).is_some_and(|s| s <= 2))
}

/// What the frames after `cursor=1` say: a stream that trimmed what the
/// cursor asks for must send `#info OutdatedCursor` before it replays.
pub(super) fn outdated_cursor_findings(frames: &[Frame], labels: bool) -> Vec<Finding> {
    let (next, items, window) = if labels {
        (
            "#labels frame",
            "labels",
            "the label stream's replay window",
        )
    } else {
        ("frame with a seq", "frames", "the replay window")
    };
    let mut findings = Vec::new();
    match frames.first() {
        None => findings.push(Finding::new("missing", "cursor=1 got no frame")),
        Some(first) if first.header.t.as_deref() == Some("#info") => {
            let name = first.body.get("name").and_then(Value::as_str);
            if name != Some("OutdatedCursor") {
                let message = format!("#info named {name:?}, not OutdatedCursor");
                findings.push(Finding::new("info", message));
            }
            if frames.get(1).and_then(seq).is_none() {
                let message = format!("no {next} after #info OutdatedCursor");
                findings.push(Finding::new("missing", message));
            }
        }
        Some(first) => match seq(first) {
            Some(s) if s > 2 => findings.push(
                Finding::new(
                    "no-outdated-cursor",
                    format!("cursor=1 started at seq {s} without #info OutdatedCursor: {items} 2..{s} are gone silently"),
                )
                .with_evidence(json!({"first_seq": s})),
            ),
            _ => findings.push(
                Finding::new(
                    "untested",
                    format!("nothing before {window} was trimmed, so OutdatedCursor could not be provoked"),
                )
                .informational(),
            ),
        },
    }
    findings
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
