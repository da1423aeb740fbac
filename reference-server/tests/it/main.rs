//! Integration tests of the reference server over real sockets: the binary's CLI, HTTP behaviour, each API, real clients, crash safety.

mod abuse;
mod actyx;
mod atproto;
mod cli;
mod clients;
mod crash;
mod fauna;
mod fibric;
mod fuzz_inputs;
mod http;
mod layering;
mod paced;
mod pulse;
mod support;
