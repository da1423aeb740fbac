//! Integration tests for `wire`: golden samples from `fixtures/wire/`, codec properties, and the atproto interop vectors.

mod car;
mod cbor;
mod cid;
mod frame;
mod fuzz_inputs;
mod jsonl;
mod mst;
mod sse;
mod support;
mod vectors;
