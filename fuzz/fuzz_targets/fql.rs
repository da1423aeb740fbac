//! Fuzzes the Fauna FQL subset parser and recogniser, with interpolated values at each NUL: no panic (`reference_server::fuzzing::fql`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::fql(data));
