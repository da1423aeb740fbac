//! The CLI contract through the real binary: exit codes, messages, files.

use std::process::Output;

use crate::support::{binary, schema_errors};

fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("run harness")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_against_the_embedded_server_writes_every_requested_report() {
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("out");
    let output = run(&[
        "check",
        "--report-dir",
        report_dir.to_str().unwrap(),
        "--format",
        "junit",
        "--format",
        "markdown",
        "--format",
        "html",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("(embedded reference server)"), "{stdout}");
    assert!(stdout.contains("result:"), "{stdout}");
    for file in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(report_dir.join(file).is_file(), "{file} was not written");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert!(schema_errors(&report).is_empty());
    assert_eq!(report["target"]["kind"], "embedded");
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["check", "--api", "kafka"],
            "fibric, pulse, fauna, actyx, atproto",
        ),
        (
            &["check", "--target", "localhost:8787"],
            "not an http:// or https:// URL",
        ),
        (&["check", "--checks", "nope/*"], "matches nope/*"),
        (&["check", "--checks", "a[b"], "is not a glob"),
        (&["check", "--cases", "0"], "--cases"),
        (&["check", "--plc-url", "plc.directory"], "--plc-url"),
        (&["check", "--format", "pdf"], "unknown format"),
        (&["check", "--check-timeout", "soon"], "not a duration"),
        (&["check", "--rules"], "--list"),
        (
            &["report", "render", "/nonexistent/report.json"],
            "cannot read",
        ),
        (&["frobnicate"], "frobnicate"),
        // The credential flags are one set, read alike by check, replay and load.
        (
            &["check", "--fibric-key", "ka=ta"],
            "give --fibric-key twice",
        ),
        (
            &[
                "replay",
                "/nonexistent/report.json",
                "--fibric-key",
                "ka=ta",
            ],
            "give --fibric-key twice",
        ),
        (
            &["load", "--api", "fibric", "--rate", "1", "--duration", "1s"],
            "--subscribers",
        ),
        (
            &[
                "load",
                "--api",
                "fibric",
                "--rate",
                "1",
                "--duration",
                "1s",
                "--subscribers",
                "1",
                "--fibric-key",
                "nokey",
            ],
            "not KEY=TENANT",
        ),
        (
            &[
                "load",
                "--api",
                "fibric",
                "--subscribers",
                "1",
                "--rate",
                "1",
                "--duration",
                "1s",
                "--remote-write",
                "prometheus:9090/api/v1/write",
            ],
            "--remote-write",
        ),
        (
            &[
                "load",
                "--api",
                "fibric",
                "--subscribers",
                "1",
                "--rate",
                "1",
                "--duration",
                "1s",
                "--run-id",
                "two words",
            ],
            "is not a run id",
        ),
    ];
    for (args, message) in cases {
        let output = run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn an_unreachable_target_exits_3() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(&["check", "--target", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("could not be reached"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_documents_the_exit_codes_and_every_check_flag() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Exit codes: 0"), "{text}");
    let output = run(&["check", "--help"]);
    let text = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--api",
        "--target",
        "--checks",
        "--seed",
        "--cases",
        "--strict",
        "--report-dir",
        "--format",
        "--list",
    ] {
        assert!(text.contains(flag), "check --help lacks {flag}");
    }
}

#[test]
fn check_list_prints_the_selected_checks_and_runs_nothing() {
    let output = run(&["check", "--list", "--api", "fibric"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let catalogue: Vec<_> = scenarios::catalogue::for_api(scenarios::Api::Fibric).collect();
    assert_eq!(stdout.lines().count(), catalogue.len(), "{stdout}");
    if catalogue.is_empty() {
        assert!(
            stderr(&output).contains("no checks for fibric yet"),
            "{}",
            stderr(&output)
        );
    }
}

/// `--list --rules`: per API, the testable rules checked against any target,
/// then the ids of those that are not, as `scenarios::rules` counts them.
#[test]
fn check_list_rules_prints_each_apis_coverage_and_its_unchecked_rules() {
    let output = run(&[
        "check", "--list", "--rules", "--api", "pulse", "--api", "fauna",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut expected = String::new();
    for api in [scenarios::Api::Pulse, scenarios::Api::Fauna] {
        let coverage = scenarios::rules::coverage(api);
        assert!(coverage.testable > 0);
        expected.push_str(&format!(
            "{api}: {} of {} testable rules checked against any target ({:.0} %)\n",
            coverage.checked,
            coverage.testable,
            coverage.percent()
        ));
        for rule in &coverage.unchecked {
            expected.push_str(&format!("  {}\n", rule.id));
        }
    }
    assert_eq!(stdout, expected);
}

/// `--shard auto` reads this process's environment: without a scheduler's
/// variables it names every one it reads; a bad pair is named, before anything runs.
#[test]
fn load_shard_auto_reads_the_schedulers_environment() {
    const SCHEDULER: [&str; 10] = [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "HARNESS_SHARD_COUNT",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "PMI_RANK",
        "PMI_SIZE",
    ];
    let load = |vars: &[(&str, &str)]| {
        let mut command = binary();
        command.args(["load", "--api", "fibric", "--rate", "1", "--duration", "1s"]);
        command.args(["--subscribers", "1", "--shard", "auto"]);
        for name in SCHEDULER {
            command.env_remove(name);
        }
        command.envs(vars.iter().copied());
        command.output().unwrap()
    };
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Vars, &[&str]); 4] = [
        (&[], &SCHEDULER[..2]),
        (&[], &["JOB_COMPLETION_INDEX", "PMI_SIZE", "--shard i/N"]),
        (
            &[("SLURM_ARRAY_TASK_ID", "0")],
            &["SLURM_ARRAY_TASK_COUNT is not"],
        ),
        (
            &[("JOB_COMPLETION_INDEX", "3"), ("HARNESS_SHARD_COUNT", "3")],
            &["not one of 0 to 2"],
        ),
    ];
    for (vars, said) in cases {
        let output = load(vars);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{vars:?}: {}",
            stderr(&output)
        );
        for words in said {
            assert!(
                stderr(&output).contains(words),
                "{vars:?}: {}",
                stderr(&output)
            );
        }
    }
}
