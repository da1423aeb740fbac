//! AQL, the Actyx Query Language: the subset this server parses and evaluates, and a clear refusal of the rest.
//!
//! Supported: `FROM` with tag expressions (`'tag'` or `"tag"`, `&` binding
//! tighter than `|`, parentheses, `allEvents`, `isLocal`, `appId(...)`),
//! then any sequence of `FILTER expr`, `SELECT expr[, expr...]` and
//! `LIMIT n`, an optional `END`, and `PRAGMA features := ...` or
//! `FEATURES(...)` before `FROM`. Expressions: literals (numbers, strings,
//! `TRUE`, `FALSE`, `NULL`, arrays, objects), `_` and indexing into it,
//! `IsDefined(...)`, `!`, arithmetic, comparisons, `&` `|` `~` and `??`.
//! Several `SELECT` expressions need the beta feature `multiEmission`, as on
//! the Actyx node.
//!
//! Everything else AQL has (time ranges, `AGGREGATE`, `LET`, `CASE`,
//! metadata functions, sub-queries, interpolation, spread) is refused with
//! an error that names it, so that a client never gets a wrong answer from
//! a feature we only pretend to have.
//!
//! # Layout
//!
//! - [`lex`]: text to tokens.
//! - [`parse`]: tokens to a [`Query`].
//! - [`eval`]: tag matching and expression evaluation on one event.

pub mod eval;
mod lex;
mod parse;

use std::fmt;

pub use eval::{EventMeta, Outcome};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Features named by `PRAGMA features` or `FEATURES(...)`.
    pub features: Vec<String>,
    pub source: TagExpr,
    pub ops: Vec<Op>,
}

/// Which events `FROM` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagExpr {
    All,
    Local,
    Tag(String),
    AppId(String),
    And(Box<TagExpr>, Box<TagExpr>),
    Or(Box<TagExpr>, Box<TagExpr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Filter(Expr),
    Select(Vec<Expr>),
    Limit(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Natural(u64),
    Decimal(f64),
    Str(String),
    /// `_`: the value flowing through the query (the payload at first).
    Current,
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Index(Box<Expr>, Index),
    IsDefined(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    Field(String),
    Position(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `a ?? b`: `b` when `a` cannot be evaluated.
    Alternative,
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AqlError {
    /// Byte offset in the query text.
    pub at: usize,
    pub kind: AqlErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AqlErrorKind {
    Syntax(String),
    /// A real AQL feature this server does not implement.
    Unsupported(String),
}

impl AqlError {
    pub(crate) fn syntax(at: usize, message: String) -> Self {
        Self {
            at,
            kind: AqlErrorKind::Syntax(message),
        }
    }

    pub(crate) fn unsupported(at: usize, what: &str) -> Self {
        Self {
            at,
            kind: AqlErrorKind::Unsupported(what.to_owned()),
        }
    }
}

impl fmt::Display for AqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AqlErrorKind::Syntax(message) => {
                write!(f, "AQL syntax error at byte {}: {message}", self.at)
            }
            AqlErrorKind::Unsupported(what) => write!(
                f,
                "AQL feature not supported by this reference server (at byte {}): {what}",
                self.at
            ),
        }
    }
}

impl std::error::Error for AqlError {}

/// The endpoints, which differ in the features they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Query,
    Subscribe,
    SubscribeMonotonic,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Query => "Query",
            Endpoint::Subscribe => "Subscribe",
            Endpoint::SubscribeMonotonic => "SubscribeMonotonic",
        }
    }
}

/// Why a parsed query cannot run on an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureError {
    /// A beta feature is used without being enabled (the node answers 400).
    NotEnabled(Vec<&'static str>),
    /// The endpoint does not allow a feature (the node answers 418).
    Unsupported(&'static str),
}

impl Query {
    pub fn parse(text: &str) -> Result<Self, AqlError> {
        parse::parse(text, false)
    }

    /// As [`Query::parse`]; `flat_tags` is the `tag-precedence-flat` defect
    /// (`&` and `|` in `FROM` bind equally, left to right).
    pub fn parse_with(text: &str, flat_tags: bool) -> Result<Self, AqlError> {
        parse::parse(text, flat_tags)
    }

    /// The gated features this query uses, by their Actyx names.
    pub fn uses(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        if self
            .ops
            .iter()
            .any(|op| matches!(op, Op::Select(e) if e.len() > 1))
        {
            used.push("multiEmission");
        }
        if self.ops.iter().any(|op| matches!(op, Op::Limit(_))) {
            used.push("limit");
        }
        used
    }

    /// Whether `endpoint` may run this query, as the node decides it.
    pub fn check_features(&self, endpoint: Endpoint) -> Result<(), FeatureError> {
        const BETA: &[&str] = &["multiEmission"];
        let used = self.uses();
        let disabled: Vec<&'static str> = used
            .iter()
            .copied()
            .filter(|f| BETA.contains(f) && !self.features.iter().any(|e| e == f))
            .collect();
        if !disabled.is_empty() {
            return Err(FeatureError::NotEnabled(disabled));
        }
        let banned: &[&str] = match endpoint {
            Endpoint::Query => &[],
            Endpoint::Subscribe => &["multiEmission"],
            Endpoint::SubscribeMonotonic => &["multiEmission", "limit"],
        };
        match used.into_iter().find(|f| banned.contains(f)) {
            Some(feature) => Err(FeatureError::Unsupported(feature)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
