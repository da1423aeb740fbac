//! `report.json`, version 1: the boundary type that CI, scripts and `harness report render` read.
//!
//! The JSON Schema in `reports/schema/report.v1.schema.json` is the full
//! contract; this module and that file change together, and a test validates
//! every report the harness writes against the schema.
//!
//! Format, in short:
//!
//! ```text
//! {
//!   "version": 1,
//!   "tool": {"name": "harness", "version": "0.1.0"},
//!   "run_id": "01K…",                       // a ULID; also the default report folder name
//!   "started_at": "2026-11-22T12:00:00.000Z", "finished_at": …, "duration_ms": 1234,
//!   "target": {"url": "http://127.0.0.1:PORT", "kind": "embedded" | "reference" | "other"},
//!   "options": {"apis": ["fibric", …], "checks": ["glob", …], "seed": 42, "cases": 32, "strict": false},
//!   "summary": {"total", "pass", "fail", "non_strict", "skip", "error", "exit_code"},
//!                                          // + "expected_fail" when --expect excused a failure
//!   "checks": [{
//!     "id": "fibric/cursor/resume", "api": "fibric", "area": "cursor", "level": "MUST",
//!     "verdict": "pass" | "fail" | "non-strict" | "skip" | "error",
//!     "title": …, "spec": …, "seed": 42, "duration_ms": 12,
//!     "findings": [{"kind": "lost", "message": …, "evidence": …}],
//!     "skip_reason": …, "error": …,          // only with those verdicts
//!     "replay": "harness check --checks 'fibric/cursor/resume' --seed 42",
//!     "case": {"plan": …, "transcript": {"entries": […]}, "cases_run": 3, "shrink_steps": 12},
//!     "expected": {"verdicts": ["fail"], "why": …, "met": true}   // only for --expect's checks
//!   }]                                     // case: failures found by generated plans; replay then
//!                                          // reads `harness replay DIR/report.json --check ID`
//! }
//! ```
//!
//! Readers must ignore fields they do not know: later versions of the same
//! major `version` only add fields.

use std::path::Path;

use scenarios::{Api, Finding, Level, Verdict};
use serde::{Deserialize, Serialize};

/// The only version this harness writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub tool: Tool,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub target: TargetInfo,
    pub options: RunOptions,
    pub summary: Summary,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn this() -> Self {
        Self {
            name: "harness".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// How the target was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The reference server, started in-process because no `--target` was given.
    Embedded,
    /// A reference server at `--target` (it answered the control API).
    Reference,
    /// Any other server.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub url: String,
    pub kind: TargetKind,
}

impl TargetInfo {
    pub fn describe(&self) -> String {
        match self.kind {
            TargetKind::Embedded => format!("{} (embedded reference server)", self.url),
            TargetKind::Reference => format!("{} (reference server)", self.url),
            TargetKind::Other => self.url.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    pub apis: Vec<Api>,
    /// The `--checks` globs; empty means every check.
    pub checks: Vec<String>,
    pub seed: u64,
    pub cases: u32,
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub non_strict: usize,
    pub skip: usize,
    pub error: usize,
    /// Checks whose verdict would have failed the run but was expected (`--expect`);
    /// they are also counted under their verdict. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_fail: usize,
    /// The exit code `harness check` returned for this run.
    pub exit_code: u8,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Summary {
    pub fn count(&mut self, verdict: Verdict) {
        self.total += 1;
        match verdict {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::NonStrict => self.non_strict += 1,
            Verdict::Skip => self.skip += 1,
            Verdict::Error => self.error += 1,
        }
    }

    pub fn of(&self, verdict: Verdict) -> usize {
        match verdict {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::NonStrict => self.non_strict,
            Verdict::Skip => self.skip,
            Verdict::Error => self.error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub id: String,
    pub api: Api,
    pub area: String,
    pub level: Level,
    pub verdict: Verdict,
    pub title: String,
    pub spec: String,
    pub seed: u64,
    pub duration_ms: u64,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One command that runs this check again the same way.
    pub replay: String,
    /// For a failure found by generated plans: the minimal plan and what crossed the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<FailingCase>,
    /// The `--expect` entry for this check, when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

impl CheckReport {
    /// Whether this check failed the run (see [`fails_run`]).
    pub fn fails_run(&self, strict: bool) -> bool {
        fails_run(self.verdict, self.level, self.expected.as_ref(), strict)
    }

    /// Whether this check would have failed the run, had its verdict not been expected.
    pub fn failed_as_expected(&self, strict: bool) -> bool {
        self.expected.as_ref().is_some_and(|e| e.met) && self.verdict.fails_run(self.level, strict)
    }

    /// The expectation this check's verdict did not meet, if any.
    pub fn unmet(&self) -> Option<&Expected> {
        self.expected.as_ref().filter(|e| !e.met)
    }
}

/// A known, accepted deviation (`harness check --expect FILE`) and whether
/// the verdict kept to it. The verdict itself is never changed: a deviation
/// stays visible in every report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// The verdicts the entry allows; never `error`.
    pub verdicts: Vec<Verdict>,
    /// Why the deviation is accepted, from the entry.
    pub why: String,
    /// Whether the verdict is one of `verdicts`.
    pub met: bool,
}

impl Expected {
    /// The allowed verdicts for people: `fail`, or `pass or fail`.
    pub fn allowed(&self) -> String {
        let names: Vec<&str> = self.verdicts.iter().map(|v| v.name()).collect();
        names.join(" or ")
    }

    /// What an unmet expectation means, in one line: the check no longer
    /// deviates as recorded, so the entry is stale.
    pub fn unmet_message(&self, verdict: Verdict) -> String {
        if verdict == Verdict::Error {
            return format!(
                "expected {}, got error: the harness broke, so the expectation is untested",
                self.allowed()
            );
        }
        format!(
            "expected {}, got {verdict}: the expectation is stale; remove or update its --expect entry",
            self.allowed()
        )
    }
}

/// Whether a check fails the run. Without an expectation: a MUST failure
/// always, a SHOULD not met under `--strict`. With one: exactly when the
/// verdict is not among the expected ones, except `error`, which never meets
/// an expectation and exits 3 as it always does.
pub fn fails_run(
    verdict: Verdict,
    level: Level,
    expected: Option<&Expected>,
    strict: bool,
) -> bool {
    match expected {
        Some(expected) => !expected.met && verdict != Verdict::Error,
        None => verdict.fails_run(level, strict),
    }
}

/// The smallest plan that still fails, after shrinking, with its transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingCase {
    /// The check's own plan type, as JSON; `harness replay` runs it again.
    pub plan: serde_json::Value,
    pub transcript: scenarios::transcript::Transcript,
    /// Cases run until the first failure.
    pub cases_run: u32,
    /// Further cases run while shrinking it.
    pub shrink_steps: u32,
}

/// Why a report file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a report: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} is a version {found} report; this harness reads version {VERSION}")]
    Version { path: String, found: u64 },
}

impl Report {
    pub fn read(path: &Path) -> Result<Report, ReadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        // Check the version first, so that a future format gets a clear message
        // rather than a complaint about some field.
        let raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ReadError::Json {
                path: shown.clone(),
                source,
            })?;
        let found = raw.get("version").and_then(serde_json::Value::as_u64);
        if found != Some(u64::from(VERSION)) {
            return Err(ReadError::Version {
                path: shown,
                found: found.unwrap_or(0),
            });
        }
        serde_json::from_value(raw).map_err(|source| ReadError::Json {
            path: shown,
            source,
        })
    }

    /// The checks of one API, in report order.
    pub fn checks_of(&self, api: Api) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(move |c| c.api == api)
    }

    /// Per-API counts, for every API the run covered.
    pub fn summary_by_api(&self) -> Vec<(Api, Summary)> {
        self.options
            .apis
            .iter()
            .map(|api| {
                let mut summary = Summary::default();
                for check in self.checks_of(*api) {
                    summary.count(check.verdict);
                }
                (*api, summary)
            })
            .collect()
    }
}
