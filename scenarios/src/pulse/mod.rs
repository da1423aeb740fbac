//! Prisma Pulse's checks (seed 001): metadata here, plans and oracles in the submodules.
//!
//! # Layout
//!
//! - [`meta`]: every Pulse check's id, level, title, spec reference and killing defects.

pub mod meta;
