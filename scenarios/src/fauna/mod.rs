//! Fauna's checks (seed 000): metadata, plans and oracles that need no I/O.
//!
//! # Layout
//!
//! - [`meta`]: every Fauna check's id, level, title, spec reference and killing defects.
//! - [`shape`]: oracles of the wire: lines, events, stats, error bodies, `txn_ts` order.
//! - [`model`]: generated plans (set writes, resume points) and a brute-force
//!   model of the events a where-set owes.

pub mod meta;
pub mod model;
pub mod shape;
