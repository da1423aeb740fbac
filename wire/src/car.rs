//! CAR v1 (content-addressable archive) read and write, as atproto uses for repository exports and firehose `blocks`.
//!
//! A CAR v1 file is a varint-prefixed DAG-CBOR header `{roots: [CID...],
//! version: 1}` followed by sections, each a varint length, a binary CID and
//! the block bytes. Reading checks the structure only; whether each block
//! hashes to its CID is a separate question ([`Car::verify_blocks`]), because
//! the harness reports a wrong hash as a finding about the server, not as a
//! file it cannot read.

use thiserror::Error;

use crate::cbor::{self, DecodeError, DecodeLimits, Encoder, Value};
use crate::cid::{Cid, CidError};
use crate::varint::{self, VarintError};

/// A parsed CAR file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Car {
    pub roots: Vec<Cid>,
    /// Blocks in file order; a CID may repeat, as CAR v1 allows.
    pub blocks: Vec<(Cid, Vec<u8>)>,
}

/// Bounds on what [`read_car`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarLimits {
    /// The largest file, in bytes. The default is 64 MiB, enough for the repository exports the harness reads.
    pub max_bytes: usize,
    /// The largest single block. The default is 2 MiB, above atproto's record size limits.
    pub max_block_bytes: usize,
    /// The most blocks (and the most roots). The default is 1,048,576.
    pub max_blocks: usize,
}

impl Default for CarLimits {
    fn default() -> Self {
        CarLimits {
            max_bytes: 64 * 1024 * 1024,
            max_block_bytes: 2 * 1024 * 1024,
            max_blocks: 1 << 20,
        }
    }
}

impl CarLimits {
    /// The limits of a firehose `#commit` or `#sync` `blocks` field: at most 2,000,000 bytes.
    pub fn firehose() -> Self {
        CarLimits {
            max_bytes: 2_000_000,
            ..CarLimits::default()
        }
    }
}

/// Why bytes are not a CAR v1 file. Offsets count from the start of the file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CarError {
    #[error("CAR of {len} bytes is over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("bad header length varint: {source}")]
    HeaderLength {
        #[source]
        source: VarintError,
    },
    #[error("CAR header length is zero")]
    EmptyHeader,
    #[error("length {claimed} at byte {offset} is more than the {remaining} byte(s) left")]
    Truncated {
        offset: usize,
        claimed: u64,
        remaining: usize,
    },
    #[error("CAR header starting at byte {offset} is not strict DAG-CBOR: {source}")]
    Header {
        offset: usize,
        #[source]
        source: DecodeError,
    },
    #[error("CAR header is not {{roots: [CID...], version: 1}}: {reason}")]
    HeaderShape { reason: &'static str },
    #[error("CAR version {version}; only version 1 is supported")]
    UnsupportedVersion { version: i64 },
    #[error("bad section length varint at byte {offset}: {source}")]
    SectionLength {
        offset: usize,
        #[source]
        source: VarintError,
    },
    #[error("zero-length section at byte {offset}")]
    ZeroLengthSection { offset: usize },
    #[error("bad CID in the section at byte {offset}: {source}")]
    BadCid {
        offset: usize,
        #[source]
        source: CidError,
    },
    #[error("block of {len} bytes at byte {offset} is over the limit of {max}")]
    BlockTooLarge {
        offset: usize,
        len: usize,
        max: usize,
    },
    #[error("more than {max} blocks or roots")]
    TooManyBlocks { max: usize },
}

impl CarError {
    /// A stable kebab-case name for the problem, for golden files and findings.
    pub fn kind(&self) -> &'static str {
        match self {
            CarError::TooLarge { .. } => "too-large",
            CarError::HeaderLength { .. } => "header-length",
            CarError::EmptyHeader => "empty-header",
            CarError::Truncated { .. } => "truncated",
            CarError::Header { .. } => "header",
            CarError::HeaderShape { .. } => "header-shape",
            CarError::UnsupportedVersion { .. } => "unsupported-version",
            CarError::SectionLength { .. } => "section-length",
            CarError::ZeroLengthSection { .. } => "zero-length-section",
            CarError::BadCid { .. } => "bad-cid",
            CarError::BlockTooLarge { .. } => "block-too-large",
            CarError::TooManyBlocks { .. } => "too-many-blocks",
        }
    }
}

impl Car {
    /// The first root; atproto puts the commit there.
    pub fn root(&self) -> Option<&Cid> {
        self.roots.first()
    }

    /// The bytes of the first block with this CID. This is a linear search; build a map for many lookups.
    pub fn get(&self, cid: &Cid) -> Option<&[u8]> {
        self.blocks
            .iter()
            .find(|(c, _)| c == cid)
            .map(|(_, bytes)| bytes.as_slice())
    }

    /// The CIDs, in file order, of the blocks whose bytes do not hash to them.
    pub fn verify_blocks(&self) -> Vec<Cid> {
        self.blocks
            .iter()
            .filter(|(cid, bytes)| !cid.verifies(bytes))
            .map(|(cid, _)| *cid)
            .collect()
    }
}

/// Reads a whole CAR v1 file.
pub fn read_car(bytes: &[u8], limits: &CarLimits) -> Result<Car, CarError> {
    if bytes.len() > limits.max_bytes {
        return Err(CarError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let (header_len, used) =
        varint::decode(bytes).map_err(|source| CarError::HeaderLength { source })?;
    if header_len == 0 {
        return Err(CarError::EmptyHeader);
    }
    let header = slice(bytes, used, header_len, 0)?;
    let roots = read_header(header, used, limits)?;
    let mut pos = used + header.len();
    let mut blocks = Vec::new();
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let (section_len, used) =
            varint::decode(rest).map_err(|source| CarError::SectionLength {
                offset: pos,
                source,
            })?;
        if section_len == 0 {
            return Err(CarError::ZeroLengthSection { offset: pos });
        }
        let start = pos + used;
        let section = slice(bytes, start, section_len, pos)?;
        let (cid, cid_len) = Cid::read_prefix(section).map_err(|source| CarError::BadCid {
            offset: start,
            source,
        })?;
        let block = section.get(cid_len..).unwrap_or_default();
        if block.len() > limits.max_block_bytes {
            return Err(CarError::BlockTooLarge {
                offset: start,
                len: block.len(),
                max: limits.max_block_bytes,
            });
        }
        if blocks.len() >= limits.max_blocks {
            return Err(CarError::TooManyBlocks {
                max: limits.max_blocks,
            });
        }
        blocks.push((cid, block.to_vec()));
        pos = start + section.len();
    }
    Ok(Car { roots, blocks })
}

/// The `len` bytes at `start`, or a truncation error naming `offset`, where the length was read.
fn slice(bytes: &[u8], start: usize, len: u64, offset: usize) -> Result<&[u8], CarError> {
    let rest = bytes.get(start..).unwrap_or_default();
    usize::try_from(len)
        .ok()
        .and_then(|n| rest.get(..n))
        .ok_or(CarError::Truncated {
            offset,
            claimed: len,
            remaining: rest.len(),
        })
}

/// Decodes the header strictly: a map with exactly `roots` (an array of links) and `version` (1).
fn read_header(header: &[u8], offset: usize, limits: &CarLimits) -> Result<Vec<Cid>, CarError> {
    let decode_limits = DecodeLimits {
        max_bytes: header.len(),
        max_depth: 2,
        // The header map itself has two entries; the roots array is bounded like the blocks.
        max_collection_len: limits.max_blocks.max(2),
    };
    let value = cbor::decode(header, &decode_limits)
        .map_err(|source| CarError::Header { offset, source })?;
    let Value::Map(map) = value else {
        return Err(CarError::HeaderShape {
            reason: "not a map",
        });
    };
    if map.keys().any(|k| k != "roots" && k != "version") {
        return Err(CarError::HeaderShape {
            reason: "a key other than roots and version",
        });
    }
    match map.get("version") {
        Some(Value::Integer(1)) => {}
        Some(Value::Integer(version)) => {
            return Err(CarError::UnsupportedVersion { version: *version });
        }
        Some(_) => {
            return Err(CarError::HeaderShape {
                reason: "version is not an integer",
            });
        }
        None => {
            return Err(CarError::HeaderShape {
                reason: "no version",
            });
        }
    }
    let Some(Value::Array(items)) = map.get("roots") else {
        return Err(CarError::HeaderShape {
            reason: "roots is missing or not an array",
        });
    };
    items
        .iter()
        .map(|item| match item {
            Value::Link(cid) => Ok(*cid),
            _ => Err(CarError::HeaderShape {
                reason: "a root is not a link",
            }),
        })
        .collect()
}

/// Writes a CAR v1 file with these roots and blocks, in the order given.
pub fn write_car(roots: &[Cid], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let mut header = Encoder::new();
    // Canonical key order: "roots" (5 bytes) before "version" (7).
    header.write_map_header(2);
    header.write_text("roots");
    header.write_array_header(roots.len());
    for root in roots {
        header.write_link(root);
    }
    header.write_text("version");
    header.write_integer(1);
    let header = header.into_bytes();

    let body_len: usize = blocks.iter().map(|(_, b)| b.len() + 48).sum();
    let mut out = Vec::with_capacity(header.len() + varint::MAX_LEN + body_len);
    varint::encode_into(header.len() as u64, &mut out);
    out.extend_from_slice(&header);
    for (cid, block) in blocks {
        let cid_bytes = cid.to_bytes();
        varint::encode_into((cid_bytes.len() + block.len()) as u64, &mut out);
        out.extend_from_slice(&cid_bytes);
        out.extend_from_slice(block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let root = Cid::for_dag_cbor(b"\xa0");
        let bytes = write_car(&[root], &[]);
        // Header length 0x3a (58): map(2), "roots", array(1), tag 42, bytes(37), "version", 1.
        assert_eq!(bytes[0] as usize, bytes.len() - 1);
        assert_eq!(&bytes[1..8], &[0xa2, 0x65, b'r', b'o', b'o', b't', b's']);
        assert_eq!(
            read_car(&bytes, &CarLimits::default()).unwrap().roots,
            [root]
        );
    }

    #[test]
    fn structural_errors() {
        let limits = CarLimits::default();
        let root = Cid::for_dag_cbor(b"\xa0");
        let good = write_car(&[root], &[(root, b"\xa0".to_vec())]);
        assert!(read_car(&good, &limits).is_ok());
        assert_eq!(read_car(&[0x00], &limits), Err(CarError::EmptyHeader));
        assert!(matches!(
            read_car(&good[..good.len() - 1], &limits),
            Err(CarError::Truncated { .. })
        ));
        let mut zero = good.clone();
        zero.push(0x00);
        assert_eq!(
            read_car(&zero, &limits),
            Err(CarError::ZeroLengthSection { offset: good.len() })
        );
        let small = CarLimits {
            max_blocks: 0,
            ..limits
        };
        assert_eq!(
            read_car(&write_car(&[], &[(root, vec![])]), &small),
            Err(CarError::TooManyBlocks { max: 0 })
        );
    }

    #[test]
    fn header_must_be_version_one_with_only_known_keys() {
        let limits = CarLimits::default();
        let with = |value: Value| {
            let header = cbor::encode(&value);
            let mut out = varint::encode(header.len() as u64);
            out.extend_from_slice(&header);
            read_car(&out, &limits)
        };
        let roots = Value::Array(vec![]);
        assert_eq!(
            with(Value::map([
                ("roots", roots.clone()),
                ("version", Value::Integer(2))
            ])),
            Err(CarError::UnsupportedVersion { version: 2 })
        );
        assert!(matches!(
            with(Value::map([("version", Value::Integer(1))])),
            Err(CarError::HeaderShape { .. })
        ));
        assert!(matches!(
            with(Value::map([
                ("roots", roots.clone()),
                ("version", Value::Integer(1)),
                ("x", Value::Null)
            ])),
            Err(CarError::HeaderShape { .. })
        ));
        assert!(matches!(
            with(Value::map([
                ("roots", Value::Array(vec![Value::Null])),
                ("version", Value::Integer(1))
            ])),
            Err(CarError::HeaderShape { .. })
        ));
        assert_eq!(
            with(Value::map([
                ("roots", roots),
                ("version", Value::Integer(1))
            ])),
            Ok(Car {
                roots: vec![],
                blocks: vec![]
            })
        );
    }
}
