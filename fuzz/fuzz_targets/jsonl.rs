//! Fuzzes the JSON-lines splitter (`wire::jsonl::LineSplitter`): chunk splits change nothing, the line limit holds, and the lines add up to the input (`wire::fuzzing::jsonl`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wire::fuzzing::jsonl(data));
