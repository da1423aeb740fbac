//! The one event stream a run produces; every reporter is a consumer of it.
//!
//! The runner knows nothing about progress bars or file formats: it emits
//! [`RunEvent`]s in order (`Started`, then `CheckStarted`/`CheckFinished`
//! per check, then `Finished`), and each [`Reporter`] turns them into output.
//! Checks come in selection order, except those that hold an idle stream
//! (`Need::Idle`): they run alongside and come last; `index` is each check's
//! place in the selection.

use std::time::{Duration, SystemTime};

use scenarios::{CheckMeta, Finding, Verdict};

use crate::report::model::{Expected, FailingCase, RunOptions, Summary, TargetInfo, fails_run};

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub started_at: SystemTime,
    pub target: TargetInfo,
    pub options: RunOptions,
    /// The checks selected, in the order they will run.
    pub checks: Vec<&'static CheckMeta>,
}

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub meta: &'static CheckMeta,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub skip_reason: Option<String>,
    pub error: Option<String>,
    pub duration: Duration,
    pub seed: u64,
    pub replay: String,
    /// The minimal failing case, for failures found by generated plans.
    pub case: Option<FailingCase>,
    /// The check's `--expect` entry and whether the verdict kept to it.
    pub expected: Option<Expected>,
}

impl CheckResult {
    /// Whether this result fails the run; see [`crate::report::model::fails_run`].
    pub fn fails_run(&self, strict: bool) -> bool {
        fails_run(
            self.verdict,
            self.meta.level,
            self.expected.as_ref(),
            strict,
        )
    }

    /// Whether this result would have failed the run, had its verdict not been expected.
    pub fn failed_as_expected(&self, strict: bool) -> bool {
        self.expected.as_ref().is_some_and(|e| e.met)
            && self.verdict.fails_run(self.meta.level, strict)
    }
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    Started(RunInfo),
    CheckStarted {
        index: usize,
        meta: &'static CheckMeta,
    },
    CheckFinished {
        index: usize,
        result: CheckResult,
    },
    Finished {
        finished_at: SystemTime,
        summary: Summary,
    },
}

/// A consumer of run events.
pub trait Reporter {
    fn event(&mut self, event: &RunEvent) -> anyhow::Result<()>;
}
