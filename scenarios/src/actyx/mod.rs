//! Actyx's checks (seed 003): metadata, plans and oracles that need no I/O.
//!
//! # Layout
//!
//! - [`meta`]: every Actyx check's id, level, title, spec reference and killing defects.
//! - [`lines`]: one NDJSON feed line as the harness reads it (unknown types skipped).
//! - [`order`]: event keys, stream ids and the oracles of the three query orders.
//! - [`tags`]: tag expressions: generation, AQL text and the brute-force oracle.
//! - [`plans`]: the other generated plans and the exactly-once delivery oracle.

pub mod lines;
pub mod meta;
pub mod order;
pub mod plans;
pub mod tags;
