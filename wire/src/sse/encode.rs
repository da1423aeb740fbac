//! The SSE encoder used by the reference server: events, comments and `retry` fields as `text/event-stream` text.
//!
//! Fields are written as `name: value` with LF line endings. A field with an
//! empty value is written as `name:` so no line carries trailing whitespace;
//! both forms mean the same to a parser.

use std::fmt::Write as _;

use thiserror::Error;

/// One event to encode. Only `data` is required; `Default` gives an empty event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeEvent<'a> {
    /// The event ID. `Some("")` is sent, because it tells the client to forget its last event ID.
    pub id: Option<&'a str>,
    /// The event type. `None` and `Some("")` both leave the client's default, `message`.
    pub event: Option<&'a str>,
    /// The data; its line breaks (CRLF, LF, CR) become separate `data` fields, which a client
    /// joins with LF.
    pub data: &'a str,
    /// A reconnection time in milliseconds, sent in the same block.
    pub retry: Option<u64>,
}

/// Why an event cannot be written as SSE.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SseEncodeError {
    /// A single-line field contained a line break, which would split it, or an `id`
    /// contained U+0000, which makes clients ignore it.
    #[error("the SSE `{field}` field cannot contain {found:?}")]
    ForbiddenChar { field: &'static str, found: char },
}

/// Appends `ev` as one block ending with a blank line, so the client dispatches it even when
/// its data is empty. Nothing is written if the event is invalid.
pub fn encode_event(out: &mut String, ev: &EncodeEvent<'_>) -> Result<(), SseEncodeError> {
    if let Some(id) = ev.id {
        check_field("id", id, &['\r', '\n', '\0'])?;
    }
    if let Some(event) = ev.event {
        check_field("event", event, &['\r', '\n'])?;
    }
    if let Some(id) = ev.id {
        field(out, "id", id);
    }
    if let Some(event) = ev.event.filter(|event| !event.is_empty()) {
        field(out, "event", event);
    }
    if let Some(ms) = ev.retry {
        encode_retry(out, ms);
    }
    for line in lines(ev.data) {
        field(out, "data", line);
    }
    out.push('\n');
    Ok(())
}

/// Appends a comment, one `:` line per line of `text`; keep-alives use this. Comments do not
/// end a block, so this can be written between events or inside none at all.
pub fn encode_comment(out: &mut String, text: &str) {
    for line in lines(text) {
        out.push(':');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Appends a `retry` field, which a client applies at once, without waiting for a blank line.
pub fn encode_retry(out: &mut String, ms: u64) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "retry: {ms}");
}

fn check_field(field: &'static str, value: &str, forbidden: &[char]) -> Result<(), SseEncodeError> {
    match value.chars().find(|c| forbidden.contains(c)) {
        Some(found) => Err(SseEncodeError::ForbiddenChar { field, found }),
        None => Ok(()),
    }
}

fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    if !value.is_empty() {
        out.push(' ');
        out.push_str(value);
    }
    out.push('\n');
}

/// Splits at CRLF, LF and CR, the line endings SSE recognises. Unlike `str::lines`, a trailing
/// line break yields a final empty line, because in `data` it is part of the value, and an
/// empty text yields one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(end) => {
                let (line, tail) = current.split_at(end);
                let tail = tail
                    .strip_prefix("\r\n")
                    .or_else(|| tail.strip_prefix('\r'))
                    .or_else(|| tail.strip_prefix('\n'))
                    .unwrap_or(tail);
                rest = Some(tail);
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_every_sse_line_ending() {
        let split: Vec<&str> = lines("a\r\nb\nc\rd\n\n").collect();
        assert_eq!(split, ["a", "b", "c", "d", "", ""]);
        assert_eq!(lines("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn full_event() {
        let mut out = String::new();
        let ev = EncodeEvent {
            id: Some("42"),
            event: Some("tick"),
            data: "one\r\ntwo",
            retry: Some(1500),
        };
        encode_event(&mut out, &ev).unwrap();
        assert_eq!(
            out,
            "id: 42\nevent: tick\nretry: 1500\ndata: one\ndata: two\n\n"
        );
    }

    #[test]
    fn empty_data_and_empty_id_are_still_sent() {
        let mut out = String::new();
        let ev = EncodeEvent {
            id: Some(""),
            event: Some(""),
            ..EncodeEvent::default()
        };
        encode_event(&mut out, &ev).unwrap();
        assert_eq!(out, "id:\ndata:\n\n");
    }

    #[test]
    fn forbidden_characters_are_refused_without_writing() {
        let mut out = String::new();
        let bad_id = EncodeEvent {
            id: Some("a\0b"),
            ..EncodeEvent::default()
        };
        assert_eq!(
            encode_event(&mut out, &bad_id),
            Err(SseEncodeError::ForbiddenChar {
                field: "id",
                found: '\0'
            })
        );
        let bad_event = EncodeEvent {
            event: Some("a\rb"),
            ..EncodeEvent::default()
        };
        assert_eq!(
            encode_event(&mut out, &bad_event),
            Err(SseEncodeError::ForbiddenChar {
                field: "event",
                found: '\r'
            })
        );
        assert_eq!(out, "");
    }

    #[test]
    fn comments_keep_their_spaces() {
        let mut out = String::new();
        encode_comment(&mut out, "");
        encode_comment(&mut out, " padded\nsecond");
        assert_eq!(out, ":\n:  padded\n: second\n");
    }
}
