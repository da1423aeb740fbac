//! Synthetic checks that produce every verdict, and helpers to run them through the real pipeline.

use std::path::Path;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use harness::check::CheckConfig;
use harness::cli::{CheckArgs, Cli, Command};
use harness::runner::{Check, CheckContext, Outcome};
use scenarios::{Api, CheckMeta, Finding, Level};

/// What a synthetic check does when run.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Pass,
    Find(Vec<Finding>),
    Skip(&'static str),
    Panic,
    Hang,
    /// Passes only when its seed is the one given: proves the seed reaches the check.
    PassIfSeed(u64),
}

pub struct FakeCheck {
    pub meta: &'static CheckMeta,
    pub behaviour: Behaviour,
}

impl Check for FakeCheck {
    fn meta(&self) -> &'static CheckMeta {
        self.meta
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        async move {
            let ran = |findings: Vec<Finding>| Outcome::Ran {
                findings,
                case: None,
            };
            match &self.behaviour {
                Behaviour::Pass => ran(Vec::new()),
                Behaviour::Find(findings) => ran(findings.clone()),
                Behaviour::Skip(reason) => Outcome::Skipped((*reason).to_owned()),
                Behaviour::Panic => panic!("synthetic panic"),
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    ran(Vec::new())
                }
                Behaviour::PassIfSeed(seed) if ctx.seed == *seed => ran(Vec::new()),
                Behaviour::PassIfSeed(_) => ran(vec![Finding::new(
                    "seed",
                    format!("ran with seed {}", ctx.seed),
                )]),
            }
        }
        .boxed()
    }

    fn replay<'a>(
        &'a self,
        ctx: &'a CheckContext,
        _plan: serde_json::Value,
    ) -> BoxFuture<'a, Outcome> {
        self.run(ctx)
    }
}

pub fn meta(id: &'static str, api: Api, level: Level, title: &'static str) -> &'static CheckMeta {
    Box::leak(Box::new(CheckMeta {
        id,
        api,
        level,
        title,
        spec: "seed 004, section Stream",
        needs: &[],
        killed_by: &["resume-off-by-one"],
        rules: &[],
    }))
}

pub fn fake(id: &'static str, api: Api, level: Level, behaviour: Behaviour) -> Box<dyn Check> {
    Box::new(FakeCheck {
        meta: meta(id, api, level, "a synthetic check <with> \"markup\" & such"),
        behaviour,
    })
}

/// One check of every verdict, over two APIs.
pub fn every_verdict() -> Vec<Box<dyn Check>> {
    let lost = Finding::new(
        "lost",
        "event 3 was published and never delivered <script>alert(1)</script>",
    )
    .with_evidence(serde_json::json!({"published": [1, 2, 3], "delivered": [1, 2]}));
    vec![
        fake(
            "fibric/wire/content-type",
            Api::Fibric,
            Level::Must,
            Behaviour::Pass,
        ),
        fake(
            "fibric/cursor/resume",
            Api::Fibric,
            Level::Must,
            Behaviour::Find(vec![lost]),
        ),
        fake(
            "fibric/wire/keep-alive",
            Api::Fibric,
            Level::Should,
            Behaviour::Find(vec![Finding::new(
                "no-keepalive",
                "no comment frame in 30 s of silence",
            )]),
        ),
        fake(
            "pulse/lifecycle/create",
            Api::Pulse,
            Level::Must,
            Behaviour::Skip("needs a producer; none was given"),
        ),
        fake(
            "pulse/lifecycle/delete",
            Api::Pulse,
            Level::Must,
            Behaviour::Panic,
        ),
        fake(
            "pulse/events/lookup",
            Api::Pulse,
            Level::May,
            Behaviour::Hang,
        ),
    ]
}

/// Parses `harness check ARGS…` the way the binary does.
pub fn check_args(args: &[&str]) -> CheckArgs {
    let argv = ["harness", "check"].iter().chain(args.iter());
    let cli = <Cli as clap::Parser>::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
    match cli.command {
        Command::Check(args) => *args,
        other => panic!("not a check command: {other:?}"),
    }
}

pub fn config(report_dir: &Path, extra: &[&str]) -> CheckConfig {
    let dir = report_dir.to_str().unwrap();
    // Short by default, for the synthetic hanging check; real checks pass their own.
    let mut args = vec!["--report-dir", dir];
    if !extra.contains(&"--check-timeout") {
        args.extend_from_slice(&["--check-timeout", "300ms"]);
    }
    if !extra.contains(&"--seed") {
        args.extend_from_slice(&["--seed", "7"]);
    }
    args.extend_from_slice(extra);
    CheckConfig::from_args(&check_args(&args)).unwrap()
}

pub fn binary() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
}

/// The project's `reports/schema/report.v1.schema.json`.
pub fn schema() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/report.v1.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Schema violations of `report`, as messages; empty when it is valid.
pub fn schema_errors(report: &serde_json::Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
