//! The snapshot text of one exchange: readable, normalised, and exact where it can be.
//!
//! Layout:
//!
//! ```text
//! # fibric 03-stream-replay
//! # The stream resumed from the first envelope's cursor: the two after it.
//!
//! > GET /v1/events/stream?cursor=<cursor 1>
//! > authorization: <secret>
//!
//! < 200 OK
//! < content-type: text/event-stream
//!
//! --- event 1 (lf)
//! id: <event_id 1>
//! event: envelope
//! data: {
//!   "event_id": "<event_id 1>",
//!   …
//! }
//! --- the harness stopped reading
//! ```
//!
//! Bodies: JSON is pretty-printed in the server's field order; SSE has one
//! block per event with its fields as sent (comments are left out: keep-alives
//! come with timing, not format); JSON lines have one block per line with its
//! terminator (blank keep-alive lines are left out); CBOR frames are shown by
//! [`super::cbor`].

use std::fmt::Write as _;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::exchange::{End, Exchange, Framing, MAX_BODY};
use super::normalise::Normaliser;

/// Response headers a snapshot keeps: the ones that are part of a format.
/// Dates, lengths and connection management vary or belong to the transport.
pub const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "x-accel-buffering",
    "www-authenticate",
    "location",
    "retry-after",
    "content-encoding",
    "access-control-allow-origin",
    "sec-websocket-protocol",
];

/// One line of a body, with how it ended.
#[derive(Debug)]
pub struct Line {
    pub text: String,
    pub terminator: &'static str,
    pub complete: bool,
}

/// Splits a body into lines at `\r\n`, `\n` or `\r`.
pub fn lines(body: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let (terminator, width) = match body[i] {
            b'\n' => ("lf", 1),
            b'\r' if body.get(i + 1) == Some(&b'\n') => ("crlf", 2),
            // A lone CR at the very end may be the first half of a CRLF still to come.
            b'\r' if i + 1 == body.len() => break,
            b'\r' => ("cr", 1),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(Line {
            text: String::from_utf8_lossy(&body[start..i]).into_owned(),
            terminator,
            complete: true,
        });
        i += width;
        start = i;
    }
    if start < body.len() {
        out.push(Line {
            text: String::from_utf8_lossy(&body[start..]).into_owned(),
            terminator: "none",
            complete: false,
        });
    }
    out
}

/// One SSE block: the lines up to a blank line.
#[derive(Debug)]
pub struct SseBlock {
    pub lines: Vec<Line>,
    pub complete: bool,
}

impl SseBlock {
    /// Whether the block has a field, not only comments.
    pub fn is_event(&self) -> bool {
        self.lines.iter().any(|l| !l.text.starts_with(':'))
    }

    fn terminators(&self) -> String {
        let mut kinds: Vec<&str> = self.lines.iter().map(|l| l.terminator).collect();
        kinds.dedup();
        kinds.join("+")
    }
}

/// Splits an SSE body into blocks.
pub fn sse_blocks(body: &[u8]) -> Vec<SseBlock> {
    let mut blocks = Vec::new();
    let mut current = Vec::new();
    for line in lines(body) {
        if line.complete && line.text.is_empty() {
            if !current.is_empty() {
                blocks.push(SseBlock {
                    lines: std::mem::take(&mut current),
                    complete: true,
                });
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        blocks.push(SseBlock {
            lines: current,
            complete: false,
        });
    }
    blocks
}

/// Renders an exchange of `api`. The first pass only teaches the normaliser
/// every value it replaces, so that the second can replace a value even where
/// it appears before the field that identifies it.
pub fn exchange(api: &str, exchange: &Exchange, norm: &mut Normaliser) -> String {
    let _ = once(api, exchange, norm);
    once(api, exchange, norm)
}

fn once(api: &str, exchange: &Exchange, norm: &mut Normaliser) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {api} {}", exchange.name);
    let _ = writeln!(out, "# {}", exchange.about);
    out.push('\n');
    let request = &exchange.request;
    let _ = writeln!(out, "> {} {}", request.method, path(&request.path, norm));
    for (name, value) in &request.headers {
        let _ = writeln!(out, "> {name}: {}", norm.text(Some(name), value));
    }
    if let Some(body) = &request.body {
        out.push_str(">\n");
        for line in pretty(&norm.json(body)).lines() {
            let _ = writeln!(out, "> {line}");
        }
    }
    out.push('\n');
    let response = &exchange.response;
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let _ = writeln!(out, "< {} {reason}", response.status);
    for kept in KEPT_HEADERS {
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case(kept) {
                let _ = writeln!(out, "< {kept}: {}", norm.text(Some(name), value));
            }
        }
    }
    out.push('\n');
    if !response.messages.is_empty() {
        messages(&mut out, &response.messages, norm);
    } else {
        match response.framing {
            Framing::Whole => whole(&mut out, &response.body, norm),
            Framing::Sse(n) => sse(&mut out, &response.body, n, norm),
            Framing::Lines(n) => json_lines(&mut out, &response.body, n, norm),
        }
    }
    let streamed = response.framing != Framing::Whole || !response.messages.is_empty();
    match &response.end {
        End::Complete if streamed => out.push_str("--- the harness stopped reading\n"),
        End::Complete => {}
        End::Closed(reason) => {
            let _ = writeln!(out, "--- closed: {reason}");
        }
        End::Quiet => out.push_str("--- nothing more arrived\n"),
        End::TooLarge => {
            let _ = writeln!(out, "--- cut: the body passed {MAX_BODY} bytes");
        }
        End::TooLong(limit) => {
            let _ = writeln!(out, "--- cut: the read lasted longer than {limit:?}");
        }
    }
    out
}

/// A request path with each query value and path segment normalised.
fn path(path: &str, norm: &mut Normaliser) -> String {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<String> = route.split('/').map(|s| norm.text(None, s)).collect();
    let mut out = segments.join("/");
    if query.is_empty() {
        return out;
    }
    out.push('?');
    let mut first = true;
    for pair in query.split('&') {
        if !first {
            out.push('&');
        }
        first = false;
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = percent_decode(value);
        let normalised = norm.text(Some(key), &decoded);
        out.push_str(key);
        out.push('=');
        out.push_str(if normalised == decoded {
            value
        } else {
            &normalised
        });
    }
    out
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pretty JSON in the value's own field order.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn whole(out: &mut String, body: &[u8], norm: &mut Normaliser) {
    if body.is_empty() {
        out.push_str("(no body)\n");
        return;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => {
            out.push_str(&pretty(&norm.json(&json)));
            out.push('\n');
        }
        Err(_) => text(out, body, norm),
    }
}

fn text(out: &mut String, body: &[u8], norm: &mut Normaliser) {
    for line in lines(body) {
        let end = if line.complete { "" } else { " (no line end)" };
        let _ = writeln!(out, "{}{end}", norm.text(None, &line.text));
    }
}

fn sse(out: &mut String, body: &[u8], events: usize, norm: &mut Normaliser) {
    let mut n = 0;
    for block in sse_blocks(body) {
        if n == events {
            break;
        }
        let fields: Vec<&Line> = block
            .lines
            .iter()
            .filter(|l| !l.text.starts_with(':'))
            .collect();
        if fields.is_empty() {
            continue;
        }
        n += 1;
        let state = if block.complete { "" } else { ", unterminated" };
        let _ = writeln!(out, "--- event {n} ({}{state})", block.terminators());
        for line in fields {
            let (name, value) = line.text.split_once(':').unwrap_or((&line.text, ""));
            let spaced = value.strip_prefix(' ');
            let bare = spaced.unwrap_or(value);
            let sep = if spaced.is_some() { ": " } else { ":" };
            let rendered = match serde_json::from_str::<Value>(bare) {
                Ok(json) if name == "data" && (json.is_object() || json.is_array()) => {
                    pretty(&norm.json(&json))
                }
                _ => norm.text(Some(name), bare),
            };
            let _ = writeln!(out, "{name}{sep}{rendered}");
        }
    }
}

fn json_lines(out: &mut String, body: &[u8], count: usize, norm: &mut Normaliser) {
    let mut n = 0;
    for line in lines(body) {
        if n == count {
            break;
        }
        if line.text.trim().is_empty() {
            continue;
        }
        n += 1;
        let state = if line.complete { "" } else { ", unterminated" };
        let _ = writeln!(out, "--- line {n} ({}{state})", line.terminator);
        match serde_json::from_str::<Value>(&line.text) {
            Ok(json) => out.push_str(&pretty(&norm.json(&json))),
            Err(_) => out.push_str(&norm.text(None, &line.text)),
        }
        out.push('\n');
    }
}

fn messages(out: &mut String, messages: &[Message], norm: &mut Normaliser) {
    for (i, message) in messages.iter().enumerate() {
        let n = i + 1;
        match message {
            Message::Binary(bytes) => {
                let _ = writeln!(out, "--- frame {n} (binary)");
                out.push_str(&super::cbor::frame(bytes, norm));
            }
            Message::Text(text) => {
                let _ = writeln!(out, "--- frame {n} (text)");
                match serde_json::from_str::<Value>(text.as_str()) {
                    Ok(json) => out.push_str(&pretty(&norm.json(&json))),
                    Err(_) => out.push_str(&norm.text(None, text.as_str())),
                }
                out.push('\n');
            }
            other => {
                let _ = writeln!(out, "--- frame {n} ({other:?})");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_terminators_and_a_trailing_cr_waits() {
        let split = lines(b"a\r\nb\nc\rd\r");
        let got: Vec<(&str, &str, bool)> = split
            .iter()
            .map(|l| (l.text.as_str(), l.terminator, l.complete))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "crlf", true),
                ("b", "lf", true),
                ("c", "cr", true),
                ("d\r", "none", false)
            ]
        );
    }

    #[test]
    fn sse_blocks_split_at_blank_lines_and_comments_are_not_events() {
        let blocks = sse_blocks(b": ping\n\nid: 1\ndata: {}\n\ndata: x");
        assert_eq!(blocks.len(), 3);
        assert!(!blocks[0].is_event());
        assert!(blocks[1].is_event() && blocks[1].complete);
        assert!(!blocks[2].complete);
    }

    #[test]
    fn query_values_are_normalised_by_name() {
        let mut norm = Normaliser::new(
            &[("cursor", super::super::normalise::Kind::Opaque("cursor"))],
            &[],
        );
        assert_eq!(
            path("/v1/events?cursor=ab%3D&limit=2&cursor=ab%3D", &mut norm),
            "/v1/events?cursor=<cursor 1>&limit=2&cursor=<cursor 1>"
        );
    }
}
