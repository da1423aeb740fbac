//! The run pipeline end to end: synthetic checks of every verdict through the runner, every reporter and the files.

use harness::check::{CheckError, execute, list};
use harness::report::model::{Report, TargetKind};
use harness::runner::check_seed;
use quick_xml::events::Event;
use scenarios::{Api, Level, Verdict};

use crate::support::{Behaviour, config, every_verdict, fake, schema_errors};

/// Counts JUnit elements by name.
fn junit_counts(xml: &str) -> std::collections::BTreeMap<String, usize> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut counts = std::collections::BTreeMap::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().into_inner().to_owned();
                *counts.entry(name).or_insert(0) += 1;
            }
            Event::Eof => return counts,
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_verdict_reaches_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[
            "--format", "junit", "--format", "markdown", "--format", "html",
        ],
    );
    let registry = every_verdict();
    let mut terminal = Vec::new();
    let summary = execute(&config, &registry, Some(&mut terminal))
        .await
        .unwrap();
    assert_eq!(
        (
            summary.total,
            summary.pass,
            summary.fail,
            summary.non_strict,
            summary.skip,
            summary.error
        ),
        (6, 1, 1, 1, 1, 2)
    );
    assert_eq!(summary.exit_code, 1, "a MUST failure fails the run");

    // report.json: valid against the schema, and says what happened.
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let errors = schema_errors(&raw);
    assert!(errors.is_empty(), "{errors:#?}");
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    assert_eq!(report.target.kind, TargetKind::Embedded);
    assert_eq!(report.options.seed, 7);
    let verdict = |id: &str| report.checks.iter().find(|c| c.id == id).unwrap();
    assert_eq!(verdict("fibric/cursor/resume").verdict, Verdict::Fail);
    assert_eq!(verdict("fibric/cursor/resume").findings[0].kind, "lost");
    assert_eq!(
        verdict("fibric/wire/keep-alive").verdict,
        Verdict::NonStrict
    );
    assert_eq!(
        verdict("pulse/lifecycle/create").skip_reason.as_deref(),
        Some("needs a producer; none was given")
    );
    assert!(
        verdict("pulse/lifecycle/delete")
            .error
            .as_deref()
            .unwrap()
            .contains("synthetic panic")
    );
    assert!(
        verdict("pulse/events/lookup")
            .error
            .as_deref()
            .unwrap()
            .contains("did not finish within 300ms")
    );
    assert_eq!(
        verdict("fibric/cursor/resume").replay,
        "harness check --checks 'fibric/cursor/resume' --seed 7"
    );

    // JUnit: one case per check; the MUST failure fails, panics and hangs are errors.
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let counts = junit_counts(&xml);
    assert_eq!(
        counts.get("testsuite"),
        Some(&5),
        "one suite per API: {counts:?}"
    );
    assert_eq!(counts.get("testcase"), Some(&6));
    assert_eq!(
        counts.get("failure"),
        Some(&1),
        "non-strict SHOULD is not a failure without --strict"
    );
    assert_eq!(counts.get("error"), Some(&2));
    assert_eq!(counts.get("skipped"), Some(&1));

    // Markdown: the headline, each problem with its replay command.
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.starts_with("# harness check: FAILED"), "{md}");
    assert!(md.contains("### `fibric/cursor/resume` (MUST)"), "{md}");
    assert!(md.contains("- **lost**: event 3 was published"), "{md}");
    assert!(
        md.contains("Replay: `harness check --checks 'fibric/cursor/resume' --seed 7`"),
        "{md}"
    );
    assert!(
        md.contains("| `pulse/lifecycle/create` | needs a producer; none was given |"),
        "{md}"
    );
    assert!(
        md.contains("| fauna (no checks in the catalogue yet) | 0 |"),
        "{md}"
    );

    // HTML: self-contained, escaped, with links to the detail of each problem.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(!html.contains("<script"), "hostile text must be escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for external in ["src=", "<link", "url(", "@import", "<script"] {
        assert!(
            !html.contains(external),
            "{external} would fetch or run something"
        );
    }
    assert!(html.contains("href=\"#check-fibric--cursor--resume\""));
    assert!(html.contains("id=\"check-fibric--cursor--resume\""));
    assert!(html.contains("&quot;delivered&quot;"), "evidence is shown");

    // The terminal: each problem with its first finding and replay line, then the result.
    let text = String::from_utf8(terminal).unwrap();
    assert!(
        text.contains("FAIL       fibric/cursor/resume (MUST)"),
        "{text}"
    );
    assert!(
        text.contains("replay: harness check --checks 'fibric/cursor/resume' --seed 7"),
        "{text}"
    );
    assert!(
        text.contains("result: 1 of 6 checks failed the run (exit 1)"),
        "{text}"
    );
    assert!(
        text.contains("fauna    no checks in the catalogue yet"),
        "{text}"
    );
}

#[tokio::test]
async fn strict_makes_a_should_fail_the_run_but_never_a_may() {
    let registry = vec![
        fake("fibric/wire/a", Api::Fibric, Level::Must, Behaviour::Pass),
        fake(
            "fibric/wire/b",
            Api::Fibric,
            Level::Should,
            Behaviour::Find(vec![scenarios::Finding::new("x", "y")]),
        ),
        fake(
            "fibric/wire/c",
            Api::Fibric,
            Level::May,
            Behaviour::Find(vec![scenarios::Finding::new("x", "y")]),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let lenient = execute(&config(dir.path(), &[]), &registry, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(lenient.exit_code, 0);
    let strict_config = config(dir.path(), &["--strict", "--format", "junit"]);
    let strict = execute(&strict_config, &registry, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(strict.exit_code, 1);
    let counts = junit_counts(&std::fs::read_to_string(dir.path().join("junit.xml")).unwrap());
    assert_eq!(
        counts.get("failure"),
        Some(&1),
        "only the SHOULD fails under --strict"
    );
}

#[tokio::test]
async fn harness_errors_without_failures_exit_3_and_all_passes_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let broken = vec![
        fake("fauna/wire/a", Api::Fauna, Level::Must, Behaviour::Pass),
        fake("fauna/wire/b", Api::Fauna, Level::Must, Behaviour::Panic),
    ];
    let summary = execute(&config(dir.path(), &[]), &broken, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(summary.exit_code, 3);
    let fine = vec![fake(
        "fauna/wire/a",
        Api::Fauna,
        Level::Must,
        Behaviour::Pass,
    )];
    let summary = execute(&config(dir.path(), &[]), &fine, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(summary.exit_code, 0);
}

#[tokio::test]
async fn apis_and_globs_select_checks_and_a_glob_matching_nothing_is_a_usage_error() {
    let registry = every_verdict();
    let dir = tempfile::tempdir().unwrap();
    let ids = |extra: &[&str]| -> Vec<String> {
        let config = config(dir.path(), extra);
        config
            .select(&registry)
            .iter()
            .map(|c| c.meta().id.to_owned())
            .collect()
    };
    assert_eq!(ids(&["--api", "pulse"]).len(), 3);
    assert_eq!(
        ids(&["--checks", "fibric/wire/*"]),
        ["fibric/wire/content-type", "fibric/wire/keep-alive"]
    );
    assert_eq!(
        ids(&["--checks", "*/lifecycle/*", "--api", "fibric"]),
        Vec::<String>::new()
    );
    let nothing = config(dir.path(), &["--checks", "atproto/*"]);
    let error = execute(&nothing, &registry, Some(&mut Vec::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CheckError::Usage(ref m) if m.contains("atproto/*")),
        "{error}"
    );

    let mut out = Vec::new();
    list(
        &config(dir.path(), &["--api", "fibric"]),
        &registry,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].starts_with("fibric/cursor/resume  MUST  "),
        "{text}"
    );
}

#[tokio::test]
async fn each_check_gets_a_seed_derived_from_the_run_seed_and_its_id() {
    let id = "actyx/query/bounds";
    let registry = vec![fake(
        id,
        Api::Actyx,
        Level::Must,
        Behaviour::PassIfSeed(check_seed(7, id)),
    )];
    let dir = tempfile::tempdir().unwrap();
    let same = execute(&config(dir.path(), &[]), &registry, Some(&mut Vec::new()))
        .await
        .unwrap();
    assert_eq!(same.pass, 1);
    let other = execute(
        &config(dir.path(), &["--seed", "8"]),
        &registry,
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    assert_eq!(other.fail, 1);
    assert_ne!(check_seed(7, id), check_seed(7, "actyx/query/order"));
}

#[tokio::test]
async fn report_render_writes_the_same_files_from_the_saved_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[
            "--format", "html", "--format", "markdown", "--format", "junit",
        ],
    );
    execute(&config, &every_verdict(), Some(&mut Vec::new()))
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = crate::support::binary()
        .args(["report", "render"])
        .arg(dir.path().join("report.json"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().lines().count(),
        3,
        "one line per file written"
    );
    for file in ["report.html", "report.md", "junit.xml"] {
        let original = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let rendered = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert_eq!(
            original, rendered,
            "{file} differs after a round trip through report.json"
        );
    }
}
