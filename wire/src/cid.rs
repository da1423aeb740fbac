//! CIDv1 with a sha2-256 multihash: parse and format (binary and base32 string), compute, and verify.
//!
//! atproto blesses exactly one shape, CIDv1 + sha2-256 + dag-cbor or raw.
//! Parsing accepts any codec so the harness can read and report a peer that
//! uses another one (see [`Cid::is_atproto_codec`]); it refuses other hash
//! functions and digest lengths, because the digest is stored inline as 32
//! bytes.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::multibase::{self, MultibaseError};
use crate::varint::{self, VarintError};

/// The multicodec code of DAG-CBOR, used for records, commits and MST nodes.
pub const DAG_CBOR: u64 = 0x71;
/// The multicodec code of raw bytes, used for blobs.
pub const RAW: u64 = 0x55;
/// The multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// The length of a sha2-256 digest.
pub const DIGEST_LEN: usize = 32;

/// A content identifier: CIDv1, a codec, and a sha2-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Ord, PartialOrd, Debug)]
pub struct Cid {
    codec: u64,
    digest: [u8; DIGEST_LEN],
}

/// Why bytes or a string are not a CID this module supports. Offsets count bytes of the binary CID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CidError {
    /// A varint inside the CID (version, codec, hash code or digest length) was malformed or cut short.
    #[error("bad varint in CID at byte {offset}: {source}")]
    Varint {
        offset: usize,
        #[source]
        source: VarintError,
    },
    /// A CIDv0 (a bare sha2-256 multihash, `Qm…` as a string), which atproto does not use.
    #[error("CIDv0 is not supported")]
    CidV0,
    /// A version other than 1.
    #[error("unsupported CID version {version}")]
    UnsupportedVersion { version: u64 },
    /// A multihash function other than sha2-256.
    #[error("unsupported multihash function 0x{code:x} (only sha2-256)")]
    UnsupportedHash { code: u64 },
    /// A sha2-256 multihash whose declared length is not 32.
    #[error("sha2-256 digest length {len}, expected {DIGEST_LEN}")]
    DigestLength { len: u64 },
    /// The bytes ended inside the digest.
    #[error("CID truncated at byte {offset}")]
    Truncated { offset: usize },
    /// Bytes remained after a complete CID where the whole input should have been one CID.
    #[error("{extra} trailing byte(s) after the CID at byte {offset}")]
    TrailingBytes { offset: usize, extra: usize },
    /// The string was not valid multibase.
    #[error("bad CID string: {source}")]
    Multibase {
        #[source]
        source: MultibaseError,
    },
    /// The string used a multibase other than base32 lower-case, which atproto requires.
    #[error("CID string must be base32 lower-case ('b' prefix), found {prefix:?}")]
    NotBase32 { prefix: char },
}

impl Cid {
    /// A CID from its parts; the digest must be a sha2-256 digest.
    ///
    /// Codecs of `2^63` and above have no varint encoding that readers accept
    /// (see [`varint::encode_into`]), so such a CID does not survive
    /// [`Cid::to_bytes`] and back; every registered multicodec is far smaller.
    pub fn new(codec: u64, digest: [u8; DIGEST_LEN]) -> Self {
        Cid { codec, digest }
    }

    /// The CID of a DAG-CBOR block.
    pub fn for_dag_cbor(bytes: &[u8]) -> Self {
        Cid::new(DAG_CBOR, Sha256::digest(bytes).into())
    }

    /// The CID of raw bytes, as atproto uses for blobs.
    pub fn for_raw(bytes: &[u8]) -> Self {
        Cid::new(RAW, Sha256::digest(bytes).into())
    }

    /// The multicodec code of the content.
    pub fn codec(&self) -> u64 {
        self.codec
    }

    /// The sha2-256 digest of the content.
    pub fn digest(&self) -> &[u8; DIGEST_LEN] {
        &self.digest
    }

    /// True for the codecs atproto allows: dag-cbor and raw.
    pub fn is_atproto_codec(&self) -> bool {
        self.codec == DAG_CBOR || self.codec == RAW
    }

    /// True when `block` hashes to this CID's digest. The codec is not checked.
    pub fn verifies(&self, block: &[u8]) -> bool {
        let digest: [u8; DIGEST_LEN] = Sha256::digest(block).into();
        digest == self.digest
    }

    /// The binary form: `varint(1) varint(codec) 0x12 0x20 digest`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + varint::MAX_LEN + DIGEST_LEN);
        self.write_bytes(&mut out);
        out
    }

    /// Appends the binary form to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        varint::encode_into(1, out);
        varint::encode_into(self.codec, out);
        varint::encode_into(SHA2_256, out);
        // DIGEST_LEN is 32, which is one varint byte.
        out.push(DIGEST_LEN as u8);
        out.extend_from_slice(&self.digest);
    }

    /// Parses a CID string in any multibase this crate reads (base32 or base58btc), to report what a peer sent.
    pub fn parse_any_base(text: &str) -> Result<Cid, CidError> {
        if text.len() == 46 && text.starts_with("Qm") {
            return Err(CidError::CidV0);
        }
        let bytes = multibase::decode(text).map_err(|source| CidError::Multibase { source })?;
        Cid::from_bytes(&bytes)
    }

    /// Parses a binary CID that must fill `bytes` exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
        let (cid, used) = Cid::read_prefix(bytes)?;
        match bytes.len().checked_sub(used) {
            Some(0) => Ok(cid),
            Some(extra) => Err(CidError::TrailingBytes {
                offset: used,
                extra,
            }),
            // read_prefix never reports more bytes than it was given.
            None => Err(CidError::Truncated {
                offset: bytes.len(),
            }),
        }
    }

    /// Parses a binary CID at the start of `bytes`, returning it and the number of bytes it used.
    pub fn read_prefix(bytes: &[u8]) -> Result<(Cid, usize), CidError> {
        // A CIDv0 is a bare sha2-256 multihash, so it starts with the hash code and length.
        if bytes.starts_with(&[0x12, 0x20]) {
            return Err(CidError::CidV0);
        }
        let mut offset = 0;
        let version = read_varint(bytes, &mut offset)?;
        if version != 1 {
            return Err(CidError::UnsupportedVersion { version });
        }
        let codec = read_varint(bytes, &mut offset)?;
        let code = read_varint(bytes, &mut offset)?;
        if code != SHA2_256 {
            return Err(CidError::UnsupportedHash { code });
        }
        let len = read_varint(bytes, &mut offset)?;
        if len != DIGEST_LEN as u64 {
            return Err(CidError::DigestLength { len });
        }
        let digest = bytes
            .get(offset..)
            .and_then(|rest| rest.get(..DIGEST_LEN))
            .and_then(|slice| <[u8; DIGEST_LEN]>::try_from(slice).ok())
            .ok_or(CidError::Truncated {
                offset: bytes.len(),
            })?;
        Ok((Cid::new(codec, digest), offset + DIGEST_LEN))
    }
}

fn read_varint(bytes: &[u8], offset: &mut usize) -> Result<u64, CidError> {
    let rest = bytes.get(*offset..).unwrap_or_default();
    let (value, used) = varint::decode(rest).map_err(|source| CidError::Varint {
        offset: *offset,
        source,
    })?;
    *offset += used;
    Ok(value)
}

impl fmt::Display for Cid {
    /// The multibase base32 string, `b…`, as atproto writes CIDs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&multibase::encode(&self.to_bytes()))
    }
}

impl FromStr for Cid {
    type Err = CidError;

    /// Parses the base32 string form strictly; `Qm…` (CIDv0) and other multibases are refused.
    fn from_str(text: &str) -> Result<Cid, CidError> {
        if text.len() == 46 && text.starts_with("Qm") {
            return Err(CidError::CidV0);
        }
        match text.chars().next() {
            Some(multibase::BASE32_LOWER) | None => {}
            Some(prefix) => return Err(CidError::NotBase32 { prefix }),
        }
        Cid::parse_any_base(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_block_cid_matches_the_well_known_value() {
        // The raw CID of zero bytes, as printed by `ipfs add --cid-version 1 --raw-leaves`.
        assert_eq!(
            Cid::for_raw(b"").to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn binary_layout() {
        let cid = Cid::new(DAG_CBOR, [7; 32]);
        let bytes = cid.to_bytes();
        assert_eq!(&bytes[..4], &[0x01, 0x71, 0x12, 0x20]);
        assert_eq!(bytes.len(), 36);
        assert_eq!(Cid::from_bytes(&bytes), Ok(cid));
        assert_eq!(
            Cid::read_prefix(&[bytes.as_slice(), &[9, 9]].concat()),
            Ok((cid, 36))
        );
    }

    #[test]
    fn refusals() {
        let good = Cid::new(RAW, [1; 32]).to_bytes();
        assert_eq!(
            Cid::from_bytes(&[good.as_slice(), &[0]].concat()),
            Err(CidError::TrailingBytes {
                offset: 36,
                extra: 1
            })
        );
        assert_eq!(
            Cid::from_bytes(&good[..35]),
            Err(CidError::Truncated { offset: 35 })
        );
        assert_eq!(Cid::from_bytes(&[0x12, 0x20, 0, 0]), Err(CidError::CidV0));
        assert_eq!(
            Cid::from_bytes(&[0x02, 0x71, 0x12, 0x20]),
            Err(CidError::UnsupportedVersion { version: 2 })
        );
        assert_eq!(
            Cid::from_bytes(&[0x01, 0x71, 0x13, 0x40]),
            Err(CidError::UnsupportedHash { code: 0x13 })
        );
        assert_eq!(
            Cid::from_bytes(&[0x01, 0x71, 0x12, 0x10]),
            Err(CidError::DigestLength { len: 16 })
        );
        assert!(matches!(
            Cid::from_bytes(&[0x01, 0x80]),
            Err(CidError::Varint { offset: 1, .. })
        ));
        assert_eq!(
            "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR".parse::<Cid>(),
            Err(CidError::CidV0)
        );
        assert_eq!(
            "zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7".parse::<Cid>(),
            Err(CidError::NotBase32 { prefix: 'z' })
        );
    }

    #[test]
    fn other_codecs_parse_and_are_flagged() {
        // A dag-pb CID from the IPFS documentation.
        let cid: Cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
            .parse()
            .unwrap();
        assert_eq!(cid.codec(), 0x70);
        assert!(!cid.is_atproto_codec());
        // The same CID in base58btc.
        let b58 = Cid::parse_any_base("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7").unwrap();
        assert_eq!(b58.codec(), 0x70);
    }
}
