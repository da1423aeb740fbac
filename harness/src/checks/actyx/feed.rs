//! Recorded HTTP exchanges with an Actyx node, its NDJSON feeds read line by line with a size limit and timeouts, and the helpers that judge a query's lines.
//!
//! Requests go through `Case::call` and `Case::open_lines`, which
//! record credentials by name only (`Authorization`, `access_token`).
//! Feed lines are recorded as notes (`line: …`), blank keep-alives as `line: (blank)`.

use std::time::Duration;

use scenarios::Finding;
use scenarios::actyx::lines::{self, EventLine, FeedLine};
use scenarios::actyx::order::Key;
use scenarios::transcript::Observed;
use wire::jsonl::Line;

use crate::client::actyx::{self, OffsetMap};
use crate::record::{HttpResponse, ReadLimits};
use crate::transport::Stream;
use crate::transport::lines::{LineLimit, LineNotes, Lines};

/// The longest feed line the harness holds.
pub const MAX_LINE: usize = 1 << 20;
/// The largest non-streaming body the harness holds.
pub const MAX_BODY: usize = 4 << 20;

/// What a response may make the harness hold: bodies up to [`MAX_BODY`], feed lines up to [`MAX_LINE`].
pub(super) fn limits() -> ReadLimits {
    let mut limits = ReadLimits {
        max_body: MAX_BODY,
        ..ReadLimits::default()
    };
    limits.sse.max_line_bytes = MAX_LINE;
    limits
}

/// An answer: a whole response, or an open feed (a `2xx` to a feed request).
#[derive(Debug)]
pub enum Answer {
    Whole(HttpResponse),
    /// Boxed: a feed holds its response and line buffer.
    Feed(Box<Feed>),
}

/// An open NDJSON response, read one line at a time.
pub type Feed = Stream<Lines<ActyxNotes>>;

/// Actyx's feed lines, each recorded as a note, a blank keep-alive as `line: (blank)`.
#[derive(Debug)]
pub struct ActyxNotes;

impl LineLimit for ActyxNotes {
    const BROKE: &'static str = "the feed broke the line limit";
}

impl LineNotes for ActyxNotes {
    fn note(line: &Line) -> Observed {
        let text = String::from_utf8_lossy(line.bytes());
        Observed::Note {
            text: if text.is_empty() {
                "line: (blank)".to_owned()
            } else {
                format!("line: {text}")
            },
        }
    }
}

impl Feed {
    /// The next line within `timeout`, recorded and decoded; `None` on timeout or once closed.
    pub async fn next_line(&mut self, timeout: Duration) -> Option<FeedLine> {
        self.next(timeout).await.map(|line| lines::decode(&line))
    }

    /// The next line that is not a keep-alive nor a type the harness ignores.
    pub async fn next_significant(&mut self, timeout: Duration) -> Option<FeedLine> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await? {
                FeedLine::Blank | FeedLine::Skipped(_) => {}
                line => return Some(line),
            }
        }
    }

    /// Events up to the `offsets` line, and that line; anything else first is a finding.
    pub async fn until_offsets(
        &mut self,
        timeout: Duration,
    ) -> Result<(Vec<EventLine>, OffsetMap), Finding> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_significant(left).await {
                Some(FeedLine::Event(event)) => events.push(event),
                Some(FeedLine::Offsets(offsets)) => return Ok((events, offsets)),
                Some(other) => {
                    return Err(Finding::new(
                        "feed-line",
                        format!("before the offsets line, the feed sent {other:?}"),
                    ));
                }
                None => {
                    return Err(Finding::new(
                        "no-offsets-line",
                        format!(
                            "no offsets line after {} event(s) within {timeout:?} ({})",
                            events.len(),
                            self.closed.as_deref().unwrap_or("still open")
                        ),
                    ));
                }
            }
        }
    }

    /// Whether the feed ends within `timeout` (significant lines read meanwhile are returned).
    pub async fn ends_within_reading(&mut self, timeout: Duration) -> (bool, Vec<FeedLine>) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut extra = Vec::new();
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(line) = self.next_significant(left).await {
                extra.push(line);
            }
        }
        (self.closed.is_some(), extra)
    }
}

/// Events of a query's lines, and whether it ended with an `offsets` line; other lines are findings.
pub fn query_events(what: &str, lines: &[FeedLine]) -> (Vec<EventLine>, Vec<Finding>) {
    let mut events = Vec::new();
    let mut findings = Vec::new();
    for line in lines {
        match line {
            FeedLine::Event(event) => events.push(event.clone()),
            FeedLine::Offsets(_) => {}
            other => findings.push(Finding::new(
                "feed-line",
                format!("{what}: unexpected line {other:?}"),
            )),
        }
    }
    if !matches!(lines.last(), Some(FeedLine::Offsets(_))) {
        findings.push(Finding::new(
            "no-offsets-line",
            format!("{what}: the query did not end with an offsets line"),
        ));
    }
    (events, findings)
}

/// Per stream, the newest offset among `keys`: a lower bound that excludes them all.
pub fn bound_after<'a>(keys: impl IntoIterator<Item = &'a Key>) -> OffsetMap {
    let mut bound = OffsetMap::new();
    for key in keys {
        actyx::advance(&mut bound, &key.stream, key.offset);
    }
    bound
}
