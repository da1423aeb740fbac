//! What a load subscriber reads: frames, the events in them, the positions they carry, read through the transport's SSE and line framings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::BoxStream;
use wire::sse::{SseLimits, SseParser, SseRef};

use crate::client::actyx::{self, OffsetMap};
use crate::transport::lines::{LineLimit, Lines};
use crate::transport::{Body, framed, reads};

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

/// SSE events and comments of a body; `event` reads each event's data.
///
/// The parser lends each event (`next_ref`) rather than copying it out, and a
/// read's position is the last event id in it, so an event costs no
/// allocation here. The read's bytes go to its first frame.
pub(super) fn sse_frames(body: Body, event: impl Fn(&str) -> Event + Send + 'static) -> Frames {
    let limits = SseLimits {
        max_line_bytes: MAX_FRAME,
        max_event_bytes: MAX_FRAME,
    };
    let reader = SseRead {
        parser: SseParser::new(limits),
        unread: 0,
        id: String::new(),
    };
    reads(body, reader, SseRead::push, move |reader| {
        reader.frames(&event)
    })
}

/// A load subscriber's SSE reading.
struct SseRead {
    parser: SseParser,
    /// Bytes read since the last frame.
    unread: usize,
    /// The id of the last event with one in this read (its buffer kept between reads).
    id: String,
}

impl SseRead {
    /// Bytes as they came.
    fn push(&mut self, chunk: &[u8]) {
        self.parser.push(chunk);
        self.unread += chunk.len();
    }

    /// The frames the bytes pushed complete (`None`: none); the read's position is its last event id.
    fn frames(&mut self, event: &impl Fn(&str) -> Event) -> Result<Option<Vec<Frame>>, String> {
        let mut frames: Vec<Frame> = Vec::new();
        let mut with_id = None;
        loop {
            let item = self
                .parser
                .next_ref()
                .map_err(|error| format!("the stream broke the SSE limits: {error}"))?;
            let seen = match item {
                None => break,
                Some(SseRef::Event(data)) => {
                    if data.id_field_seen {
                        with_id = Some(frames.len());
                        self.id.clear();
                        self.id.push_str(data.last_event_id);
                    }
                    Some(event(data.data))
                }
                Some(SseRef::Item(_)) => None,
            };
            frames.push(Frame {
                bytes: std::mem::take(&mut self.unread),
                event: seen,
                step: None,
            });
        }
        if let Some(at) = with_id {
            frames[at].step = Some(Step::Id(self.id.clone()));
        }
        Ok((!frames.is_empty()).then_some(frames))
    }
}

/// A load subscriber's lines: its limit, and nothing recorded.
struct LoadLines;

impl LineLimit for LoadLines {
    const BROKE: &'static str = "a line passed the load's limit";
}

/// Lines of a body; `read` says which are events and where each line
/// leaves the stream. Blank lines count as frames.
pub(super) fn line_frames(
    body: Body,
    read: impl Fn(&[u8]) -> (Option<Event>, Option<Step>) + Send + 'static,
) -> Frames {
    let lines = Lines::<LoadLines>::new(MAX_FRAME);
    framed(body, lines, move |line, bytes| {
        let (event, step) = read(line.bytes());
        Frame { bytes, event, step }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sse_read_gives_each_frame_its_bytes_and_the_read_its_last_id() {
        let mut reader = SseRead {
            parser: SseParser::new(SseLimits::default()),
            unread: 0,
            id: String::new(),
        };
        let event = |data: &str| Event {
            marker: data.parse().ok(),
            at: None,
        };
        let chunks = [
            "id: a\ndata: 1\n\n: keep-alive\n\n",
            "data: 2\n",
            "\nid: b\ndata: 3\n\nid: c\ndata: 4\n\nid: d\n\n",
        ];
        let mut reads = Vec::new();
        for chunk in chunks {
            reader.push(chunk.as_bytes());
            reads.push(reader.frames(&event).unwrap());
        }
        let first = reads[0].as_ref().unwrap();
        assert_eq!(first.len(), 2, "the event and the comment");
        assert_eq!(first[0].event.unwrap().marker, Some(1));
        assert_eq!(first[0].step, Some(Step::Id("a".to_owned())));
        assert_eq!((first[1].event, first[1].step.clone()), (None, None));
        assert!(reads[1].is_none(), "half an event is no frame");
        let third = reads[2].as_ref().unwrap();
        let markers: Vec<_> = third.iter().map(|f| f.event.unwrap().marker).collect();
        assert_eq!(markers, [Some(2), Some(3), Some(4)]);
        // Only the last event's id is the read's position; a block with an id
        // and no data dispatches nothing, as before.
        let steps: Vec<_> = third.iter().map(|f| f.step.clone()).collect();
        assert_eq!(steps, [None, None, Some(Step::Id("c".to_owned()))]);
        // Every byte is counted once, the chunk that completed nothing in the next read.
        let bytes: usize = reads.iter().flatten().flatten().map(|f| f.bytes).sum();
        assert_eq!(bytes, chunks.iter().map(|c| c.len()).sum::<usize>());
        assert_eq!(third[0].bytes, chunks[1].len() + chunks[2].len());
    }
}
