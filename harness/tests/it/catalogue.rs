//! The real catalogue: it passes against the clean reference server, every check fails under the defects it names, and a failure replays.

use harness::check::execute;
use harness::report::model::Report;
use reference_server::defects::Defects;
use scenarios::Verdict;

use crate::support::{binary, check_args, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_passes_against_the_embedded_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let registry = harness::checks::registry();
    let started = std::time::Instant::now();
    let summary = execute(
        &config(dir.path(), &["--check-timeout", "120s", "--format", "html"]),
        &registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    eprintln!(
        "the catalogue ({} checks) took {:?}",
        summary.total,
        started.elapsed()
    );
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    let not_passed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| format!("{} {}: {:?} {:?}", c.id, c.verdict, c.findings, c.error))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert_eq!(summary.exit_code, 0);
    assert_eq!(summary.total, scenarios::catalogue::all().count());
}

/// `harness selftest`: every check passes clean and fails under each defect it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_proves_every_check_of_the_catalogue() {
    let args = check_args(&["--seed", "1"]);
    let config = harness::check::CheckConfig::from_args(&args).unwrap();
    let rows = harness::selftest::rows(&config).await.unwrap();
    let mut table = Vec::new();
    harness::selftest::print_table(&mut table, &rows).unwrap();
    let table = String::from_utf8(table).unwrap();
    eprintln!("{table}");
    assert_eq!(rows.len(), scenarios::catalogue::all().count());
    let unproven: Vec<&str> = rows.iter().filter(|r| !r.proven()).map(|r| r.id).collect();
    assert!(unproven.is_empty(), "not proven: {unproven:?}\n{table}");
}

/// A failure found against a defective server is saved with its minimal case, and
/// `harness replay` reproduces it there and passes it against a clean server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_replays_against_the_defective_server_and_passes_against_a_clean_one() {
    let broken = harness::embedded::start(
        "control_test_token",
        Defects::parse(&["resume-off-by-one"]).unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = broken.base_url();
    let summary = execute(
        &config(
            dir.path(),
            &[
                "--target",
                &url,
                "--checks",
                "fibric/resume/cursor",
                "--check-timeout",
                "120s",
            ],
        ),
        &harness::checks::registry(),
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    assert_eq!(summary.fail, 1);
    let report_file = dir.path().join("report.json");
    let report = Report::read(&report_file).unwrap();
    let check = &report.checks[0];
    let case = check.case.as_ref().expect("a minimal case");
    // Shrinking gets down to the smallest resume; the envelope after the resume
    // point then arrives late (resume-gap) or never (lost, unseen).
    let kinds = ["resume-gap", "lost", "unseen"];
    assert!(
        check
            .findings
            .iter()
            .any(|f| kinds.contains(&f.kind.as_str())),
        "{:?}",
        check.findings
    );
    assert!(
        case.plan["published"].as_u64().unwrap() <= 2,
        "{}",
        case.plan
    );
    assert!(
        check.replay.starts_with("harness replay "),
        "{}",
        check.replay
    );

    let replay = |target: String| {
        let report_file = report_file.clone();
        tokio::task::spawn_blocking(move || {
            binary()
                .arg("replay")
                .arg(&report_file)
                .args(["--target", &target])
                .output()
                .unwrap()
        })
    };
    let output = replay(url.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        kinds.iter().any(|k| stdout.contains(k)) && stdout.contains("sse-event"),
        "{stdout}"
    );

    let clean = harness::embedded::start("control_test_token", Defects::none())
        .await
        .unwrap();
    let output = replay(clean.base_url()).await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    broken.shutdown().await.unwrap();
    clean.shutdown().await.unwrap();
}

/// The AT Protocol checks resolve keys from `--plc-url` when given: the
/// target's own directory verifies every commit; a directory that does not
/// know the DID makes the relay check unable to pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atproto_checks_resolve_keys_from_the_plc_url() {
    let server = harness::embedded::start("control_test_token", Defects::none())
        .await
        .unwrap();
    let url = server.base_url();
    for (plc, passes) in [
        (format!("{url}/_plc"), true),
        (format!("{url}/nowhere"), false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "--target",
            &url,
            "--checks",
            "atproto/commit/*",
            "--plc-url",
            &plc,
        ];
        let summary = execute(
            &config(dir.path(), &args),
            &harness::checks::registry(),
            Some(&mut Vec::new()),
        )
        .await
        .unwrap();
        assert_eq!(summary.total, 1, "{plc}");
        assert_eq!(summary.pass == 1, passes, "{plc}: {summary:?}");
    }
}
