//! Fuzzes the CAR v1 reader (`wire::car::read_car`): no panic, limits hold, and an accepted file is written back byte for byte (`wire::fuzzing::car`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::car(data));
