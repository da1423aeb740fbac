//! The multibase text encodings atproto uses: base32 lower-case unpadded (`b`, CIDs) and base58btc (`z`, `did:key`).
//!
//! atproto writes every CID in base32 (`b…`); base58btc decoding exists so the
//! harness can read and report a CID that another peer wrote in the IPFS
//! default form. Decoding is strict: one spelling per byte string, so a CID
//! string compares equal exactly when its bytes do.

use thiserror::Error;

/// The multibase prefix of base32 lower-case without padding.
pub const BASE32_LOWER: char = 'b';
/// The multibase prefix of base58 with the Bitcoin alphabet.
pub const BASE58_BTC: char = 'z';

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58 decoding is quadratic, so longer strings are refused before any work; CIDs are under 100 characters.
pub const MAX_BASE58_LEN: usize = 1024;

/// Why a multibase string could not be decoded. Indexes count characters of the payload, after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MultibaseError {
    /// The string was empty, so it had no prefix.
    #[error("empty multibase string")]
    Empty,
    /// The prefix names a base this module does not read.
    #[error("unsupported multibase prefix {prefix:?} (only 'b' base32 and 'z' base58btc)")]
    UnsupportedBase { prefix: char },
    /// A character outside the alphabet, including upper case in base32 and `=` padding.
    #[error("invalid character {ch:?} at index {index}")]
    InvalidChar { index: usize, ch: char },
    /// The number of base32 characters cannot come from whole bytes.
    #[error("base32 length {len} is not a possible unpadded length")]
    InvalidLength { len: usize },
    /// The bits left after the last whole byte were not zero, so the spelling is not canonical.
    #[error("non-zero trailing bits in the last base32 character")]
    TrailingBits,
    /// A base58 string longer than [`MAX_BASE58_LEN`].
    #[error("base58 string of {len} characters is longer than {MAX_BASE58_LEN}")]
    TooLong { len: usize },
}

/// Encodes `bytes` as base32 lower-case without padding and without a prefix.
pub fn encode_base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_char(buffer >> bits));
        }
        // At most four bits remain; dropping the consumed ones keeps the shift in range.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(base32_char(buffer << (5 - bits)));
    }
    out
}

fn base32_char(group: u16) -> char {
    char::from(BASE32_ALPHABET[usize::from(group & 0x1f)])
}

/// Decodes base32 lower-case without padding and without a prefix, strictly.
pub fn decode_base32(text: &str) -> Result<Vec<u8>, MultibaseError> {
    let mut out = Vec::with_capacity(text.len() / 8 * 5 + 4);
    let mut len = 0;
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for (index, ch) in text.chars().enumerate() {
        let value = match ch {
            'a'..='z' => u16::from(ch as u8 - b'a'),
            '2'..='7' => u16::from(ch as u8 - b'2') + 26,
            _ => return Err(MultibaseError::InvalidChar { index, ch }),
        };
        len += 1;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            // The mask keeps the cast lossless.
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Five bits per character: 1, 3 or 6 characters past a multiple of eight
    // leave five or more spare bits, a whole character that no byte needed.
    if matches!(len % 8, 1 | 3 | 6) {
        return Err(MultibaseError::InvalidLength { len });
    }
    if buffer != 0 {
        return Err(MultibaseError::TrailingBits);
    }
    Ok(out)
}

/// Decodes base58btc without a prefix. Leading `1`s are leading zero bytes.
pub fn decode_base58btc(text: &str) -> Result<Vec<u8>, MultibaseError> {
    let len = text.len();
    if len > MAX_BASE58_LEN {
        return Err(MultibaseError::TooLong { len });
    }
    // Little-endian base-256 digits of the number read so far.
    let mut digits: Vec<u8> = Vec::with_capacity(len);
    let mut leading_zeros = 0;
    let mut seen_other = false;
    for (index, ch) in text.chars().enumerate() {
        let position = u8::try_from(ch)
            .ok()
            .and_then(|b| BASE58_ALPHABET.iter().position(|&a| a == b));
        let Some(mut carry) = position else {
            return Err(MultibaseError::InvalidChar { index, ch });
        };
        if carry == 0 && !seen_other {
            leading_zeros += 1;
            continue;
        }
        seen_other = true;
        for digit in &mut digits {
            // digit < 256 and carry < 58 * 256 before the division, so no overflow in usize.
            carry += usize::from(*digit) * 58;
            *digit = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            digits.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; leading_zeros];
    out.extend(digits.iter().rev());
    Ok(out)
}

/// Encodes base58btc without a prefix (as `did:key` needs after its `z`). Leading zero bytes become `1`s.
pub fn encode_base58btc(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    // Little-endian base-58 digits of the number read so far.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for byte in &bytes[zeros..] {
        let mut carry = usize::from(*byte);
        for digit in &mut digits {
            carry += usize::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|d| char::from(BASE58_ALPHABET[usize::from(*d)])),
    );
    out
}

/// Encodes `bytes` as a multibase string in base32 lower-case: `b` followed by the payload.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::from(BASE32_LOWER);
    out.push_str(&encode_base32(bytes));
    out
}

/// Decodes a multibase string in base32 lower-case (`b`) or base58btc (`z`).
pub fn decode(text: &str) -> Result<Vec<u8>, MultibaseError> {
    let mut chars = text.chars();
    match chars.next() {
        None => Err(MultibaseError::Empty),
        Some(BASE32_LOWER) => decode_base32(chars.as_str()),
        Some(BASE58_BTC) => decode_base58btc(chars.as_str()),
        Some(prefix) => Err(MultibaseError::UnsupportedBase { prefix }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_encodes_known_values_and_round_trips() {
        // The "Hello World!" example of the base58 draft, and leading zeros.
        assert_eq!(encode_base58btc(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(encode_base58btc(&[0, 0, 1]), "112");
        assert_eq!(encode_base58btc(&[]), "");
        for bytes in [&b"\x00\xff\x10"[..], b"did:key", &[0xe7, 0x01, 0x02, 0x03]] {
            assert_eq!(decode_base58btc(&encode_base58btc(bytes)).unwrap(), bytes);
        }
    }

    // The test vectors of RFC 4648 section 10, lower-cased and without padding.
    const RFC4648: &[(&str, &str)] = &[
        ("", ""),
        ("f", "my"),
        ("fo", "mzxq"),
        ("foo", "mzxw6"),
        ("foob", "mzxw6yq"),
        ("fooba", "mzxw6ytb"),
        ("foobar", "mzxw6ytboi"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for &(plain, encoded) in RFC4648 {
            assert_eq!(encode_base32(plain.as_bytes()), encoded);
            assert_eq!(decode_base32(encoded).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn strict_base32() {
        assert_eq!(
            decode_base32("MZXW6"),
            Err(MultibaseError::InvalidChar { index: 0, ch: 'M' })
        );
        assert_eq!(
            decode_base32("my======"),
            Err(MultibaseError::InvalidChar { index: 2, ch: '=' })
        );
        assert_eq!(
            decode_base32("mzx"),
            Err(MultibaseError::InvalidLength { len: 3 })
        );
        // "mz" decodes to 'f' with two trailing bits set.
        assert_eq!(decode_base32("mz"), Err(MultibaseError::TrailingBits));
        assert_eq!(
            decode_base32("m1"),
            Err(MultibaseError::InvalidChar { index: 1, ch: '1' })
        );
    }

    #[test]
    fn base58_known_values() {
        assert_eq!(decode_base58btc("").as_deref(), Ok(&[][..]));
        assert_eq!(decode_base58btc("1").as_deref(), Ok(&[0u8][..]));
        assert_eq!(decode_base58btc("11z").as_deref(), Ok(&[0u8, 0, 57][..]));
        assert_eq!(decode_base58btc("5Q").as_deref(), Ok(&[0xffu8][..]));
        // "Hello World!" from the base58 draft.
        assert_eq!(
            decode_base58btc("2NEpo7TZRRrLZSi2U").as_deref(),
            Ok(&b"Hello World!"[..])
        );
        assert!(matches!(
            decode_base58btc("0"),
            Err(MultibaseError::InvalidChar { .. })
        ));
    }

    #[test]
    fn prefixes() {
        assert_eq!(encode(b"foo"), "bmzxw6");
        assert_eq!(decode("bmzxw6").as_deref(), Ok(&b"foo"[..]));
        assert_eq!(decode(""), Err(MultibaseError::Empty));
        assert_eq!(
            decode("Bmzxw6"),
            Err(MultibaseError::UnsupportedBase { prefix: 'B' })
        );
    }
}
