//! At-least-once across cuts: connections the client closes or resets at any frame, each resumed from the last seq it saw.
//!
//! The fault proxy frames HTTP/1.1 bodies, not WebSocket messages, so the
//! client makes the cuts itself: a close frame, or a TCP reset that throws
//! away what the kernel had buffered. To the server both look like a consumer
//! that went away; what matters is that the next connection, opened with
//! `cursor` = the last seq received, delivers every commit after it (and
//! perhaps that last one again, under the spec's inclusive reading).

use std::collections::HashSet;
use std::time::Duration;

use scenarios::atproto::meta;
use scenarios::atproto::plans::{CutKind, CutsPlan, cuts_plan};
use scenarios::delivery::{self, Connection, Expected, Observation, Promise, Start};
use scenarios::transcript::Observed;
use wire::cbor::Value as Cbor;
use wire::frame::Frame;

use super::{Atproto, COLLECTION, PROMPT, Received, Session, Subscription, about, seq};
use crate::checks::generated_property;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

generated_property!(ResumeAfterCuts, meta::RESUME_AFTER_CUTS, CutsPlan,
    strategy: cuts_plan(6),
    cases: |requested| requested.div_ceil(2),
    // The driver writes through the API itself (createAccount, createRecord).
    skip: |_: &CheckContext| None::<String>,
    run: cuts_case);

/// How long a cut connection waits for more frames once every commit is in.
const SETTLE: Duration = Duration::from_millis(200);

/// The record path of a `#commit` of the driver's collection, its item id.
fn commit_path(frame: &Frame) -> Option<String> {
    if frame.header.t.as_deref() != Some("#commit") {
        return None;
    }
    let ops = frame.body.get("ops").and_then(Cbor::as_array)?;
    ops.iter()
        .filter_map(|op| op.get("path").and_then(Cbor::as_str))
        .find(|path| path.starts_with(COLLECTION))
        .map(str::to_owned)
}

impl Subscription {
    /// Ends the connection the way `kind` says, recording it.
    async fn cut(mut self, kind: CutKind) {
        match kind {
            CutKind::Close => {
                let _ = tokio::time::timeout(SETTLE, self.ws.close(None)).await;
            }
            CutKind::Reset => {
                if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = self.ws.get_ref() {
                    let _ = tcp.set_zero_linger();
                }
            }
        }
        self.recorder.record(
            self.conn,
            Observed::Closed {
                reason: format!("the harness cut the connection ({kind:?})"),
            },
        );
    }
}

async fn write_all(atproto: &Atproto, session: &Session, writes: usize) -> Result<(), String> {
    for n in 0..writes {
        atproto.post_record(session, &format!("c{n}")).await?;
    }
    Ok(())
}

async fn cuts_case(ctx: CheckContext, plan: CutsPlan) -> Result<CaseOutcome, String> {
    let atproto = Atproto::new(&ctx);
    // The seq of the account's first frame: every connection can start there.
    let mut live = atproto.subscribe(None).await?;
    let session = atproto.account(0).await?;
    let first = live.frames_until(2_000, |f| about(f, &session.did)).await?;
    let mut cursor = first
        .last()
        .and_then(seq)
        .ok_or("the account's first frame has no seq")?;
    drop(live);
    let paths: Vec<String> = (0..plan.writes)
        .map(|n| format!("{COLLECTION}/c{n}"))
        .collect();
    let mut wrote = false;
    if plan.before {
        write_all(&atproto, &session, plan.writes).await?;
        wrote = true;
    }
    let mut connections = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut last_item: Option<String> = None;
    let mut findings = Vec::new();
    for k in 0..=plan.cuts.len() {
        let cut = plan.cuts.get(k);
        let mut sub = atproto.subscribe(Some(cursor)).await?;
        // The spec reads `cursor` as seq >= cursor, implementations as > cursor
        // (`replay-either-reading`): either may open with the last commit seen.
        let start = last_item.clone().map_or(Start::Beginning, Start::AtOrAfter);
        if !wrote {
            write_all(&atproto, &session, plan.writes).await?;
            wrote = true;
        }
        let mut delivered = Vec::new();
        let mut frames = 0;
        let mut ended = None;
        loop {
            // A cut connection reads its frames; the last one reads until every
            // commit is in, or until the last write (after it, in seq order,
            // nothing missing can come on this connection).
            let done = match cut {
                Some(cut) => frames >= cut.frames,
                None => {
                    seen.len() == plan.writes
                        || delivered
                            .last()
                            .is_some_and(|(id, _)| Some(id) == paths.last())
                }
            };
            if done {
                break;
            }
            let all_in = seen.len() == plan.writes;
            match sub.next(if all_in { SETTLE } else { PROMPT }).await {
                Received::Frame(Ok(frame)) => {
                    frames += 1;
                    if let Some(s) = seq(&frame) {
                        cursor = s;
                    }
                    if about(&frame, &session.did)
                        && let Some(path) = commit_path(&frame)
                    {
                        seen.insert(path.clone());
                        last_item = Some(path.clone());
                        delivered.push((path.clone(), path));
                    }
                }
                Received::Silent if all_in => break,
                Received::Silent => {
                    ended = Some(format!("no frame within {PROMPT:?}"));
                    break;
                }
                Received::Frame(Err(e)) => {
                    ended = Some(format!("an undecodable frame: {e}"));
                    break;
                }
                Received::Text(_) => {
                    ended = Some("a text message on the event stream".to_owned());
                    break;
                }
                Received::Closed(reason) => {
                    ended = Some(reason);
                    break;
                }
            }
        }
        connections.push(Connection {
            conn: sub.conn,
            start,
            delivered,
        });
        if let Some(reason) = ended {
            if seen.len() < plan.writes {
                findings.push(scenarios::Finding::new(
                    "stream-ended",
                    format!(
                        "connection {} (cursor {cursor}) ended before every commit arrived: {reason}",
                        k + 1
                    ),
                ));
            }
            break;
        }
        if let Some(cut) = cut {
            sub.cut(cut.kind).await;
        }
    }
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: paths
            .iter()
            .map(|p| Expected {
                id: p.clone(),
                content: p.clone(),
            })
            .collect(),
        published: paths,
        connections,
        complete: true,
    };
    findings.extend(delivery::check(&observation));
    atproto.done(findings)
}
