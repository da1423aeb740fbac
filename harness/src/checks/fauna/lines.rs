//! A `/stream/1` response read line by line (opened with `Case::open_lines`), each line recorded, with a line-length limit and timeouts.
//!
//! The transcript has no entry kind for JSON lines, so each line is recorded
//! as a note on its connection: `CRLF line: {...}` or `LF line: {...}`.

use std::time::Duration;

use scenarios::transcript::Observed;
use serde_json::Value;
use wire::jsonl::{Line, Terminator};

use crate::transport::lines::{LineLimit, LineNotes, Lines};
use crate::transport::{Events, Read, Stream};

/// The longest line kept in a note of the transcript.
const NOTE_CHARS: usize = 2_000;

/// An open `/stream/1` response.
pub type LineConn = Stream<Lines<FaunaNotes>>;

/// Fauna's lines, each recorded as a note with its terminator.
#[derive(Debug)]
pub struct FaunaNotes;

impl LineLimit for FaunaNotes {
    const BROKE: &'static str = "the stream broke";
}

impl LineNotes for FaunaNotes {
    fn note(line: &Line) -> Observed {
        let ending = match line.terminator() {
            Terminator::CrLf => "CRLF",
            Terminator::Lf => "LF",
        };
        let text: String = String::from_utf8_lossy(line.bytes())
            .chars()
            .take(NOTE_CHARS)
            .collect();
        Observed::Note {
            text: format!("{ending} line: {text}"),
        }
    }
}

impl LineConn {
    /// The next complete line within `wait`, recorded.
    pub async fn next_line(&mut self, wait: Duration) -> Read<Line> {
        self.read(wait).await
    }
}

impl Events for LineConn {
    type Event = Value;

    /// The next JSON event within `wait`; blank lines and lines that are not
    /// JSON objects are skipped (the line-format check judges them). `None`
    /// on timeout or at the end.
    async fn next_event(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await {
                Read::Item(line) => {
                    if let Some(Ok(value @ Value::Object(_))) = line.parse_json() {
                        return Some(value);
                    }
                }
                Read::Timeout | Read::Ended(_) => return None,
            }
        }
    }
}
