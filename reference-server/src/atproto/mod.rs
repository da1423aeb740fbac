//! The AT Protocol repository firehose (seed 002): so far the repository building blocks it rests on.
//!
//! # Layout
//!
//! - [`mst`]: key heights, the canonical tree, node blocks, commit proofs.
//! - [`keys`]: secp256k1 signing keys, low-S signatures, `did:key`.
//! - [`tid`]: TIDs, the revs of commits.
//! - [`repo`]: records, signed commits, and each commit's CAR slice.

pub mod keys;
pub mod mst;
pub mod repo;
pub mod tid;
