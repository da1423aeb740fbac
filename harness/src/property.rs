//! Property checks: generate plans with proptest, run each against the target, shrink a failure to a minimal plan.
//!
//! Every check is a [`Property`]: a strategy for its plans, a case executor
//! that runs one plan and returns what its oracle found plus the transcript,
//! and metadata. A check with a fixed scenario has a plan of `()` and one
//! case. Generation is seeded by the check's own seed, so a run is
//! repeatable; the minimal failing plan is kept, with its transcript, for
//! the report and for `harness replay`.
//!
//! proptest's runner is synchronous, so it runs on a blocking thread and
//! drives each async case with the runtime's handle. If the check is dropped
//! (its time limit passed), the remaining cases return at once.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use proptest::strategy::SBoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use scenarios::transcript::Transcript;
use scenarios::{CheckMeta, Finding};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::report::model::FailingCase;
use crate::runner::{Check, CheckContext, Outcome};

/// What one case found.
#[derive(Debug, Clone, Default)]
pub struct CaseOutcome {
    pub findings: Vec<Finding>,
    pub transcript: Transcript,
}

/// The most shrink steps one failure gets; each step is a round trip to the target.
pub const MAX_SHRINK_STEPS: u32 = 48;
/// And the most time, in milliseconds, shrinking one failure may take.
pub const MAX_SHRINK_MILLIS: u32 = 20_000;
/// Proptest's own bound on shrink steps, far above ours: once ours is spent,
/// each step answers at once, and this only guards against a strategy that
/// could simplify and complicate forever.
const PROPTEST_SHRINK_ITERS: u32 = 100_000;

/// A check as a property over generated plans.
pub trait Property: Send + Sync + 'static {
    type Plan: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    fn meta(&self) -> &'static CheckMeta;

    /// Why this check cannot run against this target (no producer, say), if it cannot.
    fn skip_reason(&self, _ctx: &CheckContext) -> Option<String> {
        None
    }

    fn strategy(&self) -> SBoxedStrategy<Self::Plan>;

    /// How many cases to run when `requested` were asked for.
    fn cases(&self, requested: u32) -> u32 {
        requested
    }

    /// Runs one plan. `Err` means the harness broke, not the target.
    fn run_case(
        self: Arc<Self>,
        ctx: CheckContext,
        plan: Self::Plan,
    ) -> BoxFuture<'static, Result<CaseOutcome, String>>;
}

/// Adapts a [`Property`] to the runner's [`Check`].
pub struct PropertyCheck<P: Property>(pub Arc<P>);

impl<P: Property> std::fmt::Debug for PropertyCheck<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PropertyCheck")
            .field(&self.0.meta().id)
            .finish()
    }
}

impl<P: Property> PropertyCheck<P> {
    pub fn boxed(property: P) -> Box<dyn Check> {
        Box::new(PropertyCheck(Arc::new(property)))
    }
}

/// Seeds proptest's ChaCha generator from a 64-bit seed.
fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    let mut state = seed;
    for chunk in bytes.chunks_mut(8) {
        state = crate::runner::check_seed(state, "rng");
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Sets the flag when dropped: the check's future went away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn fails(findings: &[Finding]) -> bool {
    findings.iter().any(|f| !f.informational)
}

/// The most informational findings of passing cases a check reports.
const MAX_PASSING_NOTES: usize = 8;

/// Keeps the informational findings of a passing case (an "untested" note, a
/// duplicate allowed by at-least-once), once each, so a pass that tested less
/// than it claims shows why in the report.
fn keep_notes(notes: &mut Vec<Finding>, findings: Vec<Finding>) {
    for finding in findings {
        let seen = notes
            .iter()
            .any(|n| n.kind == finding.kind && n.message == finding.message);
        if !seen && notes.len() < MAX_PASSING_NOTES {
            notes.push(finding);
        }
    }
}

/// Why a check does not run here: a check whose metadata needs the control
/// API skips every target but a reference server, whatever its own rule says.
fn skip_reason<P: Property>(property: &P, ctx: &CheckContext) -> Option<String> {
    let control = property.meta().needs.contains(&scenarios::Need::Control);
    if control && !ctx.target.is_reference() {
        return Some(property.skip_reason(ctx).unwrap_or_else(|| {
            "needs the reference server's control API, which this target lacks".to_owned()
        }));
    }
    property.skip_reason(ctx)
}

async fn run_property<P: Property>(property: Arc<P>, ctx: &CheckContext) -> Outcome {
    if let Some(reason) = skip_reason(property.as_ref(), ctx) {
        return Outcome::Skipped(reason);
    }
    let handle = tokio::runtime::Handle::current();
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
    let cases = property.cases(ctx.cases).max(1);
    let seed = ctx.seed;
    let ctx = ctx.clone();
    let work = tokio::task::spawn_blocking(move || {
        // The shrink budget is ours (`Search::spent`), not proptest's: its own
        // limits print a line to stderr when they end a shrink.
        let config = Config {
            cases,
            max_shrink_iters: PROPTEST_SHRINK_ITERS,
            max_shrink_time: 0,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng_for(seed));
        let search = Search::<P>::default();
        let strategy = property.strategy();
        let result = runner.run(&strategy, |plan| {
            // Cancelled, broken or out of shrink budget: every further plan
            // "passes" at once, which ends proptest's search without a word;
            // the outcome comes from `search`, not from these answers.
            if cancelled.load(Ordering::Relaxed) || search.spent() {
                return Ok(());
            }
            let n = search.executed.fetch_add(1, Ordering::Relaxed) + 1;
            let case = handle.block_on(Arc::clone(&property).run_case(ctx.clone(), plan.clone()));
            if let Ok(case) = &case {
                let base = ctx.target.base_url();
                ctx.audit.record(property.meta(), &case.transcript, base);
            }
            search.judge(n, plan, case)
        });
        (result, search)
    });
    match work.await {
        Ok((result, search)) => search.outcome(result),
        Err(error) => Outcome::Broke(format!("the property runner failed: {error}")),
    }
}

/// What a property's cases found, as proptest generates and shrinks them.
struct Search<P: Property> {
    /// The last failing case: after shrinking, the minimal one.
    last_failure: Mutex<Option<(P::Plan, CaseOutcome)>>,
    broke: Mutex<Option<String>>,
    /// Informational findings of passing cases.
    passing_notes: Mutex<Vec<Finding>>,
    executed: AtomicU32,
    /// The number of the first failing case (0: none yet).
    first_failure: AtomicU32,
    /// When the first case failed: shrinking has run since.
    failed_at: Mutex<Option<Instant>>,
}

impl<P: Property> Default for Search<P> {
    fn default() -> Self {
        Search {
            last_failure: Mutex::new(None),
            broke: Mutex::new(None),
            passing_notes: Mutex::new(Vec::new()),
            executed: AtomicU32::new(0),
            first_failure: AtomicU32::new(0),
            failed_at: Mutex::new(None),
        }
    }
}

impl<P: Property> Search<P> {
    /// Whether no more plans should run: the harness broke, or shrinking has
    /// used its steps (`MAX_SHRINK_STEPS`) or its time (`MAX_SHRINK_MILLIS`).
    fn spent(&self) -> bool {
        if self.broke.lock().map(|b| b.is_some()).unwrap_or(true) {
            return true;
        }
        let first = self.first_failure.load(Ordering::Relaxed);
        if first == 0 {
            return false;
        }
        let steps = self.executed.load(Ordering::Relaxed) - first;
        let late = self
            .failed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() >= Duration::from_millis(MAX_SHRINK_MILLIS.into()));
        steps >= MAX_SHRINK_STEPS || late
    }

    /// Keeps what case `n` (of `plan`) came to, and tells proptest whether it failed.
    fn judge(
        &self,
        n: u32,
        plan: P::Plan,
        case: Result<CaseOutcome, String>,
    ) -> Result<(), TestCaseError> {
        match case {
            Ok(case) if fails(&case.findings) => {
                let summary = case
                    .findings
                    .iter()
                    .map(|f| format!("{}: {}", f.kind, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let first =
                    self.first_failure
                        .compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed);
                if first.is_ok()
                    && let Ok(mut at) = self.failed_at.lock()
                {
                    *at = Some(Instant::now());
                }
                if let Ok(mut slot) = self.last_failure.lock() {
                    *slot = Some((plan, case));
                }
                Err(TestCaseError::fail(summary))
            }
            Ok(case) => {
                if let Ok(mut notes) = self.passing_notes.lock() {
                    keep_notes(&mut notes, case.findings);
                }
                Ok(())
            }
            Err(error) => {
                if let Ok(mut slot) = self.broke.lock() {
                    *slot = Some(error.clone());
                }
                Err(TestCaseError::fail(error))
            }
        }
    }

    /// The check's outcome once proptest is done.
    fn outcome(self, result: Result<(), TestError<P::Plan>>) -> Outcome {
        if let Some(error) = self.broke.into_inner().ok().flatten() {
            return Outcome::Broke(error);
        }
        let executed = self.executed.load(Ordering::Relaxed);
        let first = self.first_failure.load(Ordering::Relaxed);
        match (result, self.last_failure.into_inner().ok().flatten()) {
            (Ok(()), _) => Outcome::Ran {
                findings: self.passing_notes.into_inner().unwrap_or_default(),
                case: None,
            },
            (Err(TestError::Fail(..)), Some((plan, case))) => Outcome::Ran {
                findings: case.findings,
                case: Some(FailingCase {
                    plan: serde_json::to_value(&plan).unwrap_or_default(),
                    transcript: case.transcript,
                    cases_run: first.max(1),
                    shrink_steps: executed.saturating_sub(first),
                }),
            },
            (Err(error), _) => Outcome::Broke(format!("the property runner stopped: {error}")),
        }
    }
}

async fn replay_plan<P: Property>(
    property: Arc<P>,
    ctx: &CheckContext,
    plan: serde_json::Value,
) -> Outcome {
    let plan: P::Plan = match serde_json::from_value(plan) {
        Ok(plan) => plan,
        Err(error) => {
            return Outcome::Broke(format!("the saved plan does not fit this check: {error}"));
        }
    };
    if let Some(reason) = skip_reason(property.as_ref(), ctx) {
        return Outcome::Skipped(reason);
    }
    match property.run_case(ctx.clone(), plan.clone()).await {
        Ok(case) => Outcome::Ran {
            findings: case.findings,
            case: Some(FailingCase {
                plan: serde_json::to_value(&plan).unwrap_or_default(),
                transcript: case.transcript,
                cases_run: 1,
                shrink_steps: 0,
            }),
        },
        Err(error) => Outcome::Broke(error),
    }
}

impl<P: Property> Check for PropertyCheck<P> {
    fn meta(&self) -> &'static CheckMeta {
        self.0.meta()
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        run_property(Arc::clone(&self.0), ctx).boxed()
    }

    fn replay<'a>(
        &'a self,
        ctx: &'a CheckContext,
        plan: serde_json::Value,
    ) -> BoxFuture<'a, Outcome> {
        replay_plan(Arc::clone(&self.0), ctx, plan).boxed()
    }
}
