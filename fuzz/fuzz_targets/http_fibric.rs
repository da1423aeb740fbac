//! Fuzzes Fibric request bodies and query strings through the in-process router: no panic, no 5xx, no hang (`reference_server::fuzzing::fibric`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::fibric(data));
