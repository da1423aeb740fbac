//! Fuzzes the Actyx AQL lexer and parser, then feature checks and evaluation of what parses: no panic, errors inside the text (`reference_server::fuzzing::aql`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_server::fuzzing::aql(data));
