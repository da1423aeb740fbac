//! The conformance check catalogue: what each check is, and the vocabulary of its results.
//!
//! This crate does no I/O. A check is a *plan* (what to do against a target,
//! generated from a seed) plus an *oracle* (a pure function from the recorded
//! transcript to findings); the harness executes plans and records
//! transcripts. A server that misbehaves produces [`Finding`]s, never an `Err`.
//!
//! # Layout
//!
//! - [`check`]: check metadata ([`CheckMeta`]), APIs, levels, what a check needs.
//! - [`verdict`]: findings and verdicts, and how a level turns findings into a verdict.
//! - [`transcript`]: what crossed the wire during a case, with timestamps.
//! - [`delivery`]: the delivery oracle and its anomaly names.
//! - [`cuts`]: where and how the fault proxy cuts a connection, and the cuts checks' plan.
//! - [`fibric`], [`pulse`], [`fauna`], [`actyx`], [`atproto`]: each API's checks: metadata, plans, oracles.
//! - [`catalogue`]: every check the harness knows, in one list.
//! - [`rules`]: every rule the seeds state (`scenarios/rules/<api>.toml`), and which checks assert it.

pub mod actyx;
pub mod atproto;
pub mod catalogue;
pub mod check;
pub mod cuts;
pub mod delivery;
pub mod fauna;
pub mod fibric;
pub mod pulse;
pub mod rules;
pub mod transcript;
pub mod verdict;

pub use check::{Api, CheckMeta, Level, Need};
pub use verdict::{Finding, Verdict};
