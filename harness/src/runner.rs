//! The runner: executes the selected checks against a target and emits run events.
//!
//! A check that panics or overruns its time limit gets the verdict `error`
//! (the harness broke), and the run carries on with the next check.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use scenarios::{CheckMeta, Finding, Need, Verdict};
use tokio::sync::oneshot;

use crate::audit::Audit;
use crate::events::{CheckResult, Reporter, RunEvent, RunInfo};
use crate::exit::Exit;
use crate::expect::Expectations;
use crate::producer::Producer;
use crate::report::model::{FailingCase, Summary};
use crate::target::{Credentials, Target};

/// What a check's execution came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It ran; no failing finding is a pass. A failure carries its minimal case.
    Ran {
        findings: Vec<Finding>,
        case: Option<FailingCase>,
    },
    /// It did not run, for this reason (unsupported, no producer).
    Skipped(String),
    /// The harness broke while running it.
    Broke(String),
}

/// Everything a check may use while it runs.
#[derive(Debug, Clone)]
pub struct CheckContext {
    pub target: Target,
    /// This check's own seed, derived from the run seed and the check id, so
    /// that running one check alone reproduces what it did in a full run.
    pub seed: u64,
    pub cases: u32,
    pub http: reqwest::Client,
    pub credentials: Credentials,
    /// `--producer`, for targets that are not a reference server.
    pub producer: Option<Producer>,
    /// How long checks wait for things that take the target's own time
    /// (keep-alives, cutting a stalled consumer).
    pub patience: Duration,
    /// What the run's cases recorded, for the checks that judge the whole run.
    pub audit: Audit,
}

impl CheckContext {
    /// A context for `target` with the defaults: dev credentials, no producer.
    pub fn new(target: Target, http: reqwest::Client) -> Self {
        Self {
            target,
            seed: 0,
            cases: 1,
            http,
            credentials: Credentials::default(),
            producer: None,
            patience: Duration::from_secs(20),
            audit: Audit::default(),
        }
    }

    /// Whether the harness can make the target publish: a reference server's
    /// control API, or a producer command.
    pub fn can_produce(&self) -> bool {
        self.target.is_reference() || self.producer.is_some()
    }
}

/// An executable check: the catalogue entry plus the code that runs its plan
/// and applies its oracle.
pub trait Check: Send + Sync {
    fn meta(&self) -> &'static CheckMeta;
    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome>;
    /// Runs one saved plan again, as `harness replay` does.
    fn replay<'a>(
        &'a self,
        ctx: &'a CheckContext,
        plan: serde_json::Value,
    ) -> BoxFuture<'a, Outcome>;
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub strict: bool,
    /// A check still running after this long is stopped with the verdict `error`.
    pub check_timeout: Duration,
    /// Where report.json will be, for the replay commands of failing cases.
    pub report_file: PathBuf,
    /// `--expect`: verdicts that do not fail the run; empty without it.
    pub expect: Expectations,
}

/// The seed one check runs with: a stable mix of the run seed and the id (FNV-1a, then SplitMix64).
pub fn check_seed(run_seed: u64, id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = run_seed ^ hash;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The exit code of a finished run: 1 when a check fails the run (an
/// unexpected failure, or a verdict `--expect` did not expect), else 3 when
/// the harness broke on some check (the verdict is unknown), else 0.
pub fn exit_for(results: &[CheckResult], strict: bool) -> Exit {
    if results.iter().any(|r| r.fails_run(strict)) {
        Exit::Failed
    } else if results.iter().any(|r| r.verdict == Verdict::Error) {
        Exit::Broken
    } else {
        Exit::Ok
    }
}

/// The command that runs one check again, the same way: its saved minimal
/// case when it failed with one, else the whole check with the same seed. A
/// check that judges what its API's other checks recorded
/// (`Need::Transcripts`) is run again with all of them.
pub fn replay_command(
    meta: &CheckMeta,
    run_seed: u64,
    target: &Target,
    saved: Option<&Path>,
) -> String {
    let mut command = if meta.needs.contains(&Need::Transcripts) {
        format!("harness check --api {} --seed {run_seed}", meta.api)
    } else if let Some(report) = saved {
        return format!(
            "harness replay '{}' --check '{}'",
            report.display(),
            meta.id
        );
    } else {
        format!("harness check --checks '{}' --seed {run_seed}", meta.id)
    };
    if !target.is_embedded() {
        command.push_str(&format!(" --target '{}'", target.base_url()));
    }
    command
}

/// Runs `checks` in order, sending every event to every reporter, and
/// returns the summary (with its exit code). A check that needs an idle
/// stream (`Need::Idle`) starts with the run and waits out the target's
/// keep-alive interval alongside the others; it is reported after them. A
/// check that judges what the others recorded (`Need::Transcripts`) runs
/// once they have all finished.
pub async fn run(
    info: RunInfo,
    checks: &[&dyn Check],
    ctx: &CheckContext,
    settings: &RunSettings,
    reporters: &mut [&mut dyn Reporter],
) -> anyhow::Result<Summary> {
    let run_seed = info.options.seed;
    emit(reporters, &RunEvent::Started(info))?;
    let audit = Audit::for_run(checks);
    let check_ctx = |meta: &CheckMeta| CheckContext {
        seed: check_seed(run_seed, meta.id),
        audit: audit.clone(),
        ..ctx.clone()
    };
    let mut early = HashMap::new();
    let mut background = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        if check.meta().needs.contains(&Need::Idle) {
            let (done, result) = oneshot::channel();
            early.insert(index, result);
            let check_ctx = check_ctx(check.meta());
            background.push(async move {
                let started = Instant::now();
                let outcome = execute(*check, &check_ctx, settings.check_timeout).await;
                let _ = done.send((outcome, started.elapsed()));
            });
        }
    }
    let in_turn = async {
        let mut results = Vec::with_capacity(checks.len());
        for index in turns(checks, &early) {
            let meta = checks[index].meta();
            emit(reporters, &RunEvent::CheckStarted { index, meta })?;
            let (outcome, took) = match early.remove(&index) {
                Some(result) => result.await.unwrap_or_else(|_| {
                    let lost = "the check's task ended without an outcome".to_owned();
                    (Outcome::Broke(lost), Duration::ZERO)
                }),
                None => {
                    let started = Instant::now();
                    let outcome =
                        execute(checks[index], &check_ctx(meta), settings.check_timeout).await;
                    (outcome, started.elapsed())
                }
            };
            let result = result_of(
                meta,
                outcome,
                took,
                run_seed,
                &ctx.target,
                &settings.report_file,
            );
            let result = with_expectation(result, &settings.expect);
            let finished = RunEvent::CheckFinished {
                index,
                result: result.clone(),
            };
            emit(reporters, &finished)?;
            results.push(result);
        }
        anyhow::Ok(results)
    };
    let (results, _) = futures_util::future::join(in_turn, join_all(background)).await;
    let results = results?;
    let mut summary = Summary::default();
    for result in &results {
        summary.count(result.verdict);
    }
    summary.expected_fail = results
        .iter()
        .filter(|r| r.failed_as_expected(settings.strict))
        .count();
    summary.exit_code = exit_for(&results, settings.strict).code();
    emit(
        reporters,
        &RunEvent::Finished {
            finished_at: SystemTime::now(),
            summary,
        },
    )?;
    Ok(summary)
}

/// The order the run takes `checks` in: the others in catalogue order,
/// then the idle ones (`early`, started with the run), then those that read
/// what all of them recorded.
fn turns<T>(checks: &[&dyn Check], early: &HashMap<usize, T>) -> Vec<usize> {
    let last = |i: &usize| checks[*i].meta().needs.contains(&Need::Transcripts);
    let (idle, rest): (Vec<_>, Vec<_>) = (0..checks.len()).partition(|i| early.contains_key(i));
    let (audits, rest): (Vec<_>, Vec<_>) = rest.into_iter().partition(last);
    rest.into_iter().chain(idle).chain(audits).collect()
}

fn emit(reporters: &mut [&mut dyn Reporter], event: &RunEvent) -> anyhow::Result<()> {
    for reporter in reporters.iter_mut() {
        reporter.event(event)?;
    }
    Ok(())
}

async fn execute(check: &dyn Check, ctx: &CheckContext, timeout: Duration) -> Outcome {
    let running = AssertUnwindSafe(check.run(ctx)).catch_unwind();
    match tokio::time::timeout(timeout, running).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Outcome::Broke(format!("the check panicked: {message}"))
        }
        Err(_) => Outcome::Broke(format!(
            "the check did not finish within {}",
            humantime::format_duration(timeout)
        )),
    }
}

pub fn result_of(
    meta: &'static CheckMeta,
    outcome: Outcome,
    duration: Duration,
    run_seed: u64,
    target: &Target,
    report_file: &Path,
) -> CheckResult {
    let mut result = CheckResult {
        meta,
        verdict: Verdict::Pass,
        findings: Vec::new(),
        skip_reason: None,
        error: None,
        duration,
        seed: run_seed,
        replay: replay_command(meta, run_seed, target, None),
        case: None,
        expected: None,
    };
    match outcome {
        Outcome::Ran { findings, case } => {
            result.verdict = Verdict::from_findings(meta.level, &findings);
            result.findings = findings;
            if result.verdict != Verdict::Pass && case.is_some() {
                result.replay = replay_command(meta, run_seed, target, Some(report_file));
                result.case = case;
            }
        }
        Outcome::Skipped(reason) => {
            result.verdict = Verdict::Skip;
            result.skip_reason = Some(reason);
        }
        Outcome::Broke(error) => {
            result.verdict = Verdict::Error;
            result.error = Some(error);
        }
    }
    result
}

/// `result` with its `--expect` entry, if it has one, judged against its verdict.
pub fn with_expectation(mut result: CheckResult, expect: &Expectations) -> CheckResult {
    result.expected = expect.judge(result.meta.id, result.verdict);
    result
}
