//! ConsumerTooSlow: a consumer that falls far behind gets the error frame and a close, and another consumer keeps receiving.
//!
//! The lagging consumer has a small socket receive buffer and reads one frame
//! for every [`READ_EVERY`] commits the driver writes, [`WRITES`] large ones
//! in all, so the server's buffers fill and its backlog for that consumer
//! grows, however fast the target writes; once the writes are in, it reads as
//! fast as it can. It must meet the error frame `ConsumerTooSlow`, then the
//! close, before the last commit. A second consumer reads at full speed
//! throughout and must see every commit. The lagging consumer's reads keep
//! coming, so a server that cuts dead connections after a stall (the
//! reference server after a second) is not what ends it.

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use tokio::sync::watch;
use wire::cbor::Value as Cbor;
use wire::frame::Frame;

use super::{Atproto, PROMPT, Received, Subscription, about, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Commits written while one consumer lags. The lag reaches about 650:
/// more than the 500 frames the official PDS (`PDS_MAX_SUBSCRIPTION_BUFFER`)
/// and the reference server (`consumer_buffer`) allow by default.
const WRITES: usize = 700;
/// While the writes go on, the lagging consumer reads a frame per this many.
const READ_EVERY: usize = 20;
/// The length of each record's text: a few frames fill the lagging
/// consumer's socket buffers, so the backlog stays on the server.
const FILLER: usize = 16 * 1024;
/// The lagging consumer's socket receive buffer, in bytes.
const SMALL_BUFFER: u32 = 8 * 1024;

/// How the lagging consumer's connection ended.
#[derive(Debug)]
enum Ending {
    /// An error frame named `error`; `closed` says whether the close followed.
    Error { error: String, closed: bool },
    /// The connection ended without an error frame.
    Closed(String),
    /// Every commit arrived.
    AllDelivered,
    /// Nothing more came, and no close either.
    Silent,
    /// Something no event stream may send.
    Broken(String),
}

/// What the lagging consumer saw.
#[derive(Debug)]
struct Lagged {
    ending: Ending,
    /// Commits of the driver's account it read in all.
    commits: usize,
    /// Commits it had read when the last write was acknowledged, if it was still open then.
    at_last_write: Option<usize>,
}

fn error_name(frame: &Frame) -> Option<String> {
    (frame.header.op == -1).then(|| {
        frame
            .body
            .get("error")
            .and_then(Cbor::as_str)
            .unwrap_or("(no error field)")
            .to_owned()
    })
}

fn is_commit_of(frame: &Frame, did: &str) -> bool {
    about(frame, did) && frame.header.t.as_deref() == Some("#commit")
}

/// The driver's writes so far: how many were acknowledged, and whether it is done.
type Progress = (usize, bool);

/// Reads a frame per [`READ_EVERY`] writes until they are done, then as fast as frames come.
async fn lag(mut sub: Subscription, did: String, mut writes: watch::Receiver<Progress>) -> Lagged {
    let mut commits = 0;
    let mut reads = 0;
    let mut at_last_write = None;
    let ending = loop {
        let done = writes
            .wait_for(|(written, done)| *done || *written >= (reads + 1) * READ_EVERY)
            .await
            .map_or(true, |progress| progress.1);
        if done && at_last_write.is_none() {
            at_last_write = Some(commits);
        }
        reads += 1;
        match sub.next(PROMPT).await {
            Received::Frame(Ok(frame)) => {
                if let Some(error) = error_name(&frame) {
                    let closed = matches!(sub.next(PROMPT).await, Received::Closed(_));
                    break Ending::Error { error, closed };
                }
                if is_commit_of(&frame, &did) {
                    commits += 1;
                    if commits == WRITES {
                        break Ending::AllDelivered;
                    }
                }
            }
            Received::Frame(Err(e)) => break Ending::Broken(format!("an undecodable frame: {e}")),
            Received::Text(_) => break Ending::Broken("a text message".to_owned()),
            Received::Closed(reason) => break Ending::Closed(reason),
            Received::Silent if !done => {}
            Received::Silent => break Ending::Silent,
        }
    };
    Lagged {
        ending,
        commits,
        at_last_write,
    }
}

/// The findings about the lagging consumer.
fn judge(lagged: &Lagged) -> Vec<Finding> {
    let Lagged {
        commits,
        at_last_write,
        ..
    } = lagged;
    let behind = match at_last_write {
        Some(read) => {
            format!("it had read {read} of {WRITES} commits when the last write was acknowledged")
        }
        None => format!("that was while the {WRITES} writes went on"),
    };
    let evidence = json!({"writes": WRITES, "read_at_last_write": at_last_write, "read": commits});
    let finding = match &lagged.ending {
        Ending::Error {
            error,
            closed: true,
        } if error == "ConsumerTooSlow" => {
            return vec![
                Finding::new(
                    "cut",
                    format!("the lagging consumer got ConsumerTooSlow and a close after {commits} commits; {behind}"),
                )
                .informational(),
            ];
        }
        Ending::Error {
            error,
            closed: true,
        } => Finding::new(
            "wrong-error",
            format!("the lagging consumer got the error frame {error}, not ConsumerTooSlow"),
        ),
        Ending::Error {
            error,
            closed: false,
        } => Finding::new(
            "not-closed",
            format!("after the error frame {error} the connection stayed open for {PROMPT:?}"),
        ),
        Ending::Closed(reason) => Finding::new(
            "no-error-frame",
            format!(
                "the lagging consumer was disconnected after {commits} commits without the error frame ConsumerTooSlow ({reason}); {behind}"
            ),
        ),
        Ending::AllDelivered => Finding::new(
            "not-cut",
            format!(
                "the lagging consumer was neither sent ConsumerTooSlow nor closed: {behind}, and it still got all of them"
            ),
        ),
        Ending::Silent => Finding::new(
            "not-cut",
            format!(
                "the lagging consumer got {commits} of {WRITES} commits, then nothing for {PROMPT:?}: no ConsumerTooSlow, no close; {behind}"
            ),
        ),
        Ending::Broken(what) => Finding::new("broken", format!("the lagging consumer got {what}")),
    };
    vec![finding.with_evidence(evidence)]
}

fixed_property!(ConsumerTooSlow, meta::CONSUMER_TOO_SLOW, skip: Self::skip);

impl ConsumerTooSlow {
    fn skip(ctx: &CheckContext) -> Option<String> {
        // The driver writes through the API itself (createAccount, createRecord).
        ctx.target.base_url().starts_with("https://").then(|| {
            "the lagging consumer needs its own small socket; wss:// is not supported".to_owned()
        })
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let session = atproto.account(0).await?;
        let method = crate::client::atproto::SUBSCRIBE_REPOS;
        let mut healthy = atproto.subscribe(None).await?;
        let slow = atproto
            .subscribe_with(method, None, Some(SMALL_BUFFER))
            .await?;
        atproto.recorder.note(format!(
            "the second connection has a {SMALL_BUFFER}-byte receive buffer and reads a frame per {READ_EVERY} of the {WRITES} commits of {FILLER} bytes written"
        ));
        let (progress, watching) = watch::channel((0, false));
        let lagging = tokio::spawn(lag(slow, session.did.clone(), watching));
        let did = session.did.clone();
        let reader = tokio::spawn(async move {
            healthy
                .frames_until(WRITES * 2, {
                    let mut commits = 0;
                    move |frame| {
                        commits += usize::from(is_commit_of(frame, &did));
                        commits == WRITES
                    }
                })
                .await
        });
        let filler = "x".repeat(FILLER);
        let mut written = Ok(());
        for n in 0..WRITES {
            written = atproto
                .post_text(&session, &format!("s{n}"), &filler)
                .await
                .map(drop);
            if written.is_err() {
                break;
            }
            progress.send_replace((n + 1, false));
        }
        progress.send_modify(|(_, done)| *done = true);
        let lagged = lagging
            .await
            .map_err(|e| format!("the lagging reader: {e}"))?;
        let healthy = reader
            .await
            .map_err(|e| format!("the healthy reader: {e}"))?;
        written?;
        let mut findings = judge(&lagged);
        if let Err(problem) = healthy {
            findings.push(Finding::new(
                "starved",
                format!(
                    "the consumer reading at full speed did not get all {WRITES} commits: {problem}"
                ),
            ));
        }
        atproto.done(findings)
    }
}
