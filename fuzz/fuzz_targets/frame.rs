//! Fuzzes the atproto event-stream frame decoder (`wire::frame::decode_frame`): no panic, a canonical body, and re-encoding reads back the same frame (`wire::fuzzing::frame`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::frame(data));
