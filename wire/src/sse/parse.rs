//! The incremental SSE parser: bytes in, [`SseItem`]s out, following WHATWG HTML "Parsing an event stream" and "Interpreting an event stream".

use std::borrow::Cow;

use super::{Discarded, SseError, SseEvent, SseEventRef, SseItem, SseLimits, SseRef};

/// The UTF-8 encoding of U+FEFF, which the UTF-8 decode algorithm drops at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An incremental parser for one `text/event-stream` response.
///
/// Feed it with [`push`](Self::push) and drain it with
/// [`next_item`](Self::next_item) until that returns `Ok(None)`; the limits
/// are checked while draining, so memory stays within the limits plus one
/// pushed chunk as long as every push is followed by a drain. Call
/// [`finish`](Self::finish) when the stream ends.
///
/// After an error the parser refuses further input: it frees its buffers,
/// ignores later pushes, and `next_item` and `finish` return the same error
/// again.
///
/// A parser is for one response. A client that reconnects starts a new
/// parser and sends the old one's [`last_event_id`](Self::last_event_id) as
/// `Last-Event-ID`.
#[derive(Debug, Clone)]
pub struct SseParser {
    limits: SseLimits,
    input: Input,
    block: Block,
    failed: Option<SseError>,
}

/// Received bytes that have not been read as lines yet.
#[derive(Debug, Clone, Default)]
struct Input {
    buf: Vec<u8>,
    /// Bytes before this index have been consumed.
    start: usize,
    /// Bytes from `start` up to this index hold no line ending, so a stream
    /// that arrives a byte at a time is scanned once rather than once per push.
    scanned: usize,
    /// Whether the start of the stream has been checked for a byte order mark.
    bom_checked: bool,
    /// The last line ended with a CR, so an LF right after it belongs to the same line ending.
    skip_lf: bool,
}

/// The buffers the spec associates with the stream, and the values that outlive a block.
#[derive(Debug, Clone, Default)]
struct Block {
    data: String,
    /// The data as received (values plus one line feed each), which the event limit bounds.
    /// It is counted apart from `data` because U+FFFD repair can make `data` longer.
    data_len: usize,
    event_type: String,
    /// The spec's "last event ID buffer": set by `id` fields, committed by blank lines.
    id_buffer: String,
    /// Whether the open block had a valid `id` field.
    id_seen: bool,
    /// The event source's "last event ID string": what a reconnecting client sends.
    last_event_id: String,
    /// The buffers hold an event lent by [`SseParser::next_ref`]; they are emptied before the
    /// next line is read.
    lent: bool,
    reconnection_time: Option<u64>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(SseLimits::default())
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new(limits: SseLimits) -> Self {
        Self {
            limits,
            input: Input::default(),
            block: Block::default(),
            failed: None,
        }
    }

    /// Appends received bytes. Never fails; after an error the bytes are dropped.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.input.compact();
        self.input.buf.extend_from_slice(bytes);
    }

    /// The next complete item, or `Ok(None)` when more bytes are needed.
    pub fn next_item(&mut self) -> Result<Option<SseItem>, SseError> {
        Ok(match self.next_line_item()? {
            None => None,
            Some(Interpreted::Item(item)) => Some(item),
            Some(Interpreted::Dispatch) => self.block.close().map(SseItem::Event),
        })
    }

    /// As [`next_item`](Self::next_item), with an event lent from the parser's
    /// buffers instead of copied out of them: a reader that needs only a look at
    /// each event allocates nothing per event. The buffers are emptied by the
    /// next call.
    pub fn next_ref(&mut self) -> Result<Option<SseRef<'_>>, SseError> {
        Ok(match self.next_line_item()? {
            None => None,
            Some(Interpreted::Item(item)) => Some(SseRef::Item(item)),
            Some(Interpreted::Dispatch) => {
                self.block.lent = true;
                let block = &self.block;
                Some(SseRef::Event(SseEventRef {
                    event_type: if block.event_type.is_empty() {
                        "message"
                    } else {
                        &block.event_type
                    },
                    data: block.data.strip_suffix('\n').unwrap_or(&block.data),
                    last_event_id: &block.id_buffer,
                    id_field_seen: block.id_seen,
                }))
            }
        })
    }

    /// Reads lines up to the next one that makes an item or dispatches an event.
    fn next_line_item(&mut self) -> Result<Option<Interpreted>, SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.block.take_back();
        loop {
            let Some((from, to)) = self.input.next_line() else {
                // Until the first three bytes are known, they may yet vanish as a byte order
                // mark, so they are not a line to measure.
                if self.input.bom_checked {
                    let pending = self.input.pending();
                    if let Some(err) = limit_hit(pending, false, self.block.data_len, self.limits) {
                        return Err(self.fail(err));
                    }
                }
                return Ok(None);
            };
            let line = self.input.buf.get(from..to).unwrap_or_default();
            if let Some(err) = limit_hit(line, true, self.block.data_len, self.limits) {
                return Err(self.fail(err));
            }
            if let Some(interpreted) = self.block.line(line) {
                return Ok(Some(interpreted));
            }
        }
    }

    /// Ends the stream, discarding the open block as the spec requires.
    ///
    /// Call it once [`next_item`](Self::next_item) has returned `Ok(None)`;
    /// any bytes still buffered are then a final line without a line ending.
    /// Returns what was discarded, or `None` if nothing was, and fails only if
    /// a limit was hit. The parser is left empty, so a second call returns
    /// `Ok(None)`; the last event ID and reconnection time remain.
    pub fn finish(&mut self) -> Result<Option<Discarded>, SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.block.take_back();
        let pending = self.input.pending();
        if let Some(err) = limit_hit(pending, false, self.block.data_len, self.limits) {
            return Err(self.fail(err));
        }
        let partial_line = String::from_utf8_lossy(pending).into_owned();
        self.input = Input {
            bom_checked: true,
            ..Input::default()
        };
        let id = self.block.id_seen.then(|| self.block.id_buffer.clone());
        let event = self.block.close();
        // The id of an unterminated block never took effect, so it must not leak into a later block.
        self.block.id_buffer.clone_from(&self.block.last_event_id);
        if partial_line.is_empty() && event.is_none() && id.is_none() {
            return Ok(None);
        }
        Ok(Some(Discarded {
            partial_line,
            event,
            id,
        }))
    }

    /// The last event ID committed by a blank line; it persists across events and is what a
    /// reconnecting client sends as `Last-Event-ID`. An `id` in a block that no blank line has
    /// closed yet does not count.
    pub fn last_event_id(&self) -> &str {
        &self.block.last_event_id
    }

    /// The reconnection time set by the last valid `retry` field, in milliseconds.
    pub fn reconnection_time(&self) -> Option<u64> {
        self.block.reconnection_time
    }

    /// Received bytes not yet read as lines (the open block's data is not counted).
    pub fn bytes_buffered(&self) -> usize {
        self.input.pending().len()
    }

    /// Records `err` so every later call reports it, and frees the buffers.
    fn fail(&mut self, err: SseError) -> SseError {
        self.input = Input::default();
        self.block.data = String::new();
        self.failed = Some(err.clone());
        err
    }
}

impl Input {
    /// Moves unread bytes to the front once the consumed prefix is at least as long as they are,
    /// which keeps the copying linear in the stream length.
    fn compact(&mut self) {
        let consumed = self.start.min(self.buf.len());
        if consumed > 0 && consumed >= self.buf.len() - consumed {
            self.buf.drain(..consumed);
            self.scanned = self.scanned.saturating_sub(consumed);
            self.start = 0;
        }
    }

    /// Unread bytes.
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Finds the next complete line, consumes it with its line ending, and returns its range in
    /// `buf`. `None` means the bytes so far end inside a line (or inside a possible BOM).
    fn next_line(&mut self) -> Option<(usize, usize)> {
        if !self.bom_checked {
            let head = self.pending();
            if head.len() < BOM.len() && BOM.starts_with(head) {
                return None;
            }
            if head.starts_with(BOM) {
                self.start += BOM.len();
            }
            self.bom_checked = true;
        }
        if self.skip_lf {
            match self.pending().first() {
                None => return None,
                Some(b'\n') => self.start += 1,
                Some(_) => {}
            }
            self.skip_lf = false;
        }
        let from = self.scanned.max(self.start);
        let rest = self.buf.get(from..).unwrap_or_default();
        let Some(offset) = memchr::memchr2(b'\r', b'\n', rest) else {
            self.scanned = self.buf.len();
            return None;
        };
        let line_start = self.start;
        let line_end = from + offset;
        // A CR may be the first half of a CRLF whose LF has not arrived yet; `skip_lf`
        // remembers to drop that LF, so the pair counts as one line ending.
        self.skip_lf = rest.get(offset) == Some(&b'\r');
        self.start = line_end + 1;
        self.scanned = self.start;
        Some((line_start, line_end))
    }
}

/// What one line came to.
enum Interpreted {
    Item(SseItem),
    /// A blank line after a block with data: the block's buffers hold an event.
    Dispatch,
}

impl Block {
    /// Interprets one complete line (without its line ending).
    fn line(&mut self, line: &[u8]) -> Option<Interpreted> {
        if line.is_empty() {
            self.last_event_id.clone_from(&self.id_buffer);
            if self.data.is_empty() {
                self.close();
                return None;
            }
            return Some(Interpreted::Dispatch);
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => {
                let text = strip_space(line.get(1..).unwrap_or_default());
                return Some(Interpreted::Item(SseItem::Comment(
                    decode(text).into_owned(),
                )));
            }
            Some(colon) => (
                line.get(..colon).unwrap_or_default(),
                strip_space(line.get(colon + 1..).unwrap_or_default()),
            ),
            None => (line, &[][..]),
        };
        match name {
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            b"data" => {
                self.data.push_str(&decode(value));
                self.data.push('\n');
                self.data_len = self.data_len.saturating_add(value.len()).saturating_add(1);
            }
            // An id containing U+0000 could not be sent back as `Last-Event-ID`, so the spec
            // ignores the whole field.
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&decode(value));
                self.id_seen = true;
            }
            b"retry" => {
                let ms = parse_retry(value)?;
                self.reconnection_time = Some(ms);
                return Some(Interpreted::Item(SseItem::Retry(ms)));
            }
            _ => {}
        }
        None
    }

    /// Empties the buffers of an event lent out, keeping their capacity.
    fn take_back(&mut self) {
        if std::mem::take(&mut self.lent) {
            self.data.clear();
            self.event_type.clear();
            self.data_len = 0;
            self.id_seen = false;
        }
    }

    /// Empties the block's buffers, returning the event they make if the data buffer was not
    /// empty. The caller decides whether the id is committed.
    fn close(&mut self) -> Option<SseEvent> {
        let id_field_seen = std::mem::take(&mut self.id_seen);
        let event_type = std::mem::take(&mut self.event_type);
        let mut data = std::mem::take(&mut self.data);
        self.data_len = 0;
        if data.is_empty() {
            return None;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        Some(SseEvent {
            event_type: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            last_event_id: self.id_buffer.clone(),
            id_field_seen,
        })
    }
}

/// Decides whether `line` (complete, or the start of a line still arriving) breaks a limit.
///
/// Each limit is crossed at some prefix length of the line, and the one crossed at the shorter
/// prefix wins. Deciding by position rather than by which check runs first makes the error the
/// same however the stream was split into chunks, since a partial line is checked at whatever
/// length it had when a chunk ended.
fn limit_hit(line: &[u8], complete: bool, data_len: usize, limits: SseLimits) -> Option<SseError> {
    let line_crossed_at = limits.max_line_bytes.saturating_add(1);
    let event_crossed_at = data_crossing(line, complete, data_len, limits.max_event_bytes);
    match event_crossed_at {
        Some(at) if at <= line.len() && at < line_crossed_at => Some(SseError::EventTooLarge {
            limit: limits.max_event_bytes,
        }),
        _ if line.len() >= line_crossed_at => Some(SseError::LineTooLong {
            limit: limits.max_line_bytes,
        }),
        _ => None,
    }
}

/// The prefix length at which `line`, read as a `data` field, takes the event's data past
/// `max_event_bytes`; `None` if it is not (or not yet known to be) a data line, or never would.
///
/// The data the event would dispatch is at least the data so far (`data_len`, which counts a
/// line feed after each value) plus this line's value.
fn data_crossing(
    line: &[u8],
    complete: bool,
    data_len: usize,
    max_event_bytes: usize,
) -> Option<usize> {
    let needed = max_event_bytes.saturating_add(1).saturating_sub(data_len);
    if complete && line == b"data" {
        return (needed == 0).then_some(4);
    }
    if !line.starts_with(b"data:") {
        return None;
    }
    if needed == 0 {
        // The line is a data field from its colon on, whatever follows.
        return Some(5);
    }
    let value_start = if line.get(5) == Some(&b' ') { 6 } else { 5 };
    Some(needed.saturating_add(value_start))
}

/// Removes one leading space, as the spec does for field values and comments.
fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// UTF-8 decoding with U+FFFD for invalid sequences. Decoding line by line gives the same text
/// as decoding the whole stream, because CR and LF never occur inside a multi-byte sequence.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // Valid UTF-8, the common case, is checked by the standard library's word-at-a-time
    // validation; only invalid input pays for the lossy walk.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A `retry` value: ASCII digits only, in base ten. An empty value has no digits to interpret,
/// and a value too large for a `u64` cannot be honoured, so both are ignored like other
/// invalid values.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &[u8]) -> Vec<SseItem> {
        let mut parser = SseParser::default();
        parser.push(input);
        let mut out = Vec::new();
        while let Some(item) = parser.next_item().unwrap() {
            out.push(item);
        }
        out
    }

    fn event(data: &str) -> SseItem {
        SseItem::Event(SseEvent {
            event_type: "message".to_owned(),
            data: data.to_owned(),
            last_event_id: String::new(),
            id_field_seen: false,
        })
    }

    #[test]
    fn crlf_split_across_pushes_is_one_line_ending() {
        let mut parser = SseParser::default();
        parser.push(b"data: a\r");
        assert_eq!(parser.next_item(), Ok(None));
        // Were the LF a line ending of its own, it would make a blank line and dispatch "a".
        parser.push(b"\ndata: b\r");
        assert_eq!(parser.next_item(), Ok(None));
        parser.push(b"\n\r");
        assert_eq!(parser.next_item(), Ok(Some(event("a\nb"))));
        parser.push(b"\n");
        assert_eq!(parser.next_item(), Ok(None));
        assert_eq!(parser.finish(), Ok(None));
    }

    #[test]
    fn lone_cr_then_other_byte_keeps_that_byte() {
        assert_eq!(items(b"data: a\rdata: b\r\r"), vec![event("a\nb")]);
    }

    #[test]
    fn bom_split_across_pushes_is_stripped_once() {
        let mut parser = SseParser::default();
        parser.push(b"\xEF");
        assert_eq!(parser.next_item(), Ok(None));
        parser.push(b"\xBB");
        assert_eq!(parser.next_item(), Ok(None));
        parser.push(b"\xBFdata: x\n\n");
        assert_eq!(parser.next_item(), Ok(Some(event("x"))));
    }

    #[test]
    fn partial_bom_at_end_of_stream_is_a_partial_line() {
        let mut parser = SseParser::default();
        parser.push(b"\xEF\xBB");
        assert_eq!(parser.next_item(), Ok(None));
        let discarded = parser.finish().unwrap().unwrap();
        assert_eq!(discarded.partial_line, "\u{FFFD}");
    }

    #[test]
    fn possible_bom_is_not_measured_as_a_line() {
        let limits = SseLimits {
            max_line_bytes: 1,
            max_event_bytes: 0,
        };
        let mut parser = SseParser::new(limits);
        parser.push(b"\xEF\xBB");
        assert_eq!(parser.next_item(), Ok(None));
        parser.push(b"\xBF\n");
        assert_eq!(parser.next_item(), Ok(None));
        assert_eq!(parser.finish(), Ok(None));
    }

    #[test]
    fn retry_accepts_digits_only() {
        assert_eq!(parse_retry(b"0"), Some(0));
        assert_eq!(parse_retry(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_retry(b"18446744073709551616"), None);
        assert_eq!(parse_retry(b""), None);
        assert_eq!(parse_retry(b"+1"), None);
        assert_eq!(parse_retry(b"1 "), None);
        assert_eq!(parse_retry(b"\xD9\xA1"), None);
    }

    #[test]
    fn id_of_unterminated_block_is_not_committed() {
        let mut parser = SseParser::default();
        parser.push(b"id: 1\n\nid: 2\n");
        assert_eq!(parser.next_item(), Ok(None));
        assert_eq!(parser.last_event_id(), "1");
        let discarded = parser.finish().unwrap().unwrap();
        assert_eq!(discarded.id.as_deref(), Some("2"));
        assert_eq!(parser.last_event_id(), "1");
        assert_eq!(parser.finish(), Ok(None));
    }

    #[test]
    fn errors_are_sticky_and_free_the_buffer() {
        let limits = SseLimits {
            max_line_bytes: 4,
            max_event_bytes: 100,
        };
        let mut parser = SseParser::new(limits);
        parser.push(b"abcde");
        let err = SseError::LineTooLong { limit: 4 };
        assert_eq!(parser.next_item(), Err(err.clone()));
        assert_eq!(parser.bytes_buffered(), 0);
        parser.push(b"\n\ndata: x\n\n");
        assert_eq!(parser.bytes_buffered(), 0);
        assert_eq!(parser.next_item(), Err(err.clone()));
        assert_eq!(parser.finish(), Err(err));
    }

    #[test]
    fn the_limit_crossed_first_wins() {
        let limits = SseLimits {
            max_line_bytes: 10,
            max_event_bytes: 3,
        };
        // The data passes 3 bytes at prefix "data: abcd" (10 bytes), before the line passes 10.
        assert_eq!(
            limit_hit(b"data: abcdefgh", true, 0, limits),
            Some(SseError::EventTooLarge { limit: 3 })
        );
        assert_eq!(limit_hit(b"data: abc", false, 0, limits), None);
        // Earlier data lines "a" and "b" make 3 bytes of data ("a", LF, "b"); one more data
        // line, even an empty one, adds a line feed and so passes 3.
        assert_eq!(
            limit_hit(b"data", true, 4, limits),
            Some(SseError::EventTooLarge { limit: 3 })
        );
        assert_eq!(limit_hit(b"data", false, 4, limits), None);
        assert_eq!(
            limit_hit(b"event: abcdefgh", false, 0, limits),
            Some(SseError::LineTooLong { limit: 10 })
        );
    }

    #[test]
    fn bytes_are_scanned_once() {
        // A byte-at-a-time line would cost quadratic time if every drain rescanned the buffer;
        // after each drain the scan position must have caught up with the buffer's end.
        let mut parser = SseParser::default();
        for &byte in b"\xEF\xBB\xBFdata: abc\r\ndata: def\r\rdata: ghi" {
            parser.push(&[byte]);
            while parser.next_item().unwrap().is_some() {}
            if parser.input.bom_checked {
                assert_eq!(parser.input.scanned, parser.input.buf.len());
            }
        }
    }

    #[test]
    fn bytes_buffered_counts_unread_input() {
        let mut parser = SseParser::default();
        parser.push(b"data: a\n\ndata: b");
        assert_eq!(parser.bytes_buffered(), 16);
        assert_eq!(parser.next_item(), Ok(Some(event("a"))));
        assert_eq!(parser.next_item(), Ok(None));
        assert_eq!(parser.bytes_buffered(), 7);
    }
}
