//! Prisma Pulse's checks (seed 001): metadata here, plans and oracles in the submodules.
//!
//! # Layout
//!
//! - [`meta`]: every Pulse check's id, level, title, spec reference and killing defects.
//! - [`openapi`]: the seed's OpenAPI as data (operations, statuses, content
//!   types, schemas) and a validator of answers, events and transcripts.
//! - [`plans`]: generated row changes, filters and consumer steps, and an
//!   independent model of the events and filters they make.
//! - [`shape`]: oracles of the wire shapes: ULIDs, RFC 3339 times, error
//!   bodies, StreamInfo and change events.

pub mod meta;
pub mod openapi;
pub mod plans;
pub mod shape;
