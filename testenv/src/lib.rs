//! What the tests need from outside the Rust toolchain, which tests need it, and how the test command uses that.
//!
//! Some tests need things `cargo` does not bring: the official AT Protocol
//! interop vectors, real third-party clients installed by npm or pip,
//! programs from Debian packages, root for a network namespace. This crate is
//! the one place that knows them. A test asks for its need here and fails,
//! saying what is missing and how to get it, when the need is not met; it
//! never passes without running. The test command (`./test.sh`) installs
//! what it can, asks this crate's binary which needs are still missing,
//! leaves out exactly the tests that have them, and ends with a summary of
//! what ran and what did not, and why.
//!
//! # Layout
//!
//! - [`needs`]: the table: each need, the tests that use it, its Debian packages.
//! - [`probe`]: whether a need is met here, and if not, why and how to meet it.
//! - [`require`]: the functions tests call ([`vectors`], [`client`], [`program`], …).
//! - [`plan`]: the missing needs, which of them are errors (`CI`, `STREAMCHECK_REAL_CLIENTS`), the tests to leave out.
//! - [`summary`]: the closing summary, from nextest's JUnit report and test list.
//! - `main.rs`: `testenv ci|debian|plan|summary`, called by `./test.sh`.

pub mod needs;
pub mod plan;
pub mod probe;
pub mod require;
pub mod summary;

pub use needs::{Need, OPEN_FILES};
pub use require::{client, net_namespace, open_files, program, seeds, vectors};
