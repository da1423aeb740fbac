//! Property checks: generation is seeded, failures shrink to a minimal plan, and the saved plan replays.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use harness::check::execute;
use harness::property::{CaseOutcome, Property, PropertyCheck};
use harness::report::model::Report;
use harness::runner::{Check, CheckContext, Outcome};
use proptest::prelude::*;
use proptest::strategy::SBoxedStrategy;
use scenarios::transcript::Observed;
use scenarios::{Api, Finding, Level};

use crate::support::{config, meta};

/// Fails when any number in the plan is 100 or more; the minimal plan is `[100]`.
struct NoBigNumbers {
    runs: Arc<AtomicU32>,
}

impl Property for NoBigNumbers {
    type Plan = Vec<u32>;

    fn meta(&self) -> &'static scenarios::CheckMeta {
        meta(
            "fibric/wire/no-big-numbers",
            Api::Fibric,
            Level::Must,
            "numbers stay small",
        )
    }

    fn strategy(&self) -> SBoxedStrategy<Vec<u32>> {
        prop::collection::vec(0u32..1000, 1..20).sboxed()
    }

    fn run_case(
        self: Arc<Self>,
        _ctx: CheckContext,
        plan: Vec<u32>,
    ) -> BoxFuture<'static, Result<CaseOutcome, String>> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        async move {
            let mut outcome = CaseOutcome::default();
            outcome.transcript.push(
                0,
                1,
                Observed::Note {
                    text: format!("plan {plan:?}"),
                },
            );
            if let Some(big) = plan.iter().find(|n| **n >= 100) {
                outcome
                    .findings
                    .push(Finding::new("too-big", format!("{big} is 100 or more")));
            }
            Ok(outcome)
        }
        .boxed()
    }
}

fn check(runs: &Arc<AtomicU32>) -> Box<dyn Check> {
    PropertyCheck::boxed(NoBigNumbers {
        runs: Arc::clone(runs),
    })
}

#[tokio::test]
async fn a_failure_shrinks_to_the_minimal_plan_which_is_saved_and_replays() {
    let runs = Arc::new(AtomicU32::new(0));
    let registry = vec![check(&runs)];
    let dir = tempfile::tempdir().unwrap();
    let summary = execute(
        &config(
            dir.path(),
            &["--cases", "64", "--format", "html", "--format", "markdown"],
        ),
        &registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    assert_eq!(summary.fail, 1);
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let errors = crate::support::schema_errors(&raw);
    assert!(errors.is_empty(), "{errors:#?}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("Minimal failing plan") && html.contains("plan [100]"),
        "plan and transcript shown"
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("Minimal failing plan") && md.contains("100"),
        "{md}"
    );
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let check_report = &report.checks[0];
    let case = check_report
        .case
        .as_ref()
        .expect("the failing case is saved");
    assert_eq!(
        case.plan,
        serde_json::json!([100]),
        "shrunk to the minimal plan"
    );
    assert!(case.shrink_steps > 0);
    assert_eq!(check_report.findings[0].message, "100 is 100 or more");
    // The transcript is the minimal case's, not some earlier one's.
    assert!(format!("{:?}", case.transcript).contains("plan [100]"));
    assert_eq!(
        check_report.replay,
        format!(
            "harness replay '{}' --check 'fibric/wire/no-big-numbers'",
            dir.path().join("report.json").display()
        )
    );
    // Replaying the saved plan fails the same way, in one case.
    let before = runs.load(Ordering::Relaxed);
    let ctx = harness::runner::CheckContext::new(
        harness::target::Target::embedded("http://127.0.0.1:9".into(), "t".into()),
        reqwest::Client::new(),
    );
    let outcome = registry[0].replay(&ctx, case.plan.clone()).await;
    assert!(
        matches!(&outcome, Outcome::Ran { findings, .. } if findings.len() == 1),
        "{outcome:?}"
    );
    assert_eq!(runs.load(Ordering::Relaxed), before + 1);
}

#[tokio::test]
async fn the_same_seed_generates_the_same_plans() {
    let plans = |seed: &'static str| async move {
        let runs = Arc::new(AtomicU32::new(0));
        let dir = tempfile::tempdir().unwrap();
        execute(
            &config(dir.path(), &["--seed", seed]),
            &[check(&runs)],
            Some(&mut Vec::new()),
        )
        .await
        .unwrap();
        let report = Report::read(&dir.path().join("report.json")).unwrap();
        (
            report.checks[0]
                .case
                .clone()
                .map(|c| (c.cases_run, c.shrink_steps)),
            runs.load(Ordering::Relaxed),
        )
    };
    assert_eq!(plans("11").await, plans("11").await);
}

#[tokio::test]
async fn a_passing_property_runs_the_requested_cases_and_saves_nothing() {
    struct AlwaysFine(Arc<AtomicU32>);
    impl Property for AlwaysFine {
        type Plan = u8;
        fn meta(&self) -> &'static scenarios::CheckMeta {
            meta("pulse/wire/fine", Api::Pulse, Level::Must, "fine")
        }
        fn strategy(&self) -> SBoxedStrategy<u8> {
            any::<u8>().sboxed()
        }
        fn run_case(
            self: Arc<Self>,
            _ctx: CheckContext,
            _plan: u8,
        ) -> BoxFuture<'static, Result<CaseOutcome, String>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            async { Ok(CaseOutcome::default()) }.boxed()
        }
    }
    let runs = Arc::new(AtomicU32::new(0));
    let dir = tempfile::tempdir().unwrap();
    let registry = vec![PropertyCheck::boxed(AlwaysFine(Arc::clone(&runs)))];
    let summary = execute(
        &config(dir.path(), &["--cases", "9"]),
        &registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    assert_eq!(summary.pass, 1);
    assert_eq!(runs.load(Ordering::Relaxed), 9);
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    assert!(report.checks[0].case.is_none());
}

/// A pass that tested less than it claims (an informational "untested"
/// finding) says so in the report, once, and stays a pass.
#[tokio::test]
async fn informational_findings_of_passing_cases_reach_the_report_once() {
    struct Untested;
    impl Property for Untested {
        type Plan = u8;
        fn meta(&self) -> &'static scenarios::CheckMeta {
            meta("pulse/wire/untested", Api::Pulse, Level::Must, "untested")
        }
        fn strategy(&self) -> SBoxedStrategy<u8> {
            any::<u8>().sboxed()
        }
        fn run_case(
            self: Arc<Self>,
            _ctx: CheckContext,
            _plan: u8,
        ) -> BoxFuture<'static, Result<CaseOutcome, String>> {
            let note = Finding::new(
                "untested",
                "the target kept everything; nothing was outdated",
            )
            .informational();
            async move {
                Ok(CaseOutcome {
                    findings: vec![note],
                    ..CaseOutcome::default()
                })
            }
            .boxed()
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = vec![PropertyCheck::boxed(Untested)];
    let summary = execute(
        &config(dir.path(), &["--cases", "5"]),
        &registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    assert_eq!(summary.pass, 1);
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let findings = &report.checks[0].findings;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].kind, "untested");
    assert!(findings[0].informational);
}

/// Fails on every plan, and its plans are long: shrinking outlasts its budget.
struct AlwaysFails;

impl Property for AlwaysFails {
    type Plan = Vec<u32>;

    fn meta(&self) -> &'static scenarios::CheckMeta {
        meta(
            "fibric/wire/always-fails",
            Api::Fibric,
            Level::Must,
            "never holds",
        )
    }

    fn strategy(&self) -> SBoxedStrategy<Vec<u32>> {
        prop::collection::vec(any::<u32>(), 50..100).sboxed()
    }

    fn run_case(
        self: Arc<Self>,
        _ctx: CheckContext,
        plan: Vec<u32>,
    ) -> BoxFuture<'static, Result<CaseOutcome, String>> {
        async move {
            let mut outcome = CaseOutcome::default();
            let finding = format!("{} numbers", plan.len());
            outcome.findings.push(Finding::new("always", finding));
            Ok(outcome)
        }
        .boxed()
    }
}

/// A property that never holds shrinks for exactly the harness's own step
/// budget, keeps its failure, and says how far it got. The test below also
/// runs this one in a child process, to read what reached its terminal.
#[tokio::test]
async fn shrink_until_the_budget_ends() {
    let registry = vec![PropertyCheck::boxed(AlwaysFails)];
    let dir = tempfile::tempdir().unwrap();
    let summary = execute(&config(dir.path(), &[]), &registry, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(summary.fail, 1);
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let case = report.checks[0].case.as_ref().expect("the failing case");
    assert_eq!(case.shrink_steps, harness::property::MAX_SHRINK_STEPS);
    println!("shrink steps {}", case.shrink_steps);
}

/// Proptest prints a line to stderr when its own limits end a shrink; the
/// harness's summary must not carry it, so the budget is the harness's own.
#[test]
fn shrinking_that_runs_out_prints_nothing_of_proptest() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "property::shrink_until_the_budget_ends",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let steps = format!("shrink steps {}", harness::property::MAX_SHRINK_STEPS);
    assert!(stdout.contains(&steps), "{stdout}");
    assert!(!stderr.contains("proptest"), "{stderr}");
    assert!(!stdout.contains("proptest"), "{stdout}");
}
