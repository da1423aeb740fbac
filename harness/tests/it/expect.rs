//! `harness check --expect FILE`: a known deviation keeps the run green and stays in every report; a stale or broken entry does not.

use std::path::Path;
use std::process::Output;

use harness::check::execute;
use harness::report::model::Report;
use reference_server::defects::Defects;
use scenarios::{Api, Level, Verdict};

use crate::support::{Behaviour, binary, config, fake, schema_errors};

/// A cheap check, and the defect that makes the reference server break it
/// (the real Actyx node's own deviation).
const CHECK: &str = "actyx/offsets/cache-control";
const DEFECT: &str = "offsets-no-cache";
const WHY: &str = "seed 003 says no-store; the server sends no-cache";

fn expect_file(dir: &Path, text: &str) -> String {
    let path = dir.join("expected.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn entry(check: &str, verdict: &str) -> String {
    format!("[[expect]]\ncheck = {check:?}\nverdict = {verdict}\nwhy = {WHY:?}\n")
}

/// Runs `harness check` on the one check against `target` (the embedded clean
/// server when `None`), writing every format into `dir/out`.
async fn check(dir: &Path, target: Option<&str>, expect: Option<&str>) -> Output {
    let out = dir.join("out");
    let mut args = vec![
        "check".to_owned(),
        "--api".into(),
        "actyx".into(),
        "--checks".into(),
        CHECK.into(),
        "--seed".into(),
        "7".into(),
        "--report-dir".into(),
        out.to_str().unwrap().into(),
    ];
    for format in ["junit", "markdown", "html"] {
        args.extend(["--format".to_owned(), format.to_owned()]);
    }
    if let Some(url) = target {
        args.extend(["--target".to_owned(), url.to_owned()]);
    }
    if let Some(file) = expect {
        args.extend(["--expect".to_owned(), file.to_owned()]);
    }
    tokio::task::spawn_blocking(move || binary().args(&args).output().expect("run harness"))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(file)).unwrap()
}

/// report.json: the verdict as it is, the entry beside it, and a schema that holds both.
fn report_json_keeps_the_verdict_with_its_entry(dir: &Path) {
    let json: serde_json::Value = serde_json::from_str(&read(dir, "report.json")).unwrap();
    assert!(
        schema_errors(&json).is_empty(),
        "{:?}",
        schema_errors(&json)
    );
    for (key, wrong) in [
        ("verdicts", serde_json::json!(["error"])),
        ("verdicts", serde_json::json!([])),
        ("why", serde_json::json!("")),
        ("met", serde_json::json!("yes")),
    ] {
        let mut broken = json.clone();
        broken["checks"][0]["expected"][key] = wrong.clone();
        assert!(
            !schema_errors(&broken).is_empty(),
            "the schema took {key}: {wrong}"
        );
    }
    let report = Report::read(&dir.join("out/report.json")).unwrap();
    let checked = &report.checks[0];
    assert_eq!(
        checked.verdict,
        Verdict::Fail,
        "the verdict is never hidden"
    );
    let expected = checked
        .expected
        .as_ref()
        .expect("the entry is in the report");
    assert_eq!(
        (&expected.verdicts[..], expected.why.as_str(), expected.met),
        (&[Verdict::Fail][..], WHY, true)
    );
    assert_eq!(
        (
            report.summary.fail,
            report.summary.expected_fail,
            report.summary.exit_code
        ),
        (1, 1, 0)
    );
}

/// Markdown, JUnit and HTML say the failure was expected, and why; `report render` agrees.
fn formats_show_it_as_expected(dir: &Path) {
    let markdown = read(dir, "report.md");
    assert!(
        markdown.starts_with("# harness check: PASSED (1 failed (1 as expected)"),
        "{markdown}"
    );
    assert!(markdown.contains("## Failed as expected"), "{markdown}");
    assert!(!markdown.contains("## Failed\n"), "{markdown}");
    assert!(
        markdown.contains(&format!("fail (expected: fail); why: {WHY}")),
        "{markdown}"
    );
    let junit = read(dir, "junit.xml");
    assert!(
        junit.contains(&format!("<skipped>expected fail: {WHY}</skipped>")),
        "{junit}"
    );
    assert!(junit.contains("failures=\"0\""), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let html = read(dir, "report.html");
    assert!(html.contains("(expected: fail)"), "{html}");

    // A saved report with an expectation renders again the same way.
    let rendered = dir.join("rendered");
    let output = binary()
        .args(["report", "render"])
        .arg(dir.join("out/report.json"))
        .arg("--out")
        .arg(&rendered)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(rendered.join("report.md")).unwrap(),
        markdown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expected_failure_keeps_the_run_green_and_stays_in_every_report() {
    let server = harness::embedded::start("control_test_token", Defects::parse(&[DEFECT]).unwrap())
        .await
        .unwrap();
    let url = server.base_url();

    let plain = tempfile::tempdir().unwrap();
    let output = check(plain.path(), Some(&url), None).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report = read(plain.path(), "report.json");
    assert!(
        !report.contains("\"expected"),
        "no new keys without --expect: {report}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = expect_file(dir.path(), &entry(CHECK, "\"fail\""));
    let output = check(dir.path(), Some(&url), Some(&file)).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("1 failed as expected"), "{stdout}");
    assert!(
        stdout.contains(&format!("fail as expected (why: {WHY})")),
        "{stdout}"
    );

    report_json_keeps_the_verdict_with_its_entry(dir.path());
    formats_show_it_as_expected(dir.path());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expected_failure_that_passes_is_a_stale_entry_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = expect_file(dir.path(), &entry(CHECK, "\"fail\""));
    let output = check(dir.path(), None, Some(&file)).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("expected fail, got pass: the expectation is stale"),
        "{stdout}"
    );
    let report = Report::read(&dir.path().join("out/report.json")).unwrap();
    let checked = &report.checks[0];
    assert_eq!(checked.verdict, Verdict::Pass);
    assert!(!checked.expected.as_ref().unwrap().met);
    assert_eq!(report.summary.expected_fail, 0);
    let markdown = read(dir.path(), "report.md");
    assert!(
        markdown.contains("errors of 1; 1 expectation not met)"),
        "{markdown}"
    );
    assert!(markdown.contains("## Expectations not met"), "{markdown}");
    assert!(markdown.contains("stale"), "{markdown}");
    let junit = read(dir.path(), "junit.xml");
    assert!(
        junit.contains("<failure message=\"expected fail, got pass: the expectation is stale"),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");
    let html = read(dir.path(), "report.html");
    assert!(html.contains("the expectation is stale"), "{html}");
}

#[test]
fn a_bad_expect_file_exits_2_naming_the_entry_and_runs_nothing() {
    let good = "verdict = \"fail\"\nwhy = \"w\"";
    let cases = [
        (
            format!("[[expect]]\ncheck = \"actyx/nope/none\"\n{good}\n"),
            "entry 1 (check = \"actyx/nope/none\"): no check of the catalogue",
        ),
        (entry(CHECK, "\"flaky\""), "unknown verdict \"flaky\""),
        (entry(CHECK, "\"error\""), "error cannot be expected"),
        (
            format!("[[expect]]\ncheck = {CHECK:?}\nverdict = \"fail\"\n"),
            "missing field `why`",
        ),
        (
            format!("[[expect]]\ncheck = {CHECK:?}\nverdict = \"fail\"\nwhy = \"\"\n"),
            "why is empty",
        ),
        ("[[expect]\ncheck = 1\n".to_owned(), "line 1:"),
        (
            entry(CHECK, "\"fail\"").repeat(2),
            "entry 2 (check = \"actyx/offsets/cache-control\"): the check is already listed in entry 1",
        ),
    ];
    for (contents, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = expect_file(dir.path(), &contents);
        let out = dir.path().join("out");
        let output = binary()
            .args([
                "check",
                "--report-dir",
                out.to_str().unwrap(),
                "--expect",
                &file,
            ])
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{contents}: {stderr}");
        assert!(stderr.contains(&format!("--expect {file}: ")), "{stderr}");
        assert!(stderr.contains(message), "{contents}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!out.exists(), "nothing ran: {contents}");
    }
    let output = binary()
        .args(["check", "--expect", "/nonexistent/expected.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("cannot read it"),
        "{}",
        text(&output.stderr)
    );
}

/// A listed check on which the harness broke meets no expectation, yet exits 3
/// as any harness error does; an unlisted failure still fails the run.
#[tokio::test]
async fn a_harness_error_is_never_expected_and_unlisted_checks_behave_as_before() {
    let listed = |behaviour| vec![fake(CHECK, Api::Actyx, Level::Must, behaviour)];
    let dir = tempfile::tempdir().unwrap();
    let file = expect_file(dir.path(), &entry(CHECK, "[\"fail\", \"pass\"]"));
    let run = |checks: Vec<Box<dyn harness::runner::Check>>, expect: bool| {
        let dir = dir.path().to_owned();
        let file = file.clone();
        async move {
            let mut extra = vec![];
            if expect {
                extra.extend(["--expect", file.as_str()]);
            }
            execute(
                &config(&dir.join("out"), &extra),
                &checks,
                Some(&mut Vec::new()),
            )
            .await
            .unwrap()
        }
    };
    let broke = run(listed(Behaviour::Panic), true).await;
    assert_eq!((broke.error, broke.exit_code), (1, 3));
    let report = Report::read(&dir.path().join("out/report.json")).unwrap();
    assert!(!report.checks[0].expected.as_ref().unwrap().met);

    let lost = scenarios::Finding::new("lost", "event 3 was never delivered");
    let found = run(listed(Behaviour::Find(vec![lost.clone()])), true).await;
    assert_eq!((found.expected_fail, found.exit_code), (1, 0));
    let passed = run(listed(Behaviour::Pass), true).await;
    assert_eq!(
        (passed.expected_fail, passed.exit_code),
        (0, 0),
        "pass is listed too"
    );
    let unlisted = vec![fake(
        "actyx/query/orders",
        Api::Actyx,
        Level::Must,
        Behaviour::Find(vec![lost]),
    )];
    let failed = run(unlisted, true).await;
    assert_eq!((failed.fail, failed.exit_code), (1, 1));
}
