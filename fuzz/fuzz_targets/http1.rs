//! Fuzzes HTTP/1.1 response heads and body decoding (`wire::http1`): chunk splits change nothing, a sized body is exactly its length, no more payload than bytes (`wire::fuzzing::http1`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::http1(data));
