//! Fuzzes the SSE parser (`wire::sse::SseParser`): fed whole and in chunk splits picked by the first byte, it must report the same items, errors and discarded tail (`wire::fuzzing::sse`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::sse(data));
