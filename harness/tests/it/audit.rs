//! The run's audit: `pulse/openapi/responses` holds every answer the other Pulse checks record to the seed's OpenAPI, not only its own.

use harness::check::execute;
use harness::report::model::Report;
use reference_server::defects::Defects;
use scenarios::Verdict;

use crate::support::config;

/// Under `resumed-as-text`, only resumed streams are wrong, and only other
/// checks resume (directly and through the fault proxy): the OpenAPI check
/// fails on what they recorded, naming them, while they themselves pass,
/// and its replay command runs the whole Pulse catalogue again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_check_fails_on_answers_only_other_checks_recorded() {
    let broken = harness::embedded::start(
        "control_test_token",
        Defects::parse(&["resumed-as-text"]).unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = broken.base_url();
    let args = [
        "--target",
        &url,
        "--api",
        "pulse",
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
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(failed, ["pulse/openapi/responses"], "{summary:?}");
    let check = report
        .checks
        .iter()
        .find(|c| c.id == "pulse/openapi/responses")
        .unwrap();
    let failing: Vec<&str> = check
        .findings
        .iter()
        .filter(|f| !f.informational)
        .map(|f| f.message.as_str())
        .collect();
    let by = |id: &str| {
        let prefix = format!("recorded by {id}: ");
        failing
            .iter()
            .any(|m| m.starts_with(&prefix) && m.contains("text/plain"))
    };
    assert!(by("pulse/streams/resume"), "{failing:#?}");
    assert!(
        by("pulse/streams/at-least-once-across-cuts"),
        "{failing:#?}"
    );
    assert!(
        failing.iter().all(|m| m.starts_with("recorded by ")),
        "{failing:#?}"
    );
    // Its own case alone would pass: the way to see it again runs the API.
    let again = format!(
        "harness check --api pulse --seed {} --target '{url}'",
        report.options.seed
    );
    assert_eq!(check.replay, again);
    broken.shutdown().await.unwrap();
}
