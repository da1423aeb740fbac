//! Strict DAG-CBOR as the atproto data model defines it: a decoder that refuses every non-canonical form, a canonical encoder, and the JSON mapping.
//!
//! DAG-CBOR is CBOR with one encoding per value: definite lengths only,
//! minimal heads, map keys that are text sorted length-first then bytewise,
//! no floats (atproto forbids them), no simple values but `false`, `true` and
//! `null`, and no tag but 42, which wraps a CID. The decoder enforces each
//! rule with its own [`DecodeError`] variant, because the harness reports a
//! server that breaks one as a finding, naming the rule and the byte.
//!
//! # Layout
//!
//! - `value`: [`Value`], the data model, and [`canonical_key_order`].
//! - `decode`: [`decode`], [`decode_prefix`], [`DecodeLimits`], [`DecodeError`].
//! - `encode`: [`encode`] and the low-level [`Encoder`] for hand-built (even broken) encodings.
//! - `json`: [`from_atproto_json`], [`record_from_atproto_json`], [`to_atproto_json`], [`DataModelError`].

mod decode;
mod encode;
mod json;
mod value;

pub(crate) use decode::decode_prefix_from;
pub use decode::{DecodeError, DecodeLimits, decode, decode_prefix};
pub use encode::{CID_TAG, Encoder, Major, encode};
pub use json::{
    DataModelError, MAX_JSON_DEPTH, from_atproto_json, record_from_atproto_json, to_atproto_json,
};
pub use value::{Value, canonical_key_order};

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_hex(hex: &str) -> Result<Value, DecodeError> {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        decode(&bytes, &DecodeLimits::default())
    }

    #[test]
    fn huge_array_claim_fails_fast_without_allocating() {
        // An array of 2^64 - 1 items in nine bytes: the claim is refused before any
        // allocation, whether the collection limit or the input-length check sees it first.
        let bytes = [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let err = decode(&bytes, &DecodeLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "collection-too-long");
        let unlimited = DecodeLimits {
            max_collection_len: usize::MAX,
            ..DecodeLimits::default()
        };
        let err = decode(&bytes, &unlimited).unwrap_err();
        assert_eq!(
            err,
            DecodeError::LengthExceedsInput {
                offset: 0,
                claimed: u64::MAX,
                remaining: 0
            }
        );
        // The same for a byte string and a map.
        let bytes = [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(
            decode(&bytes, &unlimited).unwrap_err().kind(),
            "length-exceeds-input"
        );
        let bytes = [
            0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x61, 0x61, 0x01,
        ];
        assert_eq!(
            decode(&bytes, &unlimited).unwrap_err().kind(),
            "length-exceeds-input"
        );
    }

    #[test]
    fn depth_limit_counts_containers() {
        let limits = DecodeLimits {
            max_depth: 3,
            ..DecodeLimits::default()
        };
        let bytes = [0x81, 0x81, 0x80];
        assert!(decode(&bytes, &limits).is_ok());
        let bytes = [0x81, 0x81, 0x81, 0x80];
        assert_eq!(
            decode(&bytes, &limits),
            Err(DecodeError::TooDeep { offset: 3, max: 3 })
        );
    }

    #[test]
    fn deep_input_does_not_overflow_the_stack() {
        let mut bytes = vec![0x81; 100_000];
        bytes.push(0x00);
        let limits = DecodeLimits {
            max_depth: usize::MAX,
            ..DecodeLimits::default()
        };
        let value = decode(&bytes, &limits).unwrap();
        // Dropping a value this deep would recurse, so take it apart by hand.
        let mut current = value;
        while let Value::Array(mut items) = current {
            current = items.pop().unwrap_or(Value::Null);
        }
        assert_eq!(current, Value::Integer(0));
    }

    #[test]
    fn offsets_point_at_the_offending_item() {
        assert_eq!(
            decode_hex("a2616101616101"),
            Err(DecodeError::DuplicateKey { offset: 4 })
        );
        assert_eq!(
            decode_hex("820018"),
            Err(DecodeError::Truncated { offset: 2 })
        );
        assert_eq!(
            decode_hex("8201f97e00"),
            Err(DecodeError::Float { offset: 2 })
        );
    }
}
