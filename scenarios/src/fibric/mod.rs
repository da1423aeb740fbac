//! The Fibric envelope stream's checks (seed 004): metadata here, plans and oracles in the submodules.
//!
//! # Layout
//!
//! - [`meta`]: every Fibric check's id, level, title, spec reference and killing defects.
//! - [`plans`]: generated envelopes and filters, and a model of the filter rules.

pub mod meta;
pub mod plans;
