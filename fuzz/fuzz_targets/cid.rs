//! Fuzzes CID parsing (`Cid::from_bytes`, `read_prefix`, `parse_any_base`, `FromStr`): no panic, and binary and string forms round-trip (`wire::fuzzing::cid`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::cid(data));
