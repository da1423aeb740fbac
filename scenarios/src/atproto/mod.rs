//! The AT Protocol firehose's checks (seed 002): metadata here; the relay's commit verification runs in the harness, which holds the keys and the blocks.
//!
//! # Layout
//!
//! - [`meta`]: every AT Protocol check's id, level, title, spec reference and killing defects.
//! - [`plans`]: writes read through connections the client cuts.

pub mod meta;
pub mod plans;
