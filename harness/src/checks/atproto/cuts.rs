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
use scenarios::atproto::plans::{ClientCut, CutKind, CutsPlan, cuts_plan};
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
    // The driver writes through the API itself (createAccount, createRecord): it never skips.
    run: cuts_case);

/// How long a cut connection waits for more frames once every commit is in.
const SETTLE: Duration = Duration::from_millis(200);

/// The record key written after the plan's records: once its commit arrives,
/// nothing the plan wrote can still come, so a lost one ends the case at once.
const SENTINEL: &str = "end";

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

/// The plan's records, then the sentinel.
async fn write_all(atproto: &Atproto, session: &Session, writes: usize) -> Result<(), String> {
    for n in 0..writes {
        atproto.post_record(session, &format!("c{n}")).await?;
    }
    atproto.post_record(session, SENTINEL).await.map(drop)
}

async fn cuts_case(ctx: CheckContext, plan: CutsPlan) -> Result<CaseOutcome, String> {
    let atproto = Atproto::new(&ctx);
    // The seq of the account's first frame: every connection can start there.
    let mut live = atproto.subscribe(None).await?;
    let session = atproto.account(0).await?;
    let first = live.frames_until(2_000, |f| about(f, &session.did)).await?;
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
    let mut reading = Reading {
        did: &session.did,
        paths: &paths,
        cursor: first
            .last()
            .and_then(seq)
            .ok_or("the account's first frame has no seq")?,
        seen: HashSet::new(),
        last_item: None,
        sentinel: format!("{COLLECTION}/{SENTINEL}"),
        ended: false,
    };
    let mut findings = Vec::new();
    for k in 0..=plan.cuts.len() {
        let cut = plan.cuts.get(k);
        let mut sub = atproto.subscribe(Some(reading.cursor)).await?;
        // The spec reads `cursor` as seq >= cursor, implementations as > cursor
        // (`replay-either-reading`): either may open with the last commit seen.
        let start = reading
            .last_item
            .clone()
            .map_or(Start::Beginning, Start::AtOrAfter);
        if !wrote {
            write_all(&atproto, &session, plan.writes).await?;
            wrote = true;
        }
        let (delivered, ended) = reading.connection(&mut sub, cut).await;
        connections.push(Connection {
            conn: sub.conn,
            start,
            delivered,
        });
        if reading.ended {
            break;
        }
        if let Some(reason) = ended {
            if reading.seen.len() < plan.writes {
                findings.push(scenarios::Finding::new(
                    "stream-ended",
                    format!(
                        "connection {} (cursor {}) ended before every commit arrived: {reason}",
                        k + 1,
                        reading.cursor
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

/// What the connections so far have read, carried from one to the next.
struct Reading<'a> {
    /// The driver's account.
    did: &'a str,
    /// Every record path written, in order.
    paths: &'a [String],
    /// The last seq received: where the next connection resumes.
    cursor: u64,
    seen: HashSet<String>,
    last_item: Option<String>,
    /// The sentinel's record path, and whether it has come.
    sentinel: String,
    ended: bool,
}

impl Reading<'_> {
    /// Reads one connection: `cut`'s frames, or, for the last one, until
    /// every commit is in or the last write came (after it, in seq order,
    /// nothing missing can come on this connection); any connection ends at
    /// the sentinel. What it delivered, and why it ended early, if it did.
    async fn connection(
        &mut self,
        sub: &mut Subscription,
        cut: Option<&ClientCut>,
    ) -> (Vec<(String, String)>, Option<String>) {
        let mut delivered: Vec<(String, String)> = Vec::new();
        let mut frames = 0;
        loop {
            let all_in = self.seen.len() == self.paths.len();
            let done = match cut {
                Some(cut) => frames >= cut.frames,
                None => {
                    all_in
                        || delivered
                            .last()
                            .is_some_and(|(id, _)| Some(id) == self.paths.last())
                }
            };
            if done {
                return (delivered, None);
            }
            let ended = match sub.next(if all_in { SETTLE } else { PROMPT }).await {
                Received::Frame(Ok(frame)) => {
                    frames += 1;
                    if let Some(s) = seq(&frame) {
                        self.cursor = s;
                    }
                    if about(&frame, self.did)
                        && let Some(path) = commit_path(&frame)
                    {
                        if path == self.sentinel {
                            self.ended = true;
                            return (delivered, None);
                        }
                        self.seen.insert(path.clone());
                        self.last_item = Some(path.clone());
                        delivered.push((path.clone(), path));
                    }
                    continue;
                }
                Received::Silent if all_in => return (delivered, None),
                Received::Silent => format!("no frame within {PROMPT:?}"),
                Received::Frame(Err(e)) => format!("an undecodable frame: {e}"),
                Received::Text(_) => "a text message on the event stream".to_owned(),
                Received::Closed(reason) => reason,
            };
            return (delivered, Some(ended));
        }
    }
}
