//! CIDs, and the varint and multibase encodings they are made of: known values and round-trip properties.

use proptest::prelude::*;
use wire::cid::{Cid, CidError, DAG_CBOR, RAW};
use wire::multibase::{self, MultibaseError};
use wire::varint::{self, VarintError};

#[test]
fn interop_vector_cid_is_computed_from_its_block() {
    // From the atproto data-model fixtures: the CBOR of {"a": {"$link": ...}, ...} hashes to this.
    let cid: Cid = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"
        .parse()
        .unwrap();
    assert_eq!(cid.codec(), DAG_CBOR);
    assert!(cid.is_atproto_codec());
    assert_eq!(&cid.digest()[..4], &[0x65, 0x06, 0x2a, 0x5a]);
    assert_eq!(
        cid.to_string(),
        "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"
    );
}

#[test]
fn strict_string_parsing() {
    let good = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    assert_eq!(good.parse::<Cid>(), Ok(Cid::for_raw(b"")));
    let upper = good.to_uppercase();
    assert!(matches!(
        upper.parse::<Cid>(),
        Err(CidError::NotBase32 { prefix: 'B' })
    ));
    let mut padded = good.to_owned();
    padded.push('=');
    assert!(matches!(
        padded.parse::<Cid>(),
        Err(CidError::Multibase {
            source: MultibaseError::InvalidChar { ch: '=', .. }
        })
    ));
    assert!(matches!(
        format!(" {good}").parse::<Cid>(),
        Err(CidError::NotBase32 { prefix: ' ' })
    ));
    assert!("".parse::<Cid>().is_err());
    assert!("b".parse::<Cid>().is_err());
    // A sha2-512 CID (multihash 0x13) parses as bytes but is refused by hash function.
    let mut sha512 = vec![0x01, 0x71, 0x13, 0x40];
    sha512.extend([0u8; 64]);
    assert_eq!(
        multibase::encode(&sha512).parse::<Cid>(),
        Err(CidError::UnsupportedHash { code: 0x13 })
    );
}

#[test]
fn verifies_checks_the_digest() {
    let cid = Cid::for_dag_cbor(b"\xa0");
    assert!(cid.verifies(b"\xa0"));
    assert!(!cid.verifies(b"\xa1"));
    // The codec is not part of the check: a raw CID over the same bytes verifies too.
    assert!(Cid::new(RAW, *cid.digest()).verifies(b"\xa0"));
}

#[test]
fn varint_rejects_non_minimal_and_long_encodings() {
    assert_eq!(
        varint::decode(&[0x81, 0x00]),
        Err(VarintError::NonMinimal { len: 2 })
    );
    assert_eq!(varint::decode(&[0xff; 9]), Err(VarintError::TooLong));
    assert_eq!(
        varint::decode(&[0xff, 0xff]),
        Err(VarintError::Truncated { len: 2 })
    );
}

fn arb_cid() -> impl Strategy<Value = Cid> {
    (0u64..(1 << 63), any::<[u8; 32]>()).prop_map(|(codec, digest)| Cid::new(codec, digest))
}

proptest! {
    #[test]
    fn cid_string_round_trip(cid in arb_cid()) {
        let text = cid.to_string();
        prop_assert!(text.starts_with('b'));
        prop_assert_eq!(text.parse::<Cid>(), Ok(cid));
    }

    #[test]
    fn cid_bytes_round_trip(cid in arb_cid(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
        let bytes = cid.to_bytes();
        prop_assert_eq!(Cid::from_bytes(&bytes), Ok(cid));
        let mut longer = bytes.clone();
        longer.extend(&tail);
        prop_assert_eq!(Cid::read_prefix(&longer), Ok((cid, bytes.len())));
        for cut in 0..bytes.len() {
            prop_assert!(Cid::from_bytes(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn cid_computation_verifies(block in proptest::collection::vec(any::<u8>(), 0..128)) {
        prop_assert!(Cid::for_dag_cbor(&block).verifies(&block));
        prop_assert!(Cid::for_raw(&block).verifies(&block));
        let mut changed = block.clone();
        changed.push(0);
        prop_assert!(!Cid::for_raw(&block).verifies(&changed));
    }

    #[test]
    fn random_strings_never_panic(text in ".{0,80}") {
        let _ = text.parse::<Cid>();
        let _ = Cid::parse_any_base(&text);
    }

    #[test]
    fn random_cid_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Cid::from_bytes(&bytes);
    }

    #[test]
    fn base32_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let text = multibase::encode_base32(&bytes);
        prop_assert!(text.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        prop_assert_eq!(multibase::decode_base32(&text), Ok(bytes));
    }

    #[test]
    fn base32_spellings_are_unique(text in "[a-z2-7]{0,20}") {
        // Whatever decodes must encode back to the very same text.
        if let Ok(bytes) = multibase::decode_base32(&text) {
            prop_assert_eq!(multibase::encode_base32(&bytes), text);
        }
    }

    #[test]
    fn varint_round_trip(n in 0u64..(1 << 63)) {
        let bytes = varint::encode(n);
        prop_assert!(bytes.len() <= varint::MAX_LEN);
        prop_assert_eq!(varint::decode(&bytes), Ok((n, bytes.len())));
    }

    #[test]
    fn varint_padding_is_refused(n in 0u64..(1 << 56)) {
        // Setting the continuation bit on the last byte and adding a zero group keeps the value but is not minimal.
        let mut bytes = varint::encode(n);
        if let Some(last) = bytes.last_mut() {
            *last |= 0x80;
        }
        bytes.push(0x00);
        prop_assert_eq!(varint::decode(&bytes), Err(VarintError::NonMinimal { len: bytes.len() }));
    }
}
