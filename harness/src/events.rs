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

use crate::report::model::{FailingCase, RunOptions, Summary, TargetInfo};

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
