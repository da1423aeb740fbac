//! Helpers the `harness load` tests share: a run in this process, and a proxy that adds latency.

use std::path::Path;

use clap::Parser;
use harness::Exit;
use harness::cli::{Cli, Command};
use harness::load;
use harness::load::report::{LoadReport, schema_errors};
use harness::proxy::framing::Framing;
use harness::proxy::schedule::Schedule;
use harness::proxy::{FaultLog, Proxy, start};
use harness::record::Recorder;
use serde_json::Value;

/// Runs `harness load ARGS --report-dir DIR` in this process: its exit, and
/// its `load.json` if it wrote one (which must validate against the schema).
pub async fn try_load_run(dir: &Path, args: &[&str]) -> (Exit, Option<Value>) {
    let mut argv = vec!["harness", "load", "--report-dir", dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let Command::Load(args) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let exit = load::command(&args).await;
    let load = std::fs::read_to_string(dir.join("load.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    // Every report a test run writes keeps the contract, and reads back as it was written.
    if let Some(load) = &load {
        let errors = schema_errors(load);
        assert!(
            errors.is_empty(),
            "{args:?}: load.json breaks its schema: {errors:#?}"
        );
        let typed = LoadReport::read(dir).unwrap();
        assert_eq!(&serde_json::to_value(&typed).unwrap(), load);
    }
    (exit, load)
}

/// [`try_load_run`] for a run that must write its report.
pub async fn load_run(dir: &Path, args: &[&str]) -> (Exit, Value) {
    let (exit, load) = try_load_run(dir, args).await;
    (
        exit,
        load.unwrap_or_else(|| panic!("{args:?} wrote no load.json ({exit:?})")),
    )
}

/// `harness proxy` in front of `upstream` (host:port), adding `schedule`'s faults (say `all: latency 20ms`).
pub async fn proxy(upstream: String, schedule: &str) -> Proxy {
    start(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        Schedule::parse(schedule).unwrap(),
        Framing::Sse,
        FaultLog::Recorder(Recorder::new()),
    )
    .await
    .unwrap()
}
