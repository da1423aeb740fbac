//! A JSON-lines splitter: NDJSON as Actyx streams it, and Fauna's `\r\n`-terminated JSON objects.
//!
//! Only `\n` and `\r\n` end a line; a lone `\r` is content. Each line records
//! its terminator, because a Fauna check must see that every object ends with
//! `\r\n`, and an empty line is a keep-alive, because Actyx sends one after
//! 15 seconds of silence. The splitter does not look inside lines: a line that
//! is not JSON is for the caller to judge, via [`Line::parse_json`] or
//! otherwise.

use thiserror::Error;

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Terminator {
    /// `\n`.
    Lf,
    /// `\r\n`.
    CrLf,
}

impl Terminator {
    /// The bytes of this line ending.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Self::Lf => b"\n",
            Self::CrLf => b"\r\n",
        }
    }
}

/// One complete line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A non-empty line, without its terminator.
    Text {
        bytes: Vec<u8>,
        terminator: Terminator,
    },
    /// An empty line.
    KeepAlive { terminator: Terminator },
}

impl Line {
    /// The line's content without its terminator; empty for a keep-alive.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text { bytes, .. } => bytes,
            Self::KeepAlive { .. } => &[],
        }
    }

    /// How the line ended.
    pub fn terminator(&self) -> Terminator {
        match self {
            Self::Text { terminator, .. } | Self::KeepAlive { terminator } => *terminator,
        }
    }

    /// The line parsed as one JSON value, or `None` for a keep-alive, which carries none.
    pub fn parse_json(&self) -> Option<Result<serde_json::Value, serde_json::Error>> {
        match self {
            Self::Text { bytes, .. } => Some(serde_json::from_slice(bytes)),
            Self::KeepAlive { .. } => None,
        }
    }
}

/// Why the splitter gave up or what the end of the stream left behind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// A line grew past the limit before it ended.
    #[error("JSON line longer than the limit of {limit} bytes")]
    LineTooLong { limit: usize },
    /// The stream ended with bytes that no line ending closed.
    #[error("stream ended inside a line, {len} byte(s) after the last line ending")]
    Unterminated { len: usize },
}

/// An incremental splitter for one response body.
///
/// Feed it with [`push`](Self::push) and drain it with
/// [`next_line`](Self::next_line) until that returns `Ok(None)`; the limit is
/// checked while draining, so memory stays within the limit plus one pushed
/// chunk as long as every push is followed by a drain. Call
/// [`finish`](Self::finish) when the stream ends.
///
/// After [`LineError::LineTooLong`] the splitter refuses further input: it
/// frees its buffer, ignores later pushes, and `next_line` and `finish` return
/// the same error again.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    max_line_bytes: usize,
    buf: Vec<u8>,
    /// Bytes before this index have been consumed.
    start: usize,
    /// Bytes from `start` up to this index hold no `\n`, so a stream that arrives a byte at a
    /// time is scanned once rather than once per push.
    scanned: usize,
    failed: Option<LineError>,
}

impl LineSplitter {
    /// A splitter that refuses lines longer than `max_line_bytes`, not counting the terminator.
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            failed: None,
        }
    }

    /// Appends received bytes. Never fails; after an error the bytes are dropped.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        // Moving the unread bytes to the front only once the consumed prefix is at least as
        // long keeps the copying linear in the stream length.
        let consumed = self.start.min(self.buf.len());
        if consumed > 0 && consumed >= self.buf.len() - consumed {
            self.buf.drain(..consumed);
            self.scanned = self.scanned.saturating_sub(consumed);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, or `Ok(None)` when more bytes are needed.
    pub fn next_line(&mut self) -> Result<Option<Line>, LineError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let from = self.scanned.max(self.start);
        let rest = self.buf.get(from..).unwrap_or_default();
        let Some(offset) = rest.iter().position(|&b| b == b'\n') else {
            self.scanned = self.buf.len();
            // A final `\r` may turn out to be half of the terminator, so it does not count yet.
            let pending = self.pending();
            let content = pending.strip_suffix(b"\r").unwrap_or(pending);
            if content.len() > self.max_line_bytes {
                return Err(self.fail());
            }
            return Ok(None);
        };
        let end = from + offset;
        let raw = self.buf.get(self.start..end).unwrap_or_default();
        let (content, terminator) = match raw.strip_suffix(b"\r") {
            Some(content) => (content, Terminator::CrLf),
            None => (raw, Terminator::Lf),
        };
        if content.len() > self.max_line_bytes {
            return Err(self.fail());
        }
        let line = if content.is_empty() {
            Line::KeepAlive { terminator }
        } else {
            Line::Text {
                bytes: content.to_vec(),
                terminator,
            }
        };
        self.start = end + 1;
        self.scanned = self.start;
        Ok(Some(line))
    }

    /// Ends the stream. Call it once [`next_line`](Self::next_line) has returned `Ok(None)`;
    /// bytes still buffered then are a final line without a line ending, reported as
    /// [`LineError::Unterminated`] and dropped, so a second call returns `Ok(())`.
    pub fn finish(&mut self) -> Result<(), LineError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let len = self.pending().len();
        self.buf = Vec::new();
        self.start = 0;
        self.scanned = 0;
        if len > 0 {
            return Err(LineError::Unterminated { len });
        }
        Ok(())
    }

    /// Received bytes not yet returned as lines.
    pub fn bytes_buffered(&self) -> usize {
        self.pending().len()
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Records the limit error so every later call reports it, and frees the buffer.
    fn fail(&mut self) -> LineError {
        let err = LineError::LineTooLong {
            limit: self.max_line_bytes,
        };
        self.buf = Vec::new();
        self.start = 0;
        self.scanned = 0;
        self.failed = Some(err.clone());
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8], terminator: Terminator) -> Line {
        Line::Text {
            bytes: bytes.to_vec(),
            terminator,
        }
    }

    #[test]
    fn cr_at_end_of_chunk_waits_for_the_next_byte() {
        let mut splitter = LineSplitter::new(100);
        splitter.push(b"{}\r");
        assert_eq!(splitter.next_line(), Ok(None));
        splitter.push(b"\nx\r");
        assert_eq!(
            splitter.next_line(),
            Ok(Some(text(b"{}", Terminator::CrLf)))
        );
        assert_eq!(splitter.next_line(), Ok(None));
        splitter.push(b"y\n");
        assert_eq!(
            splitter.next_line(),
            Ok(Some(text(b"x\ry", Terminator::Lf)))
        );
        assert_eq!(splitter.finish(), Ok(()));
    }

    #[test]
    fn empty_lines_are_keep_alives() {
        let mut splitter = LineSplitter::new(100);
        splitter.push(b"\n\r\n");
        assert_eq!(
            splitter.next_line(),
            Ok(Some(Line::KeepAlive {
                terminator: Terminator::Lf
            }))
        );
        assert_eq!(
            splitter.next_line(),
            Ok(Some(Line::KeepAlive {
                terminator: Terminator::CrLf
            }))
        );
        assert_eq!(splitter.next_line(), Ok(None));
    }

    #[test]
    fn limit_counts_content_not_terminator() {
        let mut splitter = LineSplitter::new(3);
        splitter.push(b"abc\r");
        assert_eq!(splitter.next_line(), Ok(None));
        splitter.push(b"\nabcd");
        assert_eq!(
            splitter.next_line(),
            Ok(Some(text(b"abc", Terminator::CrLf)))
        );
        let err = LineError::LineTooLong { limit: 3 };
        assert_eq!(splitter.next_line(), Err(err.clone()));
        splitter.push(b"\n");
        assert_eq!(splitter.bytes_buffered(), 0);
        assert_eq!(splitter.next_line(), Err(err.clone()));
        assert_eq!(splitter.finish(), Err(err));
    }

    #[test]
    fn unterminated_tail_is_reported_once() {
        let mut splitter = LineSplitter::new(100);
        splitter.push(b"{\"a\":1}\n{\"b\"");
        assert!(matches!(splitter.next_line(), Ok(Some(Line::Text { .. }))));
        assert_eq!(splitter.next_line(), Ok(None));
        assert_eq!(splitter.bytes_buffered(), 4);
        assert_eq!(splitter.finish(), Err(LineError::Unterminated { len: 4 }));
        assert_eq!(splitter.finish(), Ok(()));
    }

    #[test]
    fn bytes_are_scanned_once() {
        // A byte-at-a-time line would cost quadratic time if every drain rescanned the buffer;
        // after each drain the scan position must have caught up with the buffer's end.
        let mut splitter = LineSplitter::new(100);
        for &byte in b"{\"a\":\"b\r\"}\r\n{}" {
            splitter.push(&[byte]);
            while splitter.next_line().unwrap().is_some() {}
            assert_eq!(splitter.scanned, splitter.buf.len());
        }
    }

    #[test]
    fn parse_json_reads_text_and_skips_keep_alives() {
        let line = text(br#"{"n":[1,2]}"#, Terminator::CrLf);
        let value = line.parse_json().unwrap().unwrap();
        assert_eq!(value, serde_json::json!({"n": [1, 2]}));
        assert!(text(b"{", Terminator::Lf).parse_json().unwrap().is_err());
        assert!(
            Line::KeepAlive {
                terminator: Terminator::Lf
            }
            .parse_json()
            .is_none()
        );
        assert_eq!(Terminator::CrLf.as_bytes(), b"\r\n");
    }
}
