//! Fuzzes Actyx request bodies (auth, publish, query, subscriptions, replication) through the in-process router: no panic, no 5xx, no hang (`reference_server::fuzzing::actyx`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::actyx(data));
