//! HTTP/1.1 responses, sans-IO: a response head, then the body's payload out of chunked, sized or close-delimited bytes.
//!
//! This is what a streaming client needs and no more: [`parse_head`] reads a
//! status line and headers and says how the body is framed (RFC 9112 §6.3);
//! a [`BodyDecoder`] takes the raw bytes that follow, a read at a time, and
//! hands each run of payload to a sink without copying it, so a reader can
//! decode straight out of its read buffer. Chunk-size lines, chunk ends and
//! trailers are checked; a server that breaks them gets a typed error, never
//! a panic, and nothing is buffered beyond the state of one line.

use thiserror::Error;

/// The most headers a response head may carry.
const MAX_HEADERS: usize = 64;

/// The longest chunk-size line (extensions included) or trailer line.
const MAX_LINE: usize = 4096;

/// How a server broke HTTP/1.1 framing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Http1Error {
    #[error("the response head passed {limit} bytes")]
    HeadTooLong { limit: usize },
    #[error("the response head is malformed: {0}")]
    BadHead(String),
    #[error("a chunk-size line is malformed")]
    BadChunkSize,
    #[error("a chunk's data was not followed by CRLF")]
    BadChunkEnd,
    #[error("a chunk-size or trailer line passed {MAX_LINE} bytes")]
    LineTooLong,
    #[error("the connection closed {0}")]
    Truncated(&'static str),
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `transfer-encoding: chunked`.
    Chunked,
    /// `content-length` bytes.
    Length(u64),
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Names as sent; values decoded as UTF-8 with replacement.
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A `1xx` head other than `101`: another head follows on the same connection.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// The response head at the start of `bytes` and how many bytes it took;
/// `Ok(None)` while it is incomplete and within `limit` bytes.
pub fn parse_head(bytes: &[u8], limit: usize) -> Result<Option<(Head, usize)>, Http1Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(bytes) {
        Ok(httparse::Status::Complete(used)) if used <= limit => used,
        Ok(httparse::Status::Partial) if bytes.len() <= limit => return Ok(None),
        Ok(_) => return Err(Http1Error::HeadTooLong { limit }),
        Err(error) => return Err(Http1Error::BadHead(error.to_string())),
    };
    let status = response.code.unwrap_or_default();
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).trim().to_owned();
            (h.name.to_owned(), value)
        })
        .collect();
    let body = body_kind(status, &headers)?;
    Ok(Some((
        Head {
            status,
            headers,
            body,
        },
        used,
    )))
}

/// RFC 9112 §6.3: no body for 1xx, 204 and 304; chunked when it is the last
/// transfer coding; any other transfer coding runs until close; then
/// `content-length` (several must agree); else until close.
fn body_kind(status: u16, headers: &[(String, String)]) -> Result<BodyKind, Http1Error> {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(BodyKind::Length(0));
    }
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
    };
    if let Some(last) = values("transfer-encoding").next_back() {
        return Ok(if last.eq_ignore_ascii_case("chunked") {
            BodyKind::Chunked
        } else {
            BodyKind::UntilClose
        });
    }
    let mut length = None;
    for value in values("content-length") {
        let n: u64 = value
            .parse()
            .map_err(|_| Http1Error::BadHead(format!("content-length {value:?}")))?;
        if length.is_some_and(|l| l != n) {
            return Err(Http1Error::BadHead(
                "content-length values differ".to_owned(),
            ));
        }
        length = Some(n);
    }
    Ok(length.map_or(BodyKind::UntilClose, BodyKind::Length))
}

/// Where a body decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a chunk-size line: the size so far, whether digits are over (an
    /// extension or whitespace), and the line's length.
    Size {
        size: u64,
        digits: usize,
        ended: bool,
        line: usize,
    },
    Data(u64),
    /// After a chunk's data: `\r` not yet seen.
    DataEnd,
    /// After a chunk's data and its `\r`: the `\n`.
    DataEndLf,
    /// After the last chunk: trailer lines until an empty one.
    Trailer {
        line: usize,
    },
    Length(u64),
    UntilClose,
    Done,
}

impl State {
    const SIZE: State = State::Size {
        size: 0,
        digits: 0,
        ended: false,
        line: 0,
    };
}

/// A body's payload out of the raw bytes after its head.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
}

impl BodyDecoder {
    pub fn new(kind: BodyKind) -> BodyDecoder {
        let state = match kind {
            BodyKind::Chunked => State::SIZE,
            BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::UntilClose => State::UntilClose,
        };
        BodyDecoder { state }
    }

    /// Whether the body is complete; the bytes after it are not the body's.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, handing each run of payload in it to `payload`, and
    /// returns how many bytes were the body's: all of them unless the body
    /// ended inside `input`.
    pub fn decode(
        &mut self,
        input: &[u8],
        payload: &mut impl FnMut(&[u8]),
    ) -> Result<usize, Http1Error> {
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            match &mut self.state {
                State::Done => break,
                State::UntilClose => {
                    payload(rest);
                    at = input.len();
                }
                State::Length(left) | State::Data(left) => {
                    let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    payload(&rest[..take]);
                    *left -= take as u64;
                    at += take;
                    if *left == 0 {
                        self.state = match self.state {
                            State::Length(_) => State::Done,
                            _ => State::DataEnd,
                        };
                    }
                }
                _ => {
                    self.step(rest[0])?;
                    at += 1;
                }
            }
        }
        Ok(at)
    }

    /// One byte of framing (a chunk-size line, a chunk's end, a trailer).
    fn step(&mut self, byte: u8) -> Result<(), Http1Error> {
        self.state = match self.state {
            State::Size { line, .. } if line >= MAX_LINE => return Err(Http1Error::LineTooLong),
            State::Size { size, digits, .. } if byte == b'\n' => match (digits, size) {
                (0, _) => return Err(Http1Error::BadChunkSize),
                (_, 0) => State::Trailer { line: 0 },
                (_, n) => State::Data(n),
            },
            State::Size {
                size,
                digits,
                ended: false,
                line,
            } if byte.is_ascii_hexdigit() => {
                if digits == 16 {
                    return Err(Http1Error::BadChunkSize);
                }
                let digit = u64::from(char::from(byte).to_digit(16).unwrap_or_default());
                State::Size {
                    size: size << 4 | digit,
                    digits: digits + 1,
                    ended: false,
                    line: line + 1,
                }
            }
            // After the digits: whitespace, an extension (`;name=value`), the CR.
            State::Size {
                size, digits, line, ..
            } if digits > 0 => State::Size {
                size,
                digits,
                ended: true,
                line: line + 1,
            },
            State::Size { .. } => return Err(Http1Error::BadChunkSize),
            State::DataEnd if byte == b'\r' => State::DataEndLf,
            State::DataEnd | State::DataEndLf if byte == b'\n' => State::SIZE,
            State::DataEnd | State::DataEndLf => return Err(Http1Error::BadChunkEnd),
            State::Trailer { line } if byte == b'\n' => {
                if line == 0 {
                    State::Done
                } else {
                    State::Trailer { line: 0 }
                }
            }
            State::Trailer { line } if byte == b'\r' => State::Trailer { line },
            State::Trailer { line } if line >= MAX_LINE => return Err(Http1Error::LineTooLong),
            State::Trailer { line } => State::Trailer { line: line + 1 },
            state @ (State::Data(_) | State::Length(_) | State::UntilClose | State::Done) => state,
        };
        Ok(())
    }

    /// The connection closed: fine when the body runs until close or is
    /// complete, an error when it was cut short.
    pub fn finish(&self) -> Result<(), Http1Error> {
        match self.state {
            State::Done | State::UntilClose => Ok(()),
            State::Length(_) => Err(Http1Error::Truncated("before content-length bytes came")),
            _ => Err(Http1Error::Truncated("inside a chunked body")),
        }
    }
}

#[cfg(test)]
mod tests;
