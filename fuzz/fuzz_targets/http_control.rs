//! Fuzzes the control API's own endpoints (disconnect, scratch log) through the in-process router: no panic, no 5xx, no hang (`reference_server::fuzzing::control`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::control(data));
