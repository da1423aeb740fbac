//! The canonical DAG-CBOR encoder, and the low-level writer it is built on.
//!
//! [`encode`] always produces the one canonical encoding. [`Encoder`]'s
//! primitive methods write exactly what they are told, so the reference
//! server can build deliberately broken frames (unsorted keys, duplicate keys,
//! non-minimal heads via [`Encoder::write_raw`]) for its defect switches.

use super::value::{Value, canonical_key_order};
use crate::cid::Cid;

/// The eight CBOR major types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    Unsigned = 0,
    Negative = 1,
    Bytes = 2,
    Text = 3,
    Array = 4,
    Map = 5,
    Tag = 6,
    Simple = 7,
}

/// The tag DAG-CBOR uses for CIDs.
pub const CID_TAG: u64 = 42;

/// Encodes `value` canonically: minimal heads, map keys sorted length-first, links as tag 42.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut encoder = Encoder::new();
    encoder.write_value(value);
    encoder.into_bytes()
}

/// A CBOR writer into a growing buffer.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Encoder::default()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Gives up the buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes an initial byte and argument in the shortest form.
    pub fn write_head(&mut self, major: Major, n: u64) {
        let top = (major as u8) << 5;
        // Each arm's bound makes its cast lossless.
        if n < 24 {
            self.buf.push(top | n as u8);
        } else if n <= 0xff {
            self.buf.extend_from_slice(&[top | 24, n as u8]);
        } else if n <= 0xffff {
            self.buf.push(top | 25);
            self.buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            self.buf.push(top | 26);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(top | 27);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// Appends bytes as they are, for hand-built encodings.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn write_null(&mut self) {
        self.write_head(Major::Simple, 22);
    }

    pub fn write_bool(&mut self, b: bool) {
        self.write_head(Major::Simple, if b { 21 } else { 20 });
    }

    pub fn write_integer(&mut self, n: i64) {
        match u64::try_from(n) {
            Ok(positive) => self.write_head(Major::Unsigned, positive),
            // CBOR stores a negative n as -1 - n, which is |n| - 1 and never underflows for n < 0.
            Err(_) => self.write_head(Major::Negative, n.unsigned_abs() - 1),
        }
    }

    pub fn write_text(&mut self, text: &str) {
        self.write_head(Major::Text, text.len() as u64);
        self.buf.extend_from_slice(text.as_bytes());
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_head(Major::Bytes, bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// Starts an array; the caller writes `len` items next.
    pub fn write_array_header(&mut self, len: usize) {
        self.write_head(Major::Array, len as u64);
    }

    /// Starts a map; the caller writes `len` key-value pairs next, in whatever order it likes.
    pub fn write_map_header(&mut self, len: usize) {
        self.write_head(Major::Map, len as u64);
    }

    /// Writes a CID as tag 42 around a byte string of 0x00 followed by the binary CID.
    pub fn write_link(&mut self, cid: &Cid) {
        let mut content = vec![0u8];
        cid.write_bytes(&mut content);
        self.write_head(Major::Tag, CID_TAG);
        self.write_bytes(&content);
    }

    /// Writes `value` canonically.
    pub fn write_value(&mut self, value: &Value) {
        match value {
            Value::Null => self.write_null(),
            Value::Bool(b) => self.write_bool(*b),
            Value::Integer(n) => self.write_integer(*n),
            Value::String(s) => self.write_text(s),
            Value::Bytes(b) => self.write_bytes(b),
            Value::Array(items) => {
                self.write_array_header(items.len());
                for item in items {
                    self.write_value(item);
                }
            }
            Value::Map(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|(a, _), (b, _)| canonical_key_order(a, b));
                self.write_map_header(entries.len());
                for (key, item) in entries {
                    self.write_text(key);
                    self.write_value(item);
                }
            }
            Value::Link(cid) => self.write_link(cid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc8949_appendix_a_integers() {
        let table: &[(i64, &str)] = &[
            (0, "00"),
            (23, "17"),
            (24, "1818"),
            (100, "1864"),
            (1000, "1903e8"),
            (1_000_000, "1a000f4240"),
            (1_000_000_000_000, "1b000000e8d4a51000"),
            (-1, "20"),
            (-10, "29"),
            (-100, "3863"),
            (-1000, "3903e7"),
            (i64::MAX, "1b7fffffffffffffff"),
            (i64::MIN, "3b7fffffffffffffff"),
        ];
        for &(n, expected) in table {
            assert_eq!(hex(&encode(&Value::Integer(n))), expected, "{n}");
        }
    }

    #[test]
    fn map_keys_are_sorted_length_first() {
        let value = Value::map([("bb", Value::Null), ("a", Value::Null), ("c", Value::Null)]);
        // BTreeMap would give a, bb, c; DAG-CBOR wants a, c, bb.
        assert_eq!(hex(&encode(&value)), "a36161f66163f6626262f6");
    }

    #[test]
    fn link_is_tag_42_with_a_zero_prefix() {
        let cid = Cid::new(crate::cid::DAG_CBOR, [0xab; 32]);
        let bytes = encode(&Value::Link(cid));
        assert_eq!(hex(&bytes[..9]), "d82a58250001711220");
        assert_eq!(bytes.len(), 2 + 2 + 37);
    }
}
