//! Findings and verdicts: how a check's observations become pass, fail, non-strict, skip or error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::Level;

/// One thing the oracle saw that breaks the rule. The server misbehaving is
/// data: a finding, never an `Err`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A short stable name: an anomaly (`lost`, `resume-gap`, …) or the rule broken.
    pub kind: String,
    /// One sentence a person can act on.
    pub message: String,
    /// What was observed, for the report (a frame, a status code, positions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    /// Worth reporting, but allowed by the API's promise (a duplicate under
    /// at-least-once): it does not change the verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub informational: bool,
}

impl Finding {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            evidence: None,
            informational: false,
        }
    }

    /// Marks the finding as allowed by the promise: reported, not failed.
    pub fn informational(mut self) -> Self {
        self.informational = true;
        self
    }

    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Some(evidence);
        self
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A MUST rule is broken.
    Fail,
    /// A SHOULD or MAY rule is not met; fails the run only under `--strict` (SHOULD).
    NonStrict,
    /// Not run, with a reason (unsupported, no producer).
    Skip,
    /// The harness itself broke; the target's conformance is unknown.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::NonStrict,
        Verdict::Skip,
        Verdict::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NonStrict => "non-strict",
            Verdict::Skip => "skip",
            Verdict::Error => "error",
        }
    }

    /// The verdict of a check of `level` that ran and produced `findings`.
    pub fn from_findings(level: Level, findings: &[Finding]) -> Verdict {
        let broken = findings.iter().any(|f| !f.informational);
        match (!broken, level) {
            (true, _) => Verdict::Pass,
            (false, Level::Must) => Verdict::Fail,
            (false, Level::Should | Level::May) => Verdict::NonStrict,
        }
    }

    /// Whether this verdict fails the run: a MUST failure always, a SHOULD
    /// not met under `--strict`. A MAY never does.
    pub fn fails_run(self, level: Level, strict: bool) -> bool {
        match self {
            Verdict::Fail => true,
            Verdict::NonStrict => strict && level == Level::Should,
            Verdict::Pass | Verdict::Skip | Verdict::Error => false,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_grade_findings() {
        let none: [Finding; 0] = [];
        let some = [Finding::new("lost", "event 3 was never delivered")];
        assert_eq!(Verdict::from_findings(Level::Must, &none), Verdict::Pass);
        assert_eq!(Verdict::from_findings(Level::Must, &some), Verdict::Fail);
        assert_eq!(
            Verdict::from_findings(Level::Should, &some),
            Verdict::NonStrict
        );
        assert_eq!(
            Verdict::from_findings(Level::May, &some),
            Verdict::NonStrict
        );
    }

    #[test]
    fn strict_makes_should_but_not_may_fail_the_run() {
        assert!(Verdict::Fail.fails_run(Level::Must, false));
        assert!(!Verdict::NonStrict.fails_run(Level::Should, false));
        assert!(Verdict::NonStrict.fails_run(Level::Should, true));
        assert!(!Verdict::NonStrict.fails_run(Level::May, true));
        assert!(!Verdict::Error.fails_run(Level::Must, true));
    }
}
