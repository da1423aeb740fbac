//! AT Protocol checks of replay from a cursor: strictly after it, under either reading of the spec, and from cursor 0.

use scenarios::Finding;
use scenarios::atproto::meta;
use serde_json::json;
use wire::frame::Frame;

use super::checks::missing;
use super::{Atproto, PROMPT, Received, Session, about, fixed_property, seq};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Subscribes live, makes an account and `posts` posts, and returns the
/// account and every frame about it (reading at most 2,000 frames).
async fn own_frames(atproto: &Atproto, posts: usize) -> Result<(Session, Vec<Frame>), String> {
    let mut live = atproto.subscribe(None).await?;
    let session = atproto.account(0).await?;
    for n in 0..posts {
        atproto.post_record(&session, &format!("p{n}")).await?;
    }
    let frames = live.until_commits(&session.did, posts, 2_000).await?;
    let own = frames
        .into_iter()
        .filter(|f| about(f, &session.did))
        .collect();
    Ok((session, own))
}

/// A replay of the driver's frames: three posts, then a connection whose
/// cursor is the seq of the third-last frame about the driver's account.
struct Replay {
    session: Session,
    cursor: u64,
    /// The seqs of every frame about the account, from the live connection.
    seqs: Vec<u64>,
    /// What the connection with the cursor sent, up to the last of `seqs`.
    frames: Result<Vec<Frame>, String>,
}

impl Replay {
    async fn run(atproto: &Atproto) -> Result<Self, String> {
        let (session, own) = own_frames(atproto, 3).await?;
        let seqs: Vec<u64> = own.iter().filter_map(seq).collect();
        let Some(&cursor) = seqs.get(seqs.len().saturating_sub(3)) else {
            return Err(format!("too few frames of the driver's account: {seqs:?}"));
        };
        let last = *seqs.last().unwrap_or(&cursor);
        let mut replay = atproto.subscribe(Some(cursor)).await?;
        let frames = replay
            .frames_until(2_000, |f| seq(f).is_some_and(|s| s >= last))
            .await;
        Ok(Self {
            session,
            cursor,
            seqs,
            frames,
        })
    }

    /// The frames the connection sent and their seqs, or the findings that they did not come.
    fn received(&self, what: &str) -> Result<(&[Frame], Vec<u64>), Vec<Finding>> {
        match &self.frames {
            Ok(frames) => Ok((frames, frames.iter().filter_map(seq).collect())),
            Err(problem) => Err(vec![missing(
                &format!("the replay {what} cursor={}", self.cursor),
                problem.clone(),
            )]),
        }
    }

    /// The account's seqs the connection sent from `from` on.
    fn own_from(&self, frames: &[Frame], from: u64) -> Vec<u64> {
        frames
            .iter()
            .filter(|f| about(f, &self.session.did))
            .filter_map(seq)
            .filter(|s| *s >= from)
            .collect()
    }

    /// The account's seqs the live connection saw from `from` on.
    fn expected_from(&self, from: u64) -> Vec<u64> {
        self.seqs.iter().copied().filter(|s| *s >= from).collect()
    }
}

fn nonmonotonic(got: &[u64]) -> Option<Finding> {
    (!got.windows(2).all(|w| w[0] < w[1]))
        .then(|| Finding::new("nonmonotonic", format!("seqs not increasing: {got:?}")))
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(ReplayAfter, meta::REPLAY_AFTER);

impl ReplayAfter {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let replay = Replay::run(&atproto).await?;
        let cursor = replay.cursor;
        let (frames, got) = match replay.received("after") {
            Ok(received) => received,
            Err(findings) => return atproto.done(findings),
        };
        let mut findings = Vec::new();
        if let Some(first) = got.first()
            && *first <= cursor
        {
            findings.push(
                Finding::new(
                    "replayed-cursor",
                    format!(
                        "cursor={cursor} replayed seq {first}: replay must start after the cursor"
                    ),
                )
                .with_evidence(json!({"cursor": cursor, "seqs": got})),
            );
        }
        let expected = replay.expected_from(cursor + 1);
        let own_got = replay.own_from(frames, cursor + 1);
        if own_got != expected {
            findings.push(Finding::new(
                "lost",
                format!("after cursor={cursor} the driver's frames {expected:?} came back as {own_got:?}"),
            ));
        }
        findings.extend(nonmonotonic(&got));
        atproto.done(findings)
    }
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(ReplayEitherReading, meta::REPLAY_EITHER_READING);

impl ReplayEitherReading {
    /// Accepts a replay from the frame at the cursor (the spec's "from the
    /// cursor") or from the one after it (what relays and the PDS do), and
    /// says which; fails one that starts earlier or leaves a gap.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let replay = Replay::run(&atproto).await?;
        let cursor = replay.cursor;
        let (frames, got) = match replay.received("from") {
            Ok(received) => received,
            Err(findings) => return atproto.done(findings),
        };
        let mut findings = Vec::new();
        if let Some(first) = got.first()
            && *first < cursor
        {
            findings.push(
                Finding::new(
                    "before-cursor",
                    format!("cursor={cursor} replayed seq {first}, before the cursor under either reading"),
                )
                .with_evidence(json!({"cursor": cursor, "seqs": got})),
            );
        }
        let own_got = replay.own_from(frames, cursor);
        let inclusive = replay.expected_from(cursor);
        let exclusive = replay.expected_from(cursor + 1);
        let reading = if own_got == inclusive {
            Some(format!(
                "cursor={cursor} replayed the frame at the cursor first: the spec's seq >= cursor reading (a client that resumes from its last seq sees that frame twice)"
            ))
        } else if own_got == exclusive {
            Some(format!(
                "cursor={cursor} replayed from the frame after the cursor: the seq > cursor reading of the PDS and relays"
            ))
        } else {
            findings.push(
                Finding::new(
                    "lost",
                    format!("from cursor={cursor} the driver's frames {inclusive:?} (or, reading > cursor, {exclusive:?}) came back as {own_got:?}"),
                )
                .with_evidence(json!({"cursor": cursor, "seqs": got})),
            );
            None
        };
        findings.extend(reading.map(|text| Finding::new("reading", text).informational()));
        findings.extend(nonmonotonic(&got));
        atproto.done(findings)
    }
}

// The driver writes through the API itself (createAccount, createRecord).
fixed_property!(CursorZero, meta::CURSOR_ZERO);

impl CursorZero {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let atproto = Atproto::new(&ctx);
        let (_, own) = own_frames(&atproto, 1).await?;
        let first_own = own
            .iter()
            .filter_map(seq)
            .min()
            .ok_or("no seq in the driver's frames")?;
        let mut replay = atproto.subscribe(Some(0)).await?;
        let mut findings = Vec::new();
        // A target that trimmed its history first says #info OutdatedCursor
        // (cursor 0 is before its window), then replays the oldest frame kept.
        let mut first = replay.next(PROMPT).await;
        for _ in 0..4 {
            match &first {
                Received::Frame(Ok(frame)) if frame.header.t.as_deref() == Some("#info") => {
                    first = replay.next(PROMPT).await;
                }
                _ => break,
            }
        }
        match first {
            Received::Frame(Ok(frame)) => match seq(&frame) {
                Some(first) if first <= first_own => {}
                other => findings.push(Finding::new(
                    "cursor-zero-live",
                    format!("cursor=0 started at seq {other:?}, after the driver's frame {first_own}: it was taken as live"),
                )),
            },
            other => findings.push(Finding::new(
                "cursor-zero-live",
                format!("cursor=0 replayed nothing within {PROMPT:?} ({other:?}), though seq {first_own} is kept"),
            )),
        }
        atproto.done(findings)
    }
}
