//! What a load subscriber reads: frames, the events in them, the positions they carry, read through the transport's SSE and line framings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::BoxStream;
use wire::sse::{SseItem, SseLimits};

use crate::client::actyx::{self, OffsetMap};
use crate::transport::framed;
use crate::transport::lines::{LineLimit, Lines};
use crate::transport::sse::Sse;

/// One frame (SSE event or comment, line, WebSocket message) a subscriber read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub bytes: usize,
    /// What the frame says, when it is an event (not a keep-alive or a status).
    pub event: Option<Event>,
    /// How far the stream has read, where the frame says so.
    pub step: Option<Step>,
}

/// A position a frame carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An SSE event id or a Fauna cursor: the whole position.
    Id(String),
    /// An AT Protocol `seq`.
    Seq(i64),
    /// An Actyx event's stream and offset: one entry of the offset map.
    Offset(String, u64),
}

/// Where a subscriber has read to, so a dropped stream resumes there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Position {
    #[default]
    Start,
    Id(String),
    Seq(i64),
    Offsets(OffsetMap),
}

impl Position {
    /// The position after `step`.
    pub fn advance(&mut self, step: Step) {
        match (step, &mut *self) {
            (Step::Offset(stream, offset), Position::Offsets(map)) => {
                actyx::advance(map, &stream, offset);
            }
            (Step::Offset(stream, offset), _) => {
                *self = Position::Offsets(OffsetMap::from([(stream, offset)]));
            }
            (Step::Id(id), _) => *self = Position::Id(id),
            (Step::Seq(seq), _) => *self = Position::Seq(seq),
        }
    }
}

/// An event a subscriber read, of this run or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event {
    /// `k` when the event is one of this run's.
    pub marker: Option<u64>,
    /// The time the event carries, where the API gives one.
    pub at: Option<SystemTime>,
}

/// A subscriber's frames, a read at a time (the frames one chunk or one
/// ready batch of messages completed), ending with an error or the end of the stream.
pub type Frames = BoxStream<'static, Result<Vec<Frame>, String>>;

/// The longest line or message a load subscriber reads.
pub(super) const MAX_FRAME: usize = 4 << 20;

/// The time in a ULID (its first 48 bits, milliseconds since the epoch).
pub(super) fn ulid_time(id: &str) -> Option<SystemTime> {
    let ulid = ulid::Ulid::from_string(id).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(ulid.timestamp_ms()))
}

pub(super) fn micros_time(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

/// SSE events and comments of a response; `event` reads each event's data.
pub(super) fn sse_frames(
    response: reqwest::Response,
    event: impl Fn(&str) -> Event + Send + 'static,
) -> Frames {
    let limits = SseLimits {
        max_line_bytes: MAX_FRAME,
        max_event_bytes: MAX_FRAME,
    };
    framed(response, Sse::new(limits), move |item, bytes| {
        let (event, step) = match &item {
            SseItem::Event(data) => (
                Some(event(&data.data)),
                data.id_field_seen
                    .then(|| Step::Id(data.last_event_id.clone())),
            ),
            _ => (None, None),
        };
        Frame { bytes, event, step }
    })
}

/// A load subscriber's lines: its limit, and nothing recorded.
struct LoadLines;

impl LineLimit for LoadLines {
    const BROKE: &'static str = "a line passed the load's limit";
}

/// Lines of a response; `read` says which are events and where each line
/// leaves the stream. Blank lines count as frames.
pub(super) fn line_frames(
    response: reqwest::Response,
    read: impl Fn(&[u8]) -> (Option<Event>, Option<Step>) + Send + 'static,
) -> Frames {
    let lines = Lines::<LoadLines>::new(MAX_FRAME);
    framed(response, lines, move |line, bytes| {
        let (event, step) = read(line.bytes());
        Frame { bytes, event, step }
    })
}
