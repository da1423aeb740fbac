//! The whole catalogue against a reference server taken for any other server: every check runs through the API and the sample producer, and only those that need the control API skip.

use std::path::PathBuf;

use harness::check::execute;
use harness::report::model::{Report, TargetKind};
use reference_server::defects::Defects;
use scenarios::Verdict;

use crate::support::config;

/// What a user with a producer for each write the APIs lack gets: a pass for
/// every check but those whose metadata needs a reference server, which skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_runs_against_any_target_through_the_sample_producer() {
    let server = harness::embedded::start("control_test_token", Defects::none())
        .await
        .unwrap();
    let url = server.base_url();
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/producer/reference-server.py");
    let producer = format!(
        "{} {} {url}",
        testenv::program("python3").display(),
        sample.display()
    );
    let dir = tempfile::tempdir().unwrap();
    // A wrong control token makes the reference server look like any other
    // server; the producer publishes with the right one, as a user's would
    // through their own write path.
    let args = [
        "--target",
        url.as_str(),
        "--control-token",
        "not-the-token",
        "--producer",
        producer.as_str(),
        "--check-timeout",
        "120s",
    ];
    let summary = execute(
        &config(dir.path(), &args),
        &harness::checks::registry(),
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    assert_eq!(report.target.kind, TargetKind::Other);
    let mut wrong = Vec::new();
    for check in &report.checks {
        let meta = scenarios::catalogue::find(&check.id).unwrap();
        let expected = if meta.runs_anywhere() {
            Verdict::Pass
        } else {
            Verdict::Skip
        };
        if check.verdict != expected {
            wrong.push(format!(
                "{} {} (expected {expected}): {:?} {:?} {:?}",
                check.id, check.verdict, check.findings, check.skip_reason, check.error
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(summary.total, scenarios::catalogue::all().count());
}
