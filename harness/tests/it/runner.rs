//! The runner: a check that holds an idle stream waits alongside the others, one that reads the run's transcripts runs after them, and both keep their place in the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use harness::check::execute;
use harness::report::model::{Report, Summary};
use harness::runner::{Check, CheckContext, Outcome};
use scenarios::{Api, CheckMeta, Finding, Level, Need, Verdict};
use tokio::sync::Notify;

use crate::support::config;

/// Waits for `go`, which only a later check in the catalogue gives: the run
/// passes only if this check runs alongside that one.
struct Waits {
    meta: &'static CheckMeta,
    go: Arc<Notify>,
}

/// Runs `body` at once, when its turn comes, and reports what it found.
struct Now {
    meta: &'static CheckMeta,
    body: Box<dyn Fn() -> Vec<Finding> + Send + Sync>,
}

fn meta(id: &'static str, needs: &'static [Need]) -> &'static CheckMeta {
    Box::leak(Box::new(CheckMeta {
        needs,
        ..crate::support::meta(id, Api::Fibric, Level::Must, "t").clone()
    }))
}

impl Check for Waits {
    fn meta(&self) -> &'static CheckMeta {
        self.meta
    }

    fn run<'a>(&'a self, _ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        async move {
            self.go.notified().await;
            Outcome::Ran {
                findings: Vec::new(),
                case: None,
            }
        }
        .boxed()
    }

    fn replay<'a>(&'a self, ctx: &'a CheckContext, _: serde_json::Value) -> BoxFuture<'a, Outcome> {
        self.run(ctx)
    }
}

impl Check for Now {
    fn meta(&self) -> &'static CheckMeta {
        self.meta
    }

    fn run<'a>(&'a self, _ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        let findings = (self.body)();
        async {
            Outcome::Ran {
                findings,
                case: None,
            }
        }
        .boxed()
    }

    fn replay<'a>(&'a self, ctx: &'a CheckContext, _: serde_json::Value) -> BoxFuture<'a, Outcome> {
        self.run(ctx)
    }
}

fn registry(waiting: &'static [Need]) -> Vec<Box<dyn Check>> {
    let go = Arc::new(Notify::new());
    vec![
        Box::new(Waits {
            meta: meta("fibric/wire/waits", waiting),
            go: Arc::clone(&go),
        }),
        Box::new(Now {
            meta: meta("fibric/wire/gives", &[]),
            body: Box::new(move || {
                go.notify_one();
                Vec::new()
            }),
        }),
    ]
}

/// Runs `registry` with `--check-timeout timeout`; the summary, and the
/// report's check ids and verdicts in report order.
async fn run(registry: &[Box<dyn Check>], timeout: &str) -> (Summary, Vec<(String, Verdict)>) {
    let dir = tempfile::tempdir().unwrap();
    let summary = execute(
        &config(dir.path(), &["--check-timeout", timeout]),
        registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let checks = report
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.verdict))
        .collect();
    (summary, checks)
}

#[tokio::test]
async fn an_idle_check_runs_alongside_the_later_ones_and_keeps_its_place_in_the_report() {
    let (summary, checks) = run(&registry(&[Need::Idle]), "3s").await;
    assert_eq!((summary.total, summary.pass), (2, 2));
    let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["fibric/wire/waits", "fibric/wire/gives"]);

    // Without `Idle`, checks run one after another: the first waits in vain.
    let (summary, checks) = run(&registry(&[]), "1s").await;
    assert_eq!(summary.pass, 1);
    assert_eq!(checks[0].1, Verdict::Error);
}

#[tokio::test]
async fn a_check_that_reads_the_run_s_transcripts_runs_after_the_others_in_its_place() {
    let audited = |needs: &'static [Need]| -> Vec<Box<dyn Check>> {
        let ran = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&ran);
        vec![
            // Fails unless the check after it in the catalogue ran first.
            Box::new(Now {
                meta: meta("fibric/wire/audits", needs),
                body: Box::new(move || {
                    if seen.load(Ordering::SeqCst) {
                        Vec::new()
                    } else {
                        vec![Finding::new("early", "ran before the check it audits")]
                    }
                }),
            }),
            Box::new(Now {
                meta: meta("fibric/wire/runs", &[]),
                body: Box::new(move || {
                    ran.store(true, Ordering::SeqCst);
                    Vec::new()
                }),
            }),
        ]
    };
    let (summary, checks) = run(&audited(&[Need::Transcripts]), "3s").await;
    assert_eq!((summary.total, summary.pass), (2, 2));
    let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["fibric/wire/audits", "fibric/wire/runs"]);

    // Without `Transcripts`, it runs in its catalogue place, first, and fails.
    let (summary, _) = run(&audited(&[]), "3s").await;
    assert_eq!(summary.fail, 1);
}
