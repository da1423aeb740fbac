//! The FQL subset `POST /query/1` answers: what a conformance driver sends to a real Fauna to write documents and make event sources.
//!
//! Recognised, with `!` allowed after `byId(...)`:
//!
//! - `Collection.create({ name: "C", history_days: n })`
//! - `C.create({ ... })`, `C.byId(id)`, `C.byId(id).update({ ... })`,
//!   `C.byId(id).replace({ ... })`, `C.byId(id).delete()`
//! - `C.all().eventSource()`, `C.where(.f == v).eventSource()` (also
//!   `.a.b == v`, `v == .f` and `x => x.f == v`),
//!   `Set.single(C.byId(id)).eventSource()`
//!
//! Anything else is refused with Fauna's `invalid_query` and a message that
//! says this server does not implement it; it is never half-run.
//!
//! # Layout
//!
//! - [`parse`]: fragments (text and interpolated values) to an expression tree.
//! - [`command`]: the tree to a [`Command`].

pub mod command;
pub mod parse;

use std::fmt;

pub use command::{Command, SourceSpec, interpret};
pub use parse::{Expr, Fragment};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FqlError {
    pub at: usize,
    pub kind: FqlErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FqlErrorKind {
    Syntax(String),
    /// Valid FQL this server does not implement.
    Unsupported(String),
}

impl FqlError {
    pub(crate) fn syntax(at: usize, message: String) -> Self {
        Self {
            at,
            kind: FqlErrorKind::Syntax(message),
        }
    }

    pub(crate) fn unsupported(at: usize, what: &str) -> Self {
        Self {
            at,
            kind: FqlErrorKind::Unsupported(what.to_owned()),
        }
    }
}

impl fmt::Display for FqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FqlErrorKind::Syntax(message) => {
                write!(f, "FQL syntax error at {}: {message}", self.at)
            }
            FqlErrorKind::Unsupported(what) => write!(
                f,
                "this reference server answers only a small FQL subset (documents and event sources); not supported: {what}"
            ),
        }
    }
}

impl std::error::Error for FqlError {}

/// Parses and interprets a whole query.
pub fn compile(fragments: &[Fragment]) -> Result<Command, FqlError> {
    interpret(&parse::parse(fragments)?)
}

#[cfg(test)]
mod tests;
