//! Sans-IO codecs shared by the harness and the reference server.
//!
//! Nothing here touches a socket, a clock or tokio: every decoder reads from
//! bytes it is given, returns `Ok(None)` when it needs more, consumes only
//! complete frames, and enforces a size limit with a typed error. Encoders
//! write into buffers.
//!
//! # Layout
//!
//! - [`sse`]: server-sent events, an incremental WHATWG parser and an encoder.
//! - [`http1`]: HTTP/1.1 response heads and chunked, sized or close-delimited bodies.
//! - [`jsonl`]: a JSON-lines splitter (`\n` and `\r\n`, blank lines as keep-alives).
//! - [`varint`]: unsigned LEB128 varints as used by multiformats and CAR.
//! - [`multibase`]: base32 (lower, unpadded) for CID strings and base58btc for `did:key`.
//! - [`cid`]: CIDv1 (dag-cbor and raw codecs, sha2-256): parse, format, compute.
//! - [`cbor`]: a strict DAG-CBOR decoder, a canonical encoder, and the atproto JSON mapping.
//! - [`frame`]: the atproto event-stream frame (exactly two DAG-CBOR objects).
//! - [`car`]: CAR v1 read and write.
//! - `fuzzing` (hidden): the checks the fuzz targets and `fixtures/fuzz/` regression tests share.
//! - [`mst`]: the atproto Merkle Search Tree: undo a commit's ops on the partial tree its CAR slice holds.

pub mod car;
pub mod cbor;
pub mod cid;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod http1;
pub mod jsonl;
pub mod mst;
pub mod multibase;
pub mod sse;
pub mod varint;
