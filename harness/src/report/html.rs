//! A self-contained HTML report: one file, inline styles, no scripts or network fetches.
//!
//! The page has the run's headline, a table per API, and a section for every
//! check that did not pass, with its findings, evidence, spec reference and
//! replay command; the check table links to those sections.

use std::fmt::Write;

use scenarios::Verdict;

use super::markdown::headline;
use super::model::{CheckReport, Report};
use super::short_duration;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An id attribute for a check: ids are `api/area/name`, so slashes become dashes.
fn anchor(check: &CheckReport) -> String {
    format!("check-{}", check.id.replace('/', "--"))
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.6rem;margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f6f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
td code{overflow-wrap:anywhere}
pre{background:#f6f6f7;padding:.6rem;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;color:#fff}
.pass{background:#1a7f37}.fail{background:#cf222e}.non-strict{background:#bf8700}.skip{background:#6e7781}.error{background:#8250df}
.meta{color:#57606a}.check{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
";

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let headline = headline(report);
    // The headline badge reuses the verdict colours.
    let headline_class = match report.summary.exit_code {
        0 => "pass",
        1 => "fail",
        _ => "error",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>harness check {headline}: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&report.target.url)
    );
    let s = &report.summary;
    let _ = write!(
        out,
        "<h1><span class=\"badge {headline_class}\">{headline}</span> harness check</h1>\n\
         <p class=\"meta\">Target <code>{}</code> · run <code>{}</code> · seed <code>{}</code> · \
         started {} · {} checks in {} · exit code {}</p>\n",
        escape(&report.target.describe()),
        escape(&report.run_id),
        report.options.seed,
        escape(&report.started_at),
        s.total,
        short_duration(report.duration_ms),
        s.exit_code
    );
    summary_table(&mut out, report);
    for (api, counts) in report.summary_by_api() {
        let _ = writeln!(out, "<h2>{api}</h2>");
        if counts.total == 0 {
            out.push_str("<p class=\"meta\">No checks for this API in the catalogue yet.</p>\n");
            continue;
        }
        out.push_str("<table><tr><th>check</th><th>level</th><th>verdict</th><th>title</th><th>time</th></tr>\n");
        for check in report.checks_of(api) {
            let id = if !detailed(check) {
                format!("<code>{}</code>", escape(&check.id))
            } else {
                format!(
                    "<a href=\"#{}\"><code>{}</code></a>",
                    anchor(check),
                    escape(&check.id)
                )
            };
            let _ = writeln!(
                out,
                "<tr><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                check.level,
                verdict_cell(check),
                escape(&check.title),
                short_duration(check.duration_ms)
            );
        }
        out.push_str("</table>\n");
    }
    let details: Vec<&CheckReport> = report.checks.iter().filter(|c| detailed(c)).collect();
    if !details.is_empty() {
        out.push_str("<h2>Details</h2>\n");
        for check in details {
            detail(&mut out, check);
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn badge(verdict: Verdict) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", verdict.name())
}

/// Whether a check gets a section of its own: it did not pass, or it broke its `--expect` entry.
fn detailed(check: &CheckReport) -> bool {
    check.verdict != Verdict::Pass || check.unmet().is_some()
}

/// The verdict's badge, and what `--expect` said of it.
fn verdict_cell(check: &CheckReport) -> String {
    match &check.expected {
        None => badge(check.verdict),
        Some(expected) if expected.met => format!(
            "{} <span class=\"meta\">(expected: {})</span>",
            badge(check.verdict),
            escape(&expected.allowed())
        ),
        Some(expected) => format!(
            "{} <strong>(expected {})</strong>",
            badge(check.verdict),
            escape(&expected.allowed())
        ),
    }
}

fn summary_table(out: &mut String, report: &Report) {
    out.push_str("<table><tr><th>API</th><th>checks</th>");
    for verdict in Verdict::ALL {
        let _ = write!(out, "<th>{}</th>", verdict.name());
    }
    out.push_str("</tr>\n");
    for (api, counts) in report.summary_by_api() {
        let _ = write!(
            out,
            "<tr><td>{api}</td><td class=\"n\">{}</td>",
            counts.total
        );
        for verdict in Verdict::ALL {
            let _ = write!(out, "<td class=\"n\">{}</td>", counts.of(verdict));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn detail(out: &mut String, check: &CheckReport) {
    let _ = writeln!(
        out,
        "<div class=\"check\" id=\"{}\"><h3>{} <code>{}</code> ({})</h3><p>{}</p>",
        anchor(check),
        badge(check.verdict),
        escape(&check.id),
        check.level,
        escape(&check.title)
    );
    if !check.findings.is_empty() {
        out.push_str("<ul>\n");
        for finding in &check.findings {
            let _ = write!(
                out,
                "<li><strong>{}</strong>: {}",
                escape(&finding.kind),
                escape(&finding.message)
            );
            if let Some(evidence) = &finding.evidence {
                let pretty = serde_json::to_string_pretty(evidence).unwrap_or_default();
                let _ = write!(out, "<pre>{}</pre>", escape(&pretty));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    if let Some(expected) = &check.expected {
        let said = if expected.met {
            format!("{} (expected: {})", check.verdict, expected.allowed())
        } else {
            expected.unmet_message(check.verdict)
        };
        let _ = writeln!(
            out,
            "<p><strong>Expected</strong>: {}. Why: {}</p>",
            escape(&said),
            escape(&expected.why)
        );
    }
    if let Some(reason) = &check.skip_reason {
        let _ = writeln!(out, "<p>Skipped: {}</p>", escape(reason));
    }
    if let Some(error) = &check.error {
        let _ = writeln!(out, "<p>Harness error: {}</p>", escape(error));
    }
    if let Some(case) = &check.case {
        let plan = serde_json::to_string_pretty(&case.plan).unwrap_or_default();
        let _ = writeln!(
            out,
            "<p>Minimal failing plan ({} cases to the first failure, {} shrink steps):</p><pre>{}</pre>",
            case.cases_run,
            case.shrink_steps,
            escape(&plan)
        );
        transcript_table(out, &case.transcript);
    }
    let _ = writeln!(
        out,
        "<p class=\"meta\">Spec: {}</p><p>Replay:</p><pre>{}</pre></div>",
        escape(&check.spec),
        escape(&check.replay)
    );
}

/// The transcript of a case: one row per observation, in order.
fn transcript_table(out: &mut String, transcript: &scenarios::transcript::Transcript) {
    out.push_str(
        "<details open><summary>Transcript</summary><table><tr><th>ms</th><th>conn</th><th>what</th><th>detail</th></tr>\n",
    );
    for entry in &transcript.entries {
        let mut detail = serde_json::to_value(&entry.observed).unwrap_or_default();
        let kind = detail["kind"].as_str().unwrap_or("").to_owned();
        if let Some(map) = detail.as_object_mut() {
            map.remove("kind");
        }
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            entry.at_micros as f64 / 1000.0,
            entry.conn,
            escape(&kind),
            escape(&detail.to_string())
        );
    }
    out.push_str("</table></details>\n");
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
