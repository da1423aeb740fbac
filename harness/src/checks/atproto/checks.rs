//! AT Protocol checks: strict frames, error headers, a far-future cursor, and commits as a relay verifies them.

use std::collections::BTreeMap;

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::Value;
use wire::frame::Frame;

use super::relay::{Head, signed_commit, verify_commit};
use super::{Atproto, COLLECTION, PROMPT, Received, about, fixed_property, seq};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// A cursor far beyond any real seq.
pub(super) const FAR_FUTURE: u64 = 1 << 52;

/// A `missing` finding: `what` did not come, for `problem`.
pub(super) fn missing(what: &str, problem: String) -> Finding {
    Finding::new("missing", format!("{what}: {problem}"))
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(StrictFrames, meta::STRICT_FRAMES);

impl StrictFrames {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut findings = Vec::new();
        // Public, unauthenticated: the harness subscribes without credentials.
        let mut live = match atproto.subscribe(None).await {
            Ok(live) => live,
            Err(e) => {
                findings.push(Finding::new(
                    "unavailable",
                    format!("an unauthenticated subscribeRepos was refused: {e}"),
                ));
                return atproto.done(findings);
            }
        };
        let session = atproto.account(0).await?;
        atproto.post_record(&session, "strict").await?;
        let mut seen_commit = false;
        for _ in 0..2_000 {
            match live.next(PROMPT).await {
                Received::Frame(Ok(frame)) => {
                    const TYPES: [&str; 5] = ["#commit", "#sync", "#identity", "#account", "#info"];
                    match (frame.header.op, frame.header.t.as_deref()) {
                        (1, None) => findings
                            .push(Finding::new("header", "a message header {op: 1} without t")),
                        (1, Some(t)) if !TYPES.contains(&t) => findings.push(Finding::new(
                            "header",
                            format!("a message of type {t:?}: subscribeRepos sends only {TYPES:?}"),
                        )),
                        _ => {}
                    }
                    if about(&frame, &session.did) && frame.header.t.as_deref() == Some("#commit") {
                        seen_commit = true;
                        break;
                    }
                }
                Received::Frame(Err(e)) => {
                    findings.push(Finding::new(
                        "not-dag-cbor",
                        format!("a frame that is not two strict DAG-CBOR objects: {e}"),
                    ));
                    break;
                }
                Received::Text(text) => {
                    findings.push(Finding::new(
                        "text-message",
                        format!(
                            "a text message on the event stream: {}",
                            text.chars().take(100).collect::<String>()
                        ),
                    ));
                    break;
                }
                other => {
                    findings.push(missing(
                        "the commit of the driver's write",
                        format!("{other:?}"),
                    ));
                    break;
                }
            }
        }
        if findings.is_empty() && !seen_commit {
            findings.push(missing(
                "the commit of the driver's write",
                "not among 2,000 frames".into(),
            ));
        }
        atproto.done(findings)
    }
}

/// The first frame after subscribing with a far-future cursor, and what followed it.
async fn future_cursor_answer(atproto: &Atproto) -> Result<(Option<Frame>, Received), String> {
    let mut subscription = atproto.subscribe(Some(FAR_FUTURE)).await?;
    match subscription.next(PROMPT).await {
        Received::Frame(Ok(frame)) => {
            let after = subscription.next(PROMPT).await;
            Ok((Some(frame), after))
        }
        other => Ok((None, other)),
    }
}

fixed_property!(ErrorHeader, meta::ERROR_HEADER);

impl ErrorHeader {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut findings = Vec::new();
        match future_cursor_answer(&atproto).await? {
            (Some(frame), _) if frame.header.op == -1 => {
                if let Some(t) = &frame.header.t {
                    findings.push(Finding::new(
                        "error-header",
                        format!("the error frame's header has t = {t:?}"),
                    ));
                }
                if frame.body.get("error").and_then(Value::as_str).is_none() {
                    findings.push(Finding::new(
                        "error-body",
                        "the error frame's body has no error string",
                    ));
                }
            }
            (Some(frame), _) => findings.push(Finding::new(
                "no-error-frame",
                format!(
                    "a far-future cursor got {:?} instead of an error frame",
                    frame.header
                ),
            )),
            (None, other) => findings.push(Finding::new(
                "no-error-frame",
                format!("a far-future cursor got no error frame ({other:?}) to check"),
            )),
        }
        atproto.done(findings)
    }
}

fixed_property!(FutureCursor, meta::FUTURE_CURSOR);

impl FutureCursor {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut findings = Vec::new();
        match future_cursor_answer(&atproto).await? {
            (Some(frame), after) => {
                let error = frame.body.get("error").and_then(Value::as_str);
                if frame.header.op != -1 || error != Some("FutureCursor") {
                    findings.push(Finding::new(
                        "future-cursor",
                        format!("cursor={FAR_FUTURE} got {:?} {error:?}, not the error FutureCursor", frame.header),
                    ));
                }
                if !matches!(after, Received::Closed(_)) {
                    findings.push(Finding::new("no-close", format!("after the error frame the connection stayed open ({after:?})")));
                }
            }
            (None, Received::Silent) => findings.push(Finding::new(
                "future-cursor",
                format!("cursor={FAR_FUTURE} was accepted as live: no FutureCursor error within {PROMPT:?}"),
            )),
            (None, other) => findings.push(Finding::new(
                "future-cursor",
                format!("cursor={FAR_FUTURE} got no FutureCursor error frame ({other:?})"),
            )),
        }
        atproto.done(findings)
    }
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(RelayCommit, meta::RELAY_COMMIT);

impl RelayCommit {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        let session = atproto.account(0).await?;
        let repo = |extra: serde_json::Value| {
            let mut body = json!({"repo": session.did, "collection": COLLECTION});
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            body
        };
        let post = crate::client::atproto::record;
        // Enough records for a tree of several layers, so that deletes and
        // inserts need proof nodes beside the path they change.
        let posts = 24;
        for n in 0..posts {
            atproto.post_record(&session, &format!("r{n}")).await?;
        }
        atproto
            .write(
                &session,
                "com.atproto.repo.putRecord",
                repo(json!({"rkey": "r1", "record": post("changed")})),
            )
            .await?;
        for rkey in ["r2", "r5", "r8", "r13"] {
            atproto
                .write(
                    &session,
                    "com.atproto.repo.deleteRecord",
                    repo(json!({"rkey": rkey})),
                )
                .await?;
        }
        let writes = json!([
            {"$type": "com.atproto.repo.applyWrites#create", "collection": COLLECTION, "rkey": "b1", "value": post("b1")},
            {"$type": "com.atproto.repo.applyWrites#delete", "collection": COLLECTION, "rkey": "r3"},
        ]);
        atproto
            .write(
                &session,
                "com.atproto.repo.applyWrites",
                json!({"repo": session.did, "writes": writes}),
            )
            .await?;
        let expected_commits = posts + 1 + 4 + 1;
        let frames = live
            .until_commits(&session.did, expected_commits, 5_000)
            .await;
        let mut findings = Vec::new();
        let frames = match frames {
            Ok(frames) => frames,
            Err(problem) => {
                findings.push(missing("the driver's commits", problem));
                return atproto.done(findings);
            }
        };
        let key = atproto.signing_key(&session.did).await?;
        findings.extend(relay(&frames, &session.did, &key));
        atproto.done(findings)
    }
}

/// Follows the account's frames as a relay would, from its `#sync` on:
/// each `#commit` is verified against the head before it, up to the first
/// that does not verify.
fn relay(frames: &[Frame], did: &str, key: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut heads: BTreeMap<String, Head> = BTreeMap::new();
    for frame in frames.iter().filter(|f| about(f, did)) {
        let s = seq(frame).unwrap_or(0);
        match frame.header.t.as_deref() {
            Some("#sync") => match signed_commit(&frame.body, did, key) {
                Ok((_, data, rev)) => {
                    heads.insert(did.to_owned(), Head { rev, data });
                }
                Err((kind, message)) => {
                    findings.push(Finding::new(kind, format!("#sync seq {s}: {message}")))
                }
            },
            Some("#commit") => match verify_commit(&frame.body, key, heads.get(did)) {
                Ok(head) => {
                    heads.insert(did.to_owned(), head);
                }
                Err((kind, message)) => {
                    findings.push(Finding::new(kind, format!("#commit seq {s}: {message}")));
                    break;
                }
            },
            _ => {}
        }
    }
    findings
}
