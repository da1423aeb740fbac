//! Fuzzes the strict DAG-CBOR decoder (`wire::cbor::decode`): no panic, and whatever it accepts re-encodes canonically to the same bytes (`wire::fuzzing::cbor`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::cbor(data));
