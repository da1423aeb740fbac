//! Unsigned LEB128 varints as specified by multiformats `unsigned-varint`, used by CIDs and CAR files.
//!
//! The multiformats rules are stricter than plain LEB128: an encoding must be
//! minimal (no trailing `0x00` group) and at most nine bytes long, so every
//! value has exactly one encoding and the largest is `2^63 - 1`.

use thiserror::Error;

/// The longest encoding multiformats allows: nine groups of seven bits.
pub const MAX_LEN: usize = 9;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarintError {
    /// The input ended while the last byte read still had its continuation bit set.
    #[error("varint truncated after {len} byte(s)")]
    Truncated { len: usize },
    /// The last byte of a multi-byte varint was zero, so a shorter encoding exists.
    #[error("varint of {len} bytes is not minimally encoded")]
    NonMinimal { len: usize },
    /// The ninth byte still had its continuation bit set.
    #[error("varint longer than {MAX_LEN} bytes")]
    TooLong,
}

/// Appends the encoding of `n` to `out`.
///
/// Values of `2^63` and above need ten bytes, which strict readers (including
/// [`decode`]) refuse; nothing in a CID or CAR file comes near them.
pub fn encode_into(mut n: u64, out: &mut Vec<u8>) {
    loop {
        // The mask keeps the cast lossless: only the low seven bits remain.
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Returns the encoding of `n` as a new buffer.
pub fn encode(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_LEN);
    encode_into(n, &mut out);
    out
}

/// Reads one varint from the start of `bytes`, returning the value and the number of bytes used.
pub fn decode(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (index, &byte) in bytes.iter().enumerate().take(MAX_LEN) {
        // index < 9, so the shift is at most 56 and the seven bits fit in a u64.
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let len = index + 1;
            if byte == 0 && len > 1 {
                return Err(VarintError::NonMinimal { len });
            }
            return Ok((value, len));
        }
    }
    if bytes.len() >= MAX_LEN {
        Err(VarintError::TooLong)
    } else {
        Err(VarintError::Truncated { len: bytes.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings_from_the_multiformats_spec() {
        let table: &[(u64, &[u8])] = &[
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (255, &[0xff, 0x01]),
            (300, &[0xac, 0x02]),
            (16384, &[0x80, 0x80, 0x01]),
        ];
        for &(n, bytes) in table {
            assert_eq!(encode(n), bytes, "encode {n}");
            assert_eq!(decode(bytes), Ok((n, bytes.len())), "decode {n}");
        }
    }

    #[test]
    fn largest_value_uses_nine_bytes() {
        let max = (1u64 << 63) - 1;
        let bytes = encode(max);
        assert_eq!(bytes.len(), MAX_LEN);
        assert_eq!(decode(&bytes), Ok((max, MAX_LEN)));
        assert_eq!(encode(1 << 63).len(), 10);
        assert_eq!(decode(&encode(1 << 63)), Err(VarintError::TooLong));
    }

    #[test]
    fn refuses_bad_encodings() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated { len: 0 }));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated { len: 1 }));
        assert_eq!(
            decode(&[0x80, 0x00]),
            Err(VarintError::NonMinimal { len: 2 })
        );
        assert_eq!(
            decode(&[0x81, 0x80, 0x00]),
            Err(VarintError::NonMinimal { len: 3 })
        );
        assert_eq!(decode(&[0xff; 12]), Err(VarintError::TooLong));
        assert_eq!(decode(&[0x00, 0x05]), Ok((0, 1)));
    }
}
