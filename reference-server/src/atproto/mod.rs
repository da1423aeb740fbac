//! The AT Protocol repository firehose (seed 002): repositories and their Merkle Search Trees so far.
//!
//! # Layout
//!
//! - [`mst`]: key heights, the canonical tree, node blocks, commit proofs.

pub mod mst;
