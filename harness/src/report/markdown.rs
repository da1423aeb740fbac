//! Markdown: a summary table and the details of every check that did not pass, fit for a CI job summary.

use scenarios::Verdict;

use super::model::{CheckReport, Report};
use super::short_duration;

/// The one-word result of a run, from its exit code.
pub fn headline(report: &Report) -> &'static str {
    match report.summary.exit_code {
        0 => "PASSED",
        1 => "FAILED",
        _ => "HARNESS ERROR",
    }
}

/// Makes text safe inside a Markdown table cell or inline code.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn code(text: &str) -> String {
    // A code span delimited by more backticks than it contains cannot break out.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!(
        "{fence}{pad}{}{pad}{fence}",
        text.replace(['\n', '\r'], " ")
    )
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let as_expected = if s.expected_fail > 0 {
        format!(" ({} as expected)", s.expected_fail)
    } else {
        String::new()
    };
    let not_met = match report.checks.iter().filter(|c| c.unmet().is_some()).count() {
        0 => String::new(),
        1 => "; 1 expectation not met".to_owned(),
        n => format!("; {n} expectations not met"),
    };
    let mut out = format!(
        "# harness check: {} ({} failed{as_expected}, {} passed, {} non-strict, {} skipped, {} errors of {}{not_met})\n\n",
        headline(report),
        s.fail,
        s.pass,
        s.non_strict,
        s.skip,
        s.error,
        s.total
    );
    out.push_str(&format!(
        "Target {} · run {} · seed {} · {} checks in {}\n\n",
        code(&report.target.describe()),
        code(&report.run_id),
        code(&report.options.seed.to_string()),
        s.total,
        short_duration(report.duration_ms)
    ));
    out.push_str("| API | checks | pass | fail | non-strict | skip | error |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (api, counts) in report.summary_by_api() {
        let note = if counts.total == 0 {
            " (no checks in the catalogue yet)"
        } else {
            ""
        };
        out.push_str(&format!(
            "| {api}{note} | {} | {} | {} | {} | {} | {} |\n",
            counts.total, counts.pass, counts.fail, counts.non_strict, counts.skip, counts.error
        ));
    }
    let strict = report.options.strict;
    unmet(&mut out, report);
    let surprising = |check: &CheckReport, verdict| {
        check.verdict == verdict && !check.failed_as_expected(strict)
    };
    section(&mut out, report, "Failed", |c| surprising(c, Verdict::Fail));
    section(&mut out, report, "Failed as expected", |c| {
        c.failed_as_expected(strict)
    });
    section(&mut out, report, "Not met (non-strict)", |c| {
        surprising(c, Verdict::NonStrict)
    });
    section(&mut out, report, "Harness errors", |c| {
        c.verdict == Verdict::Error
    });
    let skipped: Vec<&CheckReport> = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Skip)
        .collect();
    if !skipped.is_empty() {
        out.push_str("\n## Skipped\n\n| check | reason |\n|---|---|\n");
        for check in skipped {
            out.push_str(&format!(
                "| {} | {} |\n",
                code(&check.id),
                cell(check.skip_reason.as_deref().unwrap_or(""))
            ));
        }
    }
    out
}

/// Listed checks whose verdict `--expect` did not expect: stale entries first of all.
fn unmet(out: &mut String, report: &Report) {
    let unmet: Vec<&CheckReport> = report
        .checks
        .iter()
        .filter(|c| c.unmet().is_some())
        .collect();
    if unmet.is_empty() {
        return;
    }
    out.push_str("\n## Expectations not met\n\n| check | verdict | what | why it was expected |\n|---|---|---|---|\n");
    for check in unmet {
        if let Some(expected) = check.unmet() {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                code(&check.id),
                check.verdict,
                cell(&expected.unmet_message(check.verdict)),
                cell(&expected.why)
            ));
        }
    }
}

fn section(out: &mut String, report: &Report, heading: &str, which: impl Fn(&CheckReport) -> bool) {
    let checks: Vec<&CheckReport> = report.checks.iter().filter(|c| which(c)).collect();
    if checks.is_empty() {
        return;
    }
    out.push_str(&format!("\n## {heading}\n"));
    for check in checks {
        out.push_str(&format!(
            "\n### {} ({}): {}\n\n",
            code(&check.id),
            check.level,
            cell(&check.title)
        ));
        if let Some(expected) = &check.expected {
            let said = if expected.met {
                format!("{} (expected: {})", check.verdict, expected.allowed())
            } else {
                expected.unmet_message(check.verdict)
            };
            out.push_str(&format!(
                "- **expected**: {}; why: {}\n",
                cell(&said),
                cell(&expected.why)
            ));
        }
        for finding in &check.findings {
            out.push_str(&format!(
                "- **{}**: {}\n",
                cell(&finding.kind),
                cell(&finding.message)
            ));
        }
        if let Some(error) = &check.error {
            out.push_str(&format!("- error: {}\n", cell(error)));
        }
        if let Some(case) = &check.case {
            // A fence longer than any backtick run in the plan keeps it intact.
            let plan = serde_json::to_string_pretty(&case.plan).unwrap_or_default();
            let fence = "`".repeat(
                plan.split(|c| c != '`')
                    .map(str::len)
                    .max()
                    .unwrap_or(0)
                    .max(2)
                    + 1,
            );
            out.push_str(&format!(
                "\n<details><summary>Minimal failing plan ({} transcript entries; the HTML report shows them)</summary>\n\n{fence}json\n{plan}\n{fence}\n</details>\n",
                case.transcript.entries.len(),
            ));
        }
        out.push_str(&format!(
            "\nSpec: {}\n\nReplay: {}\n",
            cell(&check.spec),
            code(&check.replay)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_cannot_be_broken_out_of() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a `b` c"), "``a `b` c``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
