//! Fauna's checks (seed 000): metadata, plans and oracles that need no I/O.
//!
//! # Layout
//!
//! - [`meta`]: every Fauna check's id, level, title, spec reference and killing defects.

pub mod meta;
