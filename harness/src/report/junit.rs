//! JUnit XML: one test suite per API, one test case per check, for CI systems that show test results.
//!
//! The output validates against the Jenkins JUnit schema (`junit-4.xsd`), the
//! one CI systems read; `harness/tests/it/junit.rs` checks that with xmllint.
//! (The older Apache Ant schema has no notion of a skipped test at all.)
//!
//! Verdicts map as CI users expect: `fail` is a failure, `error` an error,
//! `skip` skipped. A `non-strict` check (a SHOULD or MAY not met) passes with
//! the findings in its system-out, unless the run was `--strict` and the
//! level is SHOULD, in which case it is a failure, as it failed the run.
//!
//! With `--expect`, a failure that was expected is skipped, its message
//! `expected fail: WHY`, so the dashboard stays green and the deviation stays
//! in sight; a listed check whose verdict was not expected (a stale entry
//! too) is a failure that says what was expected. The Jenkins schema gives
//! `<skipped>` no attributes, so the message is its text.

use std::fmt::Write;

use scenarios::{Level, Verdict};

use super::model::{CheckReport, Report};

/// Escapes text for XML, dropping the characters XML 1.0 cannot carry at all
/// (a hostile server's bytes can end up in a finding).
pub(crate) fn escape(text: &str) -> String {
    let allowed: String = text
        .chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect();
    super::html::escape(&allowed)
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn findings_text(check: &CheckReport) -> String {
    let mut text = String::new();
    for finding in &check.findings {
        let _ = writeln!(text, "{}: {}", finding.kind, finding.message);
        if let Some(evidence) = &finding.evidence {
            let _ = writeln!(text, "  evidence: {evidence}");
        }
    }
    let _ = write!(text, "spec: {}\nreplay: {}\n", check.spec, check.replay);
    text
}

fn first_message(check: &CheckReport) -> String {
    check
        .findings
        .iter()
        .find(|f| !f.informational)
        .map(|f| format!("{}: {}", f.kind, f.message))
        .unwrap_or_default()
}

/// How one check shows in JUnit.
enum Shown {
    Passed,
    Failed,
    Errored,
    Skipped,
    /// A verdict that would fail the run, but `--expect` expected it.
    ExpectedFail,
    /// A verdict `--expect` did not expect.
    Unmet,
}

fn shown(check: &CheckReport, strict: bool) -> Shown {
    if check.verdict != Verdict::Error {
        if check.unmet().is_some() {
            return Shown::Unmet;
        }
        if check.failed_as_expected(strict) {
            return Shown::ExpectedFail;
        }
    }
    match check.verdict {
        Verdict::Pass => Shown::Passed,
        Verdict::NonStrict if strict && check.level == Level::Should => Shown::Failed,
        Verdict::NonStrict => Shown::Passed,
        Verdict::Fail => Shown::Failed,
        Verdict::Error => Shown::Errored,
        Verdict::Skip => Shown::Skipped,
    }
}

fn failed(shown: &Shown) -> bool {
    matches!(shown, Shown::Failed | Shown::Unmet)
}

pub fn render(report: &Report) -> anyhow::Result<String> {
    let strict = report.options.strict;
    let count = |checks: &[&CheckReport], which: fn(&Shown) -> bool| {
        checks.iter().filter(|c| which(&shown(c, strict))).count()
    };
    let all: Vec<&CheckReport> = report.checks.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        escape(&format!("harness check {}", report.run_id)),
        all.len(),
        count(&all, failed),
        count(&all, |s| matches!(s, Shown::Errored)),
        seconds(report.duration_ms)
    );
    for api in &report.options.apis {
        let checks: Vec<&CheckReport> = report.checks_of(*api).collect();
        let time: u64 = checks.iter().map(|c| c.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
            api.name(),
            checks.len(),
            count(&checks, failed),
            count(&checks, |s| matches!(s, Shown::Errored)),
            count(&checks, |s| matches!(
                s,
                Shown::Skipped | Shown::ExpectedFail
            )),
            seconds(time),
            escape(
                report
                    .started_at
                    .trim_end_matches('Z')
                    .split('.')
                    .next()
                    .unwrap_or("")
            )
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"target\" value=\"{}\"/>\n      <property name=\"seed\" value=\"{}\"/>\n    </properties>",
            escape(&report.target.url),
            report.options.seed
        );
        for check in checks {
            test_case(&mut out, check, strict);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    Ok(out)
}

fn test_case(out: &mut String, check: &CheckReport, strict: bool) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}/{}\" time=\"{}\">",
        escape(&check.id),
        check.api.name(),
        escape(&check.area),
        seconds(check.duration_ms)
    );
    match shown(check, strict) {
        Shown::Passed => {}
        Shown::Skipped => {
            let _ = write!(
                out,
                "\n      <skipped>{}</skipped>",
                escape(check.skip_reason.as_deref().unwrap_or(""))
            );
        }
        Shown::Errored => {
            let message = check.error.as_deref().unwrap_or("");
            let _ = write!(
                out,
                "\n      <error message=\"{}\">{}</error>",
                escape(message),
                escape(message)
            );
        }
        Shown::Failed => {
            let _ = write!(
                out,
                "\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(&first_message(check)),
                check.level,
                escape(&findings_text(check))
            );
        }
        Shown::ExpectedFail => {
            let why = check.expected.as_ref().map_or("", |e| e.why.as_str());
            let _ = write!(
                out,
                "\n      <skipped>{}</skipped>",
                escape(&format!("expected {}: {why}", check.verdict))
            );
        }
        Shown::Unmet => {
            let (message, why) = check.unmet().map_or_else(Default::default, |e| {
                (e.unmet_message(check.verdict), e.why.clone())
            });
            let _ = write!(
                out,
                "\n      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                escape(&message),
                escape(&format!("{message}\nwhy: {why}\n{}", findings_text(check)))
            );
        }
    }
    if check.verdict == Verdict::NonStrict {
        let _ = write!(
            out,
            "\n      <system-out>{}</system-out>",
            escape(&format!(
                "{} not met (non-strict):\n{}",
                check.level,
                findings_text(check)
            ))
        );
    }
    out.push_str("\n    </testcase>\n");
}
