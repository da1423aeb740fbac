//! JUnit XML: one test suite per API, one test case per check, for CI systems that show test results.
//!
//! Verdicts map as CI users expect: `fail` is a failure, `error` an error,
//! `skip` skipped. A `non-strict` check (a SHOULD or MAY not met) passes with
//! the findings in its system-out, unless the run was `--strict` and the
//! level is SHOULD, in which case it is a failure, as it failed the run.

use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report as JunitReport, TestCase, TestCaseStatus, TestSuite,
};
use scenarios::{Level, Verdict};

use super::model::{CheckReport, Report};

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut junit = JunitReport::new(format!("harness check {}", report.run_id));
    junit.set_time(Duration::from_millis(report.duration_ms));
    for api in &report.options.apis {
        let mut suite = TestSuite::new(api.name());
        suite.add_property(Property::new("target", report.target.url.as_str()));
        suite.add_property(Property::new("seed", report.options.seed.to_string()));
        for check in report.checks_of(*api) {
            suite.add_test_case(test_case(check, report.options.strict));
        }
        junit.add_test_suite(suite);
    }
    Ok(junit.to_string()?)
}

fn findings_text(check: &CheckReport) -> String {
    let mut text = String::new();
    for finding in &check.findings {
        text.push_str(&format!("{}: {}\n", finding.kind, finding.message));
        if let Some(evidence) = &finding.evidence {
            text.push_str(&format!("  evidence: {evidence}\n"));
        }
    }
    text.push_str(&format!("spec: {}\nreplay: {}\n", check.spec, check.replay));
    text
}

fn first_message(check: &CheckReport) -> String {
    check
        .findings
        .first()
        .map(|f| format!("{}: {}", f.kind, f.message))
        .unwrap_or_default()
}

fn test_case(check: &CheckReport, strict: bool) -> TestCase {
    let status = match check.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::NonStrict if !(strict && check.level == Level::Should) => {
            TestCaseStatus::success()
        }
        Verdict::Fail | Verdict::NonStrict => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(first_message(check))
                .set_type(check.level.name())
                .set_description(findings_text(check));
            status
        }
        Verdict::Error => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(check.error.clone().unwrap_or_default());
            status
        }
        Verdict::Skip => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(check.skip_reason.clone().unwrap_or_default());
            status
        }
    };
    let mut case = TestCase::new(check.id.as_str(), status);
    case.set_classname(format!("{}/{}", check.api.name(), check.area));
    case.set_time(Duration::from_millis(check.duration_ms));
    if check.verdict == Verdict::NonStrict {
        case.set_system_out(format!(
            "{} not met (non-strict):\n{}",
            check.level,
            findings_text(check)
        ));
    }
    case
}
