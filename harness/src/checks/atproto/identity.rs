//! AT Protocol checks of `#account` on an account status change and `#identity` on a handle change, both made through the API's own methods.
//!
//! `com.atproto.server.deactivateAccount` / `activateAccount` and
//! `com.atproto.identity.updateHandle` are what the official PDS offers an
//! account for these changes, so the checks need no producer. Each case
//! reads its account's frames live up to a sentinel: a record written after
//! the change, whose `#commit` ends the read.

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::cbor::Value;
use wire::frame::Frame;

use super::more::shape;
use super::{Atproto, COLLECTION, Session, Subscription, about, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// The statuses the seed's `Account.status` enum allows.
const STATUSES: [&str; 6] = [
    "takendown",
    "suspended",
    "deleted",
    "deactivated",
    "desynchronized",
    "throttled",
];

/// Writes the record `rkey` and reads `live` up to the `#commit` that
/// creates it (not merely the account's next one: a PDS sends an empty
/// `#commit` on account creation); the account's frames up to it.
async fn through_sentinel(
    atproto: &Atproto,
    live: &mut Subscription,
    session: &Session,
    rkey: &str,
) -> Result<Vec<Frame>, String> {
    atproto.post_record(session, rkey).await?;
    let path = format!("{COLLECTION}/{rkey}");
    let writes = |frame: &Frame| {
        let ops = frame.body.get("ops").and_then(Value::as_array);
        ops.into_iter()
            .flatten()
            .any(|op| op.get("path").and_then(Value::as_str) == Some(path.as_str()))
    };
    let frames = live
        .frames_until(2_000, |f| {
            about(f, &session.did) && f.header.t.as_deref() == Some("#commit") && writes(f)
        })
        .await?;
    Ok(frames
        .into_iter()
        .filter(|f| about(f, &session.did))
        .collect())
}

fn of_type<'a>(frames: &'a [Frame], t: &str) -> Vec<&'a Frame> {
    frames
        .iter()
        .filter(|f| f.header.t.as_deref() == Some(t))
        .collect()
}

fn missing(what: &str, problem: String) -> Finding {
    Finding::new("missing", format!("{what}: {problem}"))
}

fixed_property!(AccountStatus, meta::ACCOUNT_STATUS);

impl AccountStatus {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        let session = atproto.account(0).await?;
        let mut findings = Vec::new();
        if let Err(problem) = through_sentinel(&atproto, &mut live, &session, "before").await {
            findings.push(missing("the account's first commit", problem));
            return atproto.done(findings);
        }
        let deactivate = "com.atproto.server.deactivateAccount";
        atproto.write(&session, deactivate, json!({})).await?;
        let activate = "com.atproto.server.activateAccount";
        let (status, answer) = atproto.post_bare(activate, &session.access).await?;
        if status != 200 {
            return Err(format!("{activate} answered {status} {answer}"));
        }
        let frames = match through_sentinel(&atproto, &mut live, &session, "after").await {
            Ok(frames) => frames,
            Err(problem) => {
                findings.push(missing("the commit written after activateAccount", problem));
                return atproto.done(findings);
            }
        };
        let accounts = of_type(&frames, "#account");
        for frame in &accounts {
            findings.extend(shape(frame));
        }
        let active = |f: &&Frame| f.body.get("active").and_then(Value::as_bool);
        let off = accounts.iter().position(|f| active(f) == Some(false));
        let on = off.and_then(|at| accounts[at..].iter().position(|f| active(f) == Some(true)));
        match off {
            None => findings.push(
                Finding::new(
                    "no-account",
                    format!(
                        "deactivateAccount sent no #account with active false ({} #account frames)",
                        accounts.len()
                    ),
                )
                .with_evidence(
                    json!({"types": frames.iter().map(|f| f.header.t.clone()).collect::<Vec<_>>()}),
                ),
            ),
            Some(at) => {
                let status = accounts[at].body.get("status");
                match status.map(Value::as_str) {
                    Some(Some(s)) if STATUSES.contains(&s) => {}
                    None => findings.push(
                        Finding::new(
                            "status",
                            "the inactive #account gives no status (the reason it is not active)",
                        )
                        .informational(),
                    ),
                    _ => findings.push(Finding::new(
                        "status",
                        format!(
                            "the inactive #account's status {status:?} is not one of {STATUSES:?}"
                        ),
                    )),
                }
            }
        }
        if off.is_some() && on.is_none() {
            findings.push(Finding::new(
                "no-account",
                "activateAccount sent no #account with active true after the inactive one",
            ));
        }
        atproto.done(findings)
    }
}

fixed_property!(IdentityHandle, meta::IDENTITY_HANDLE);

impl IdentityHandle {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let mut live = atproto.subscribe(None).await?;
        let session = atproto.account(0).await?;
        let mut findings = Vec::new();
        if let Err(problem) = through_sentinel(&atproto, &mut live, &session, "before").await {
            findings.push(missing("the account's first commit", problem));
            return atproto.done(findings);
        }
        let handle = format!("{}n.test", atproto.nonce);
        let update = "com.atproto.identity.updateHandle";
        atproto
            .write(&session, update, json!({"handle": handle}))
            .await?;
        let frames = match through_sentinel(&atproto, &mut live, &session, "after").await {
            Ok(frames) => frames,
            Err(problem) => {
                findings.push(missing("the commit written after updateHandle", problem));
                return atproto.done(findings);
            }
        };
        let identities = of_type(&frames, "#identity");
        for frame in &identities {
            findings.extend(shape(frame));
        }
        if identities.is_empty() {
            let types: Vec<_> = frames.iter().map(|f| f.header.t.clone()).collect();
            findings.push(
                Finding::new(
                    "no-identity",
                    "updateHandle sent no #identity for the account",
                )
                .with_evidence(json!({"types": types})),
            );
        }
        for frame in identities {
            match frame.body.get("handle") {
                None => {}
                Some(Value::String(h)) if *h == handle || h == "handle.invalid" => {}
                Some(other) => findings.push(Finding::new(
                    "handle",
                    format!("the #identity after updateHandle to {handle} has handle {other:?}"),
                )),
            }
        }
        atproto.done(findings)
    }
}
