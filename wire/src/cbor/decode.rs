//! The strict DAG-CBOR decoder: one item from bytes, refusing everything the atproto data model rules out.
//!
//! The decoder is iterative (an explicit stack of open arrays and maps), so a
//! deep input costs heap bounded by `max_depth`, never call stack. Every length
//! claim is compared with the bytes that remain before anything is allocated,
//! and preallocation is capped, so a short hostile input cannot make it
//! reserve much memory.

use thiserror::Error;

use super::value::{Value, canonical_key_order};
use crate::cid::{Cid, CidError};
use std::cmp::Ordering;

/// Bounds on what [`decode`] accepts, so a peer cannot make the harness allocate or recurse without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The largest input, in bytes. The default, 5 MiB, fits a firehose
    /// `#commit` whose CAR slice is at its 2,000,000-byte maximum, with room
    /// for the rest of the message.
    pub max_bytes: usize,
    /// The deepest nesting of arrays and maps. The default is 64; atproto
    /// records are far shallower, and deeper input is more likely an attack.
    /// The decoder itself never recurses, but [`encode`](super::encode),
    /// [`to_atproto_json`](super::to_atproto_json) and dropping a [`Value`]
    /// do, so a limit in the thousands risks the caller's stack.
    pub max_depth: usize,
    /// The most items in one array or entries in one map. The default is
    /// 65,536; firehose messages carry at most 200 ops.
    pub max_collection_len: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bytes: 5 * 1024 * 1024,
            max_depth: 64,
            max_collection_len: 65_536,
        }
    }
}

/// Why bytes are not one strict DAG-CBOR item. Offsets are byte positions in the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("empty input")]
    Empty,
    #[error("input of {len} bytes is over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("input ends inside the item at byte {offset}")]
    Truncated { offset: usize },
    #[error("length {claimed} at byte {offset} is more than the {remaining} byte(s) left")]
    LengthExceedsInput {
        offset: usize,
        claimed: u64,
        remaining: usize,
    },
    #[error("{extra} trailing byte(s) after the item, at byte {offset}")]
    TrailingBytes { offset: usize, extra: usize },
    #[error("non-minimal integer, length or tag encoding at byte {offset}")]
    NonMinimal { offset: usize },
    #[error("indefinite length or break at byte {offset}")]
    Indefinite { offset: usize },
    #[error("reserved additional information in initial byte 0x{initial:02x} at byte {offset}")]
    Reserved { offset: usize, initial: u8 },
    #[error("floating-point number at byte {offset}")]
    Float { offset: usize },
    #[error(
        "simple value other than false, true or null (initial byte 0x{initial:02x}) at byte {offset}"
    )]
    SimpleValue { offset: usize, initial: u8 },
    #[error("tag {tag} at byte {offset}; only tag 42 (CID) is allowed")]
    UnsupportedTag { offset: usize, tag: u64 },
    #[error("tag 42 content at byte {offset} is not a byte string")]
    LinkNotBytes { offset: usize },
    #[error("tag 42 byte string at byte {offset} does not start with 0x00")]
    LinkPrefix { offset: usize },
    #[error("tag 42 at byte {offset} holds a bad CID: {source}")]
    LinkCid {
        offset: usize,
        #[source]
        source: CidError,
    },
    #[error("integer at byte {offset} is outside the 64-bit signed range")]
    IntegerOutOfRange { offset: usize },
    #[error("text string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("map key at byte {offset} is not a text string")]
    KeyNotText { offset: usize },
    #[error("map key at byte {offset} is out of order (DAG-CBOR sorts by length, then bytewise)")]
    KeyOrder { offset: usize },
    #[error("duplicate map key at byte {offset}")]
    DuplicateKey { offset: usize },
    #[error("collection of {len} items at byte {offset} is over the limit of {max}")]
    CollectionTooLong { offset: usize, len: u64, max: usize },
    #[error("nesting deeper than {max} at byte {offset}")]
    TooDeep { offset: usize, max: usize },
}

impl DecodeError {
    /// A stable kebab-case name for the rule that was broken, for golden files and findings.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TooLarge { .. } => "too-large",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::LengthExceedsInput { .. } => "length-exceeds-input",
            DecodeError::TrailingBytes { .. } => "trailing-bytes",
            DecodeError::NonMinimal { .. } => "non-minimal",
            DecodeError::Indefinite { .. } => "indefinite",
            DecodeError::Reserved { .. } => "reserved",
            DecodeError::Float { .. } => "float",
            DecodeError::SimpleValue { .. } => "simple-value",
            DecodeError::UnsupportedTag { .. } => "unsupported-tag",
            DecodeError::LinkNotBytes { .. } => "link-not-bytes",
            DecodeError::LinkPrefix { .. } => "link-prefix",
            DecodeError::LinkCid { .. } => "link-cid",
            DecodeError::IntegerOutOfRange { .. } => "integer-out-of-range",
            DecodeError::InvalidUtf8 { .. } => "invalid-utf8",
            DecodeError::KeyNotText { .. } => "key-not-text",
            DecodeError::KeyOrder { .. } => "key-order",
            DecodeError::DuplicateKey { .. } => "duplicate-key",
            DecodeError::CollectionTooLong { .. } => "collection-too-long",
            DecodeError::TooDeep { .. } => "too-deep",
        }
    }

    /// The byte position the error refers to (0 for whole-input errors).
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Empty | DecodeError::TooLarge { .. } => 0,
            DecodeError::Truncated { offset }
            | DecodeError::LengthExceedsInput { offset, .. }
            | DecodeError::TrailingBytes { offset, .. }
            | DecodeError::NonMinimal { offset }
            | DecodeError::Indefinite { offset }
            | DecodeError::Reserved { offset, .. }
            | DecodeError::Float { offset }
            | DecodeError::SimpleValue { offset, .. }
            | DecodeError::UnsupportedTag { offset, .. }
            | DecodeError::LinkNotBytes { offset }
            | DecodeError::LinkPrefix { offset }
            | DecodeError::LinkCid { offset, .. }
            | DecodeError::IntegerOutOfRange { offset }
            | DecodeError::InvalidUtf8 { offset }
            | DecodeError::KeyNotText { offset }
            | DecodeError::KeyOrder { offset }
            | DecodeError::DuplicateKey { offset }
            | DecodeError::CollectionTooLong { offset, .. }
            | DecodeError::TooDeep { offset, .. } => *offset,
        }
    }
}

/// Decodes `bytes` as exactly one DAG-CBOR item; anything after it is an error.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Value, DecodeError> {
    let (value, used) = decode_prefix(bytes, limits)?;
    match bytes.len().checked_sub(used) {
        Some(0) | None => Ok(value),
        Some(extra) => Err(DecodeError::TrailingBytes {
            offset: used,
            extra,
        }),
    }
}

/// Decodes one DAG-CBOR item from the start of `bytes`, returning it and the number of bytes it used.
pub fn decode_prefix(bytes: &[u8], limits: &DecodeLimits) -> Result<(Value, usize), DecodeError> {
    decode_prefix_from(bytes, 0, limits)
}

/// Decodes one item starting at `start`, so that error offsets count from the start of `bytes`.
/// Returns the item and the offset just past it.
pub(crate) fn decode_prefix_from(
    bytes: &[u8],
    start: usize,
    limits: &DecodeLimits,
) -> Result<(Value, usize), DecodeError> {
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    if bytes.get(start..).is_none_or(<[u8]>::is_empty) {
        return Err(if start == 0 {
            DecodeError::Empty
        } else {
            DecodeError::Truncated { offset: start }
        });
    }
    let mut reader = Reader { bytes, pos: start };
    reader.item(limits).map(|value| (value, reader.pos))
}

/// Preallocation for arrays and maps is capped: a length claim is checked
/// against the remaining input, but each `Value` is larger than the one byte
/// it can be encoded in, so trusting the claim fully would still multiply it.
const PREALLOCATE_MAX: usize = 256;

/// An array or map whose items are still being read.
enum Open {
    Array {
        items: Vec<Value>,
        left: usize,
    },
    Map {
        entries: Vec<(String, Value)>,
        /// The key read for the entry whose value is being read now.
        key: Option<String>,
        left: usize,
    },
}

impl Open {
    fn close(self) -> Value {
        match self {
            Open::Array { items, .. } => Value::Array(items),
            Open::Map { entries, .. } => Value::Map(entries.into_iter().collect()),
        }
    }
}

/// The first bytes of an item: major type, additional information and its argument.
struct Head {
    major: u8,
    arg: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Truncated { offset: self.pos })
    }

    /// Reads one whole item, opening containers on an explicit stack.
    fn item(&mut self, limits: &DecodeLimits) -> Result<Value, DecodeError> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            if let Some(Open::Map { entries, key, .. }) = stack.last_mut()
                && key.is_none()
            {
                *key = Some(self.key(entries.last().map(|(k, _)| k.as_str()))?);
            }
            let offset = self.pos;
            let head = self.head()?;
            let mut value = match head.major {
                4 | 5 => {
                    if stack.len() >= limits.max_depth {
                        return Err(DecodeError::TooDeep {
                            offset,
                            max: limits.max_depth,
                        });
                    }
                    let len = self.collection_len(&head, offset, limits)?;
                    if len == 0 {
                        if head.major == 4 {
                            Value::Array(Vec::new())
                        } else {
                            Value::Map(Default::default())
                        }
                    } else {
                        let capacity = len.min(PREALLOCATE_MAX);
                        stack.push(if head.major == 4 {
                            Open::Array {
                                items: Vec::with_capacity(capacity),
                                left: len,
                            }
                        } else {
                            Open::Map {
                                entries: Vec::with_capacity(capacity),
                                key: None,
                                left: len,
                            }
                        });
                        continue;
                    }
                }
                _ => self.scalar(head, offset)?,
            };
            // Hand the finished value to its parent, closing every container it completes.
            loop {
                let complete = match stack.last_mut() {
                    None => return Ok(value),
                    Some(Open::Array { items, left }) => {
                        items.push(value);
                        *left = left.saturating_sub(1);
                        *left == 0
                    }
                    Some(Open::Map { entries, key, left }) => {
                        entries.push((key.take().unwrap_or_default(), value));
                        *left = left.saturating_sub(1);
                        *left == 0
                    }
                };
                // An incomplete parent waits for its next item; a complete one is itself a
                // finished value for the level above.
                if !complete {
                    break;
                }
                match stack.pop() {
                    Some(open) => value = open.close(),
                    None => break,
                }
            }
        }
    }

    /// Checks an array or map length against the limits and the remaining input.
    fn collection_len(
        &self,
        head: &Head,
        offset: usize,
        limits: &DecodeLimits,
    ) -> Result<usize, DecodeError> {
        let claimed = head.arg;
        if claimed > limits.max_collection_len as u64 {
            return Err(DecodeError::CollectionTooLong {
                offset,
                len: claimed,
                max: limits.max_collection_len,
            });
        }
        // Every item takes at least one byte, every map entry at least two.
        let min_bytes = if head.major == 5 {
            claimed.saturating_mul(2)
        } else {
            claimed
        };
        let remaining = self.remaining();
        match usize::try_from(claimed) {
            Ok(len) if min_bytes <= remaining as u64 => Ok(len),
            _ => Err(DecodeError::LengthExceedsInput {
                offset,
                claimed,
                remaining,
            }),
        }
    }

    /// Reads a map key, which must be text and come after `previous` in canonical order.
    fn key(&mut self, previous: Option<&str>) -> Result<String, DecodeError> {
        let offset = self.pos;
        if self.peek()? >> 5 != 3 {
            return Err(DecodeError::KeyNotText { offset });
        }
        let head = self.head()?;
        let key = self.text(head.arg, offset)?;
        match previous.map(|p| canonical_key_order(p, &key)) {
            Some(Ordering::Equal) => Err(DecodeError::DuplicateKey { offset }),
            Some(Ordering::Greater) => Err(DecodeError::KeyOrder { offset }),
            _ => Ok(key),
        }
    }

    /// Reads everything that is not an array or map, given its already-read head.
    fn scalar(&mut self, head: Head, offset: usize) -> Result<Value, DecodeError> {
        match head.major {
            0 => i64::try_from(head.arg)
                .map(Value::Integer)
                .map_err(|_| DecodeError::IntegerOutOfRange { offset }),
            1 => i64::try_from(head.arg)
                .ok()
                .and_then(|n| (-1i64).checked_sub(n))
                .map(Value::Integer)
                .ok_or(DecodeError::IntegerOutOfRange { offset }),
            2 => Ok(Value::Bytes(self.take(head.arg, offset)?.to_vec())),
            3 => Ok(Value::String(self.text(head.arg, offset)?)),
            6 => self.link(head.arg, offset),
            // head() lets only false, true and null through for major type 7.
            _ => Ok(match head.arg {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                _ => Value::Null,
            }),
        }
    }

    /// Reads the content of a tag: it must be 42, wrapping a 0x00-prefixed binary CID.
    fn link(&mut self, tag: u64, offset: usize) -> Result<Value, DecodeError> {
        if tag != 42 {
            return Err(DecodeError::UnsupportedTag { offset, tag });
        }
        let content = self.pos;
        if self.peek()? >> 5 != 2 {
            return Err(DecodeError::LinkNotBytes { offset: content });
        }
        let head = self.head()?;
        let bytes = self.take(head.arg, content)?;
        match bytes.split_first() {
            Some((0, cid)) => {
                Cid::from_bytes(cid)
                    .map(Value::Link)
                    .map_err(|source| DecodeError::LinkCid {
                        offset: content,
                        source,
                    })
            }
            _ => Err(DecodeError::LinkPrefix { offset: content }),
        }
    }

    fn text(&mut self, len: u64, offset: usize) -> Result<String, DecodeError> {
        let bytes = self.take(len, offset)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8 { offset })
    }

    /// Takes `len` bytes of string content, after checking the claim against what remains.
    fn take(&mut self, len: u64, offset: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        let slice = usize::try_from(len)
            .ok()
            .filter(|&n| n <= remaining)
            .and_then(|n| self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)))
            .ok_or(DecodeError::LengthExceedsInput {
                offset,
                claimed: len,
                remaining,
            })?;
        self.pos += slice.len();
        Ok(slice)
    }

    /// Reads an initial byte and its argument, enforcing minimal encoding and refusing
    /// indefinite lengths, floats and simple values other than false, true and null.
    fn head(&mut self) -> Result<Head, DecodeError> {
        let offset = self.pos;
        let initial = self.peek()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            return match info {
                20..=22 => {
                    self.pos += 1;
                    Ok(Head {
                        major,
                        arg: u64::from(info),
                    })
                }
                25..=27 => Err(DecodeError::Float { offset }),
                28..=30 => Err(DecodeError::Reserved { offset, initial }),
                31 => Err(DecodeError::Indefinite { offset }),
                _ => Err(DecodeError::SimpleValue { offset, initial }),
            };
        }
        let (width, smallest) = match info {
            0..=23 => {
                self.pos += 1;
                return Ok(Head {
                    major,
                    arg: u64::from(info),
                });
            }
            24 => (1, 24),
            25 => (2, 0x100),
            26 => (4, 0x1_0000),
            27 => (8, 0x1_0000_0000),
            31 if (2..=5).contains(&major) => return Err(DecodeError::Indefinite { offset }),
            _ => return Err(DecodeError::Reserved { offset, initial }),
        };
        let argument = self
            .bytes
            .get(offset + 1..)
            .and_then(|rest| rest.get(..width))
            .ok_or(DecodeError::Truncated { offset })?;
        let arg = argument
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if arg < smallest {
            return Err(DecodeError::NonMinimal { offset });
        }
        self.pos = offset + 1 + width;
        Ok(Head { major, arg })
    }
}
