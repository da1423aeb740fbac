//! Fuzzes Fauna request bodies (FQL queries, feeds, streams, control writes) through the in-process router: no panic, no 5xx, no hang (`reference_server::fuzzing::fauna`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::fauna(data));
