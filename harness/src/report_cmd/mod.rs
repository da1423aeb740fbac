//! `harness report`: reports already written, rendered again or merged.
//!
//! - [`render`]: `harness report render`, a saved `report.json` in other formats.
//! - [`merge`]: `harness report merge`, several workers' `load.json` added up exactly.

mod merge;
mod render;

pub use merge::merge;
pub use render::render;
