//! `harness report`: reports already written, rendered again or merged.
//!
//! - [`render`]: `harness report render`, a saved `report.json` in other formats.
//! - [`merge`]: `harness report merge`, several workers' `load.json` added up exactly.
//! - [`shards`]: that the reports are shards of one run, each once, and which are missing.

mod merge;
mod render;
pub mod shards;

pub use merge::merge;
pub use render::render;
