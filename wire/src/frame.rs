//! The atproto event-stream frame: one binary WebSocket message holding exactly two DAG-CBOR objects, a header and a body.
//!
//! The header is `{op: 1, t: "#commit"}` for a message or `{op: -1}` for an
//! error, after which the server closes. Decoding checks the shape the spec
//! fixes (integer `op`, text `t` when present, a map body, nothing after it)
//! and leaves the meaning (which `op`, which `t`) to the caller, so the harness
//! can report an unknown op as a finding rather than fail to read it. Unknown
//! header keys are ignored for the same reason.

use thiserror::Error;

use crate::cbor::{self, DecodeError, DecodeLimits, Encoder, Value};

/// The `op` of a regular message.
pub const OP_MESSAGE: i64 = 1;
/// The `op` of an error message.
pub const OP_ERROR: i64 = -1;

/// A frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub op: i64,
    /// The message type, such as `#commit`; absent on errors.
    pub t: Option<String>,
}

/// A decoded frame: its header and its body, which is always a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: Header,
    pub body: Value,
}

/// Why bytes are not an event-stream frame. Offsets count from the start of the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame header is not DAG-CBOR: {source}")]
    Header {
        #[source]
        source: DecodeError,
    },
    #[error("frame header is a {found}, not a map")]
    HeaderNotMap { found: &'static str },
    #[error("frame header has no `op`")]
    MissingOp,
    #[error("frame header `op` is a {found}, not an integer")]
    OpNotInteger { found: &'static str },
    #[error("frame header `t` is a {found}, not a string")]
    TypeNotText { found: &'static str },
    #[error("frame ends after the header, at byte {offset}; the body is missing")]
    MissingBody { offset: usize },
    #[error("frame body is not DAG-CBOR: {source}")]
    Body {
        #[source]
        source: DecodeError,
    },
    #[error("frame body at byte {offset} is a {found}, not a map")]
    BodyNotMap { offset: usize, found: &'static str },
    #[error("{extra} trailing byte(s) after the frame body, at byte {offset}")]
    TrailingBytes { offset: usize, extra: usize },
}

impl FrameError {
    /// A stable kebab-case name for the problem, for golden files and findings.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::Header { .. } => "header",
            FrameError::HeaderNotMap { .. } => "header-not-map",
            FrameError::MissingOp => "missing-op",
            FrameError::OpNotInteger { .. } => "op-not-integer",
            FrameError::TypeNotText { .. } => "type-not-text",
            FrameError::MissingBody { .. } => "missing-body",
            FrameError::Body { .. } => "body",
            FrameError::BodyNotMap { .. } => "body-not-map",
            FrameError::TrailingBytes { .. } => "trailing-bytes",
        }
    }

    /// The DAG-CBOR error underneath, when the header or body failed to decode.
    pub fn decode_error(&self) -> Option<&DecodeError> {
        match self {
            FrameError::Header { source } | FrameError::Body { source } => Some(source),
            _ => None,
        }
    }
}

impl Header {
    /// The header of a regular message of type `t`, such as `"#commit"`.
    pub fn message(t: impl Into<String>) -> Self {
        Header {
            op: OP_MESSAGE,
            t: Some(t.into()),
        }
    }

    /// The header of an error message.
    pub fn error() -> Self {
        Header {
            op: OP_ERROR,
            t: None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.op == OP_ERROR
    }

    /// The header as a map value.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![("op", Value::Integer(self.op))];
        if let Some(t) = &self.t {
            entries.push(("t", Value::from(t.as_str())));
        }
        Value::map(entries)
    }

    /// Reads a header from a decoded map.
    pub fn from_value(value: &Value) -> Result<Header, FrameError> {
        let Value::Map(map) = value else {
            return Err(FrameError::HeaderNotMap {
                found: value.type_name(),
            });
        };
        let op = match map.get("op") {
            None => return Err(FrameError::MissingOp),
            Some(Value::Integer(op)) => *op,
            Some(other) => {
                return Err(FrameError::OpNotInteger {
                    found: other.type_name(),
                });
            }
        };
        let t = match map.get("t") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(other) => {
                return Err(FrameError::TypeNotText {
                    found: other.type_name(),
                });
            }
        };
        Ok(Header { op, t })
    }
}

impl Frame {
    /// A regular message of type `t` with `body`.
    pub fn message(t: impl Into<String>, body: Value) -> Self {
        Frame {
            header: Header::message(t),
            body,
        }
    }

    /// An error message: `{error, message?}` under an `op: -1` header.
    pub fn error(error: &str, message: Option<&str>) -> Self {
        let mut entries = vec![("error", Value::from(error))];
        if let Some(message) = message {
            entries.push(("message", Value::from(message)));
        }
        Frame {
            header: Header::error(),
            body: Value::map(entries),
        }
    }

    /// The message type without its leading `#`, such as `commit`.
    pub fn kind(&self) -> Option<&str> {
        self.header
            .t
            .as_deref()
            .map(|t| t.strip_prefix('#').unwrap_or(t))
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(&self.header, &self.body)
    }
}

/// Decodes one whole message: a header object, a body map, and nothing after it.
/// `limits` apply to the whole message.
pub fn decode_frame(bytes: &[u8], limits: &DecodeLimits) -> Result<Frame, FrameError> {
    let (header, body_start) = cbor::decode_prefix_from(bytes, 0, limits)
        .map_err(|source| FrameError::Header { source })?;
    let header = Header::from_value(&header)?;
    if body_start >= bytes.len() {
        return Err(FrameError::MissingBody { offset: body_start });
    }
    let (body, end) = cbor::decode_prefix_from(bytes, body_start, limits)
        .map_err(|source| FrameError::Body { source })?;
    if !matches!(body, Value::Map(_)) {
        return Err(FrameError::BodyNotMap {
            offset: body_start,
            found: body.type_name(),
        });
    }
    match bytes.len().checked_sub(end) {
        Some(0) | None => Ok(Frame { header, body }),
        Some(extra) => Err(FrameError::TrailingBytes { offset: end, extra }),
    }
}

/// Encodes a frame canonically. The body is written as given, so a test can send a non-map body on purpose.
pub fn encode_frame(header: &Header, body: &Value) -> Vec<u8> {
    let mut encoder = Encoder::new();
    encoder.write_value(&header.to_value());
    encoder.write_value(body);
    encoder.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_match_the_spec_layout() {
        // {"t": "#commit", "op": 1} sorted length-first: "op" (2) after "t" (1).
        let bytes = encode_frame(
            &Header::message("#commit"),
            &Value::map([("seq", Value::Integer(5))]),
        );
        let expected_header = [
            0xa2, 0x61, b't', 0x67, b'#', b'c', b'o', b'm', b'm', b'i', b't', 0x62, b'o', b'p',
            0x01,
        ];
        assert_eq!(&bytes[..expected_header.len()], &expected_header);
        let frame = decode_frame(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!(frame.kind(), Some("commit"));
        assert_eq!(frame.body.get("seq"), Some(&Value::Integer(5)));
    }

    #[test]
    fn error_frames() {
        let frame = Frame::error("FutureCursor", Some("cursor in the future"));
        let decoded = decode_frame(&frame.encode(), &DecodeLimits::default()).unwrap();
        assert!(decoded.header.is_error());
        assert_eq!(decoded, frame);
        // {op: -1} is a1 62 6f 70 20.
        assert_eq!(&frame.encode()[..5], &[0xa1, 0x62, b'o', b'p', 0x20]);
    }

    #[test]
    fn shape_errors() {
        let limits = DecodeLimits::default();
        let header = cbor::encode(&Header::message("#info").to_value());
        assert_eq!(
            decode_frame(&header, &limits),
            Err(FrameError::MissingBody {
                offset: header.len()
            })
        );
        let mut with_array_body = header.clone();
        with_array_body.push(0x80);
        assert!(matches!(
            decode_frame(&with_array_body, &limits),
            Err(FrameError::BodyNotMap { found: "array", .. })
        ));
        let mut trailing = header.clone();
        trailing.extend_from_slice(&[0xa0, 0x00]);
        assert_eq!(
            decode_frame(&trailing, &limits),
            Err(FrameError::TrailingBytes {
                offset: header.len() + 1,
                extra: 1
            })
        );
        let no_op = [0xa1, 0x61, b't', 0x61, b'x', 0xa0];
        assert_eq!(decode_frame(&no_op, &limits), Err(FrameError::MissingOp));
        let text_op = [0xa1, 0x62, b'o', b'p', 0x61, b'1', 0xa0];
        assert_eq!(
            decode_frame(&text_op, &limits),
            Err(FrameError::OpNotInteger { found: "string" })
        );
        let null_t = [0xa2, 0x61, b't', 0xf6, 0x62, b'o', b'p', 0x01, 0xa0];
        assert_eq!(
            decode_frame(&null_t, &limits),
            Err(FrameError::TypeNotText { found: "null" })
        );
    }

    #[test]
    fn body_errors_count_from_the_start_of_the_message() {
        let mut bytes = cbor::encode(&Header::message("#x").to_value());
        let body_start = bytes.len();
        // A map whose only value is a float.
        bytes.extend_from_slice(&[0xa1, 0x61, b'a', 0xf9, 0x00, 0x00]);
        assert_eq!(
            decode_frame(&bytes, &DecodeLimits::default()),
            Err(FrameError::Body {
                source: DecodeError::Float {
                    offset: body_start + 3
                }
            })
        );
    }
}
