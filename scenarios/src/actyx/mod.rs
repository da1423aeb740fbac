//! Actyx's checks (seed 003): metadata, plans and oracles that need no I/O.
//!
//! # Layout
//!
//! - [`meta`]: every Actyx check's id, level, title, spec reference and killing defects.

pub mod meta;
