//! The test command's last words: how many tests ran and passed, which did not run, and why.

use crate::needs::{NEEDS, Tests};
use crate::plan::Plan;

/// One test as nextest lists it: binary id and test name.
pub type Listed = (String, String);

/// The counts of a nextest JUnit report's root element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
}

/// Reads `tests`, `failures` and `errors` off the `<testsuites>` element of a JUnit report.
pub fn parse_junit(xml: &str) -> Option<Counts> {
    let start = xml.find("<testsuites")?;
    let head = &xml[start..start + xml[start..].find('>')?];
    let attribute = |name: &str| -> Option<u64> {
        let at = head.find(&format!(" {name}=\""))? + name.len() + 3;
        head[at..].split('"').next()?.parse().ok()
    };
    Some(Counts {
        tests: attribute("tests")?,
        failures: attribute("failures")?,
        errors: attribute("errors").unwrap_or(0),
    })
}

/// Parses `cargo nextest list --message-format oneline`: "BINARY-ID TEST-NAME" a line.
pub fn parse_list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|line| line.trim().split_once(' '))
        .map(|(binary, name)| (binary.to_owned(), name.trim().to_owned()))
        .collect()
}

/// The table's selections that match none of `listed` (a renamed or deleted test).
pub fn dead_selections(listed: &[Listed]) -> Vec<(&'static str, Tests)> {
    NEEDS
        .iter()
        .flat_map(|e| e.tests.iter().map(move |t| (e.what, *t)))
        .filter(|(_, t)| !listed.iter().any(|(b, n)| t.covers(b, n)))
        .collect()
}

/// The summary: `counts` from the run's JUnit report (`None` when it has
/// none), the needs `plan` found missing, `listed` every test that has a need,
/// and `ignored` the tests marked `#[ignore]`.
pub fn render(
    counts: Option<Counts>,
    plan: &Plan,
    listed: &[Listed],
    ignored: &[Listed],
) -> String {
    let mut out = String::from("\n── test.sh summary ──\n");
    match counts {
        Some(c) => {
            let failed = c.failures + c.errors;
            out.push_str(&format!(
                "{} tests ran: {} passed",
                c.tests,
                c.tests - failed
            ));
            if failed > 0 {
                out.push_str(&format!(", {failed} failed"));
            }
            out.push_str(".\n");
        }
        None => out.push_str("No JUnit report: the test run did not finish.\n"),
    }
    let mut not_run: Vec<&Listed> = Vec::new();
    let mut sections = String::new();
    for (entry, missing) in &plan.missing {
        let tests: Vec<&Listed> = listed
            .iter()
            .filter(|(b, n)| entry.tests.iter().any(|t| t.covers(b, n)))
            .collect();
        sections.push_str(&format!(
            "  {} need {}: {}.\n",
            tests.len(),
            entry.what,
            missing.reason
        ));
        for test in tests {
            sections.push_str(&format!("      {} {}\n", test.0, test.1));
            if !not_run.contains(&test) {
                not_run.push(test);
            }
        }
        sections.push_str("    to run them:\n");
        for line in &missing.remedy {
            sections.push_str(&format!("      {line}\n"));
        }
    }
    if !ignored.is_empty() {
        sections.push_str(&format!(
            "  {} marked #[ignore], each with its reason beside it in the source:\n",
            ignored.len()
        ));
        for test in ignored {
            sections.push_str(&format!("      {} {}\n", test.0, test.1));
        }
    }
    let total = not_run.len() + ignored.len();
    if total == 0 {
        out.push_str("Every test ran.\n");
    } else {
        out.push_str(&format!("{total} did not run:\n{sections}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Missing;

    fn listed(pairs: &[(&str, &str)]) -> Vec<Listed> {
        pairs
            .iter()
            .map(|(b, n)| ((*b).to_owned(), (*n).to_owned()))
            .collect()
    }

    #[test]
    fn junit_counts_come_from_the_root_element() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="524" failures="2" errors="1" uuid="x" timestamp="t" time="250.1">
<testsuite name="wire::it" tests="3" disabled="0" errors="0" failures="0">"#;
        assert_eq!(
            parse_junit(xml),
            Some(Counts {
                tests: 524,
                failures: 2,
                errors: 1
            })
        );
        assert_eq!(parse_junit("<testsuite tests=\"1\">"), None);
    }

    #[test]
    fn the_summary_names_each_test_left_out_under_its_need_and_the_ignored_ones() {
        let vectors = &NEEDS[0];
        let plan = Plan {
            missing: vec![(
                vectors,
                Missing {
                    reason: "not in /nowhere".to_owned(),
                    remedy: vec!["git clone …".to_owned()],
                },
            )],
        };
        let all = listed(&[
            ("wire::it", "vectors::cid_syntax"),
            ("wire::it", "vectors::data_model_valid"),
            ("harness::it", "junit::validates"),
        ]);
        let ignored = listed(&[("harness::it", "crash_load::server::serve")]);
        let counts = Counts {
            tests: 520,
            failures: 1,
            errors: 0,
        };
        let text = render(Some(counts), &plan, &all, &ignored);
        assert!(
            text.contains("520 tests ran: 519 passed, 1 failed."),
            "{text}"
        );
        assert!(text.contains("3 did not run:"), "{text}");
        assert!(
            text.contains("2 need the AT Protocol interop vectors: not in /nowhere.\n"),
            "{text}"
        );
        assert!(
            text.contains("      wire::it vectors::cid_syntax\n"),
            "{text}"
        );
        assert!(
            text.contains("    to run them:\n      git clone …\n"),
            "{text}"
        );
        assert!(!text.contains("junit::validates"), "{text}");
        assert!(text.contains("1 marked #[ignore]"), "{text}");
        let nothing = Plan { missing: vec![] };
        let text = render(Some(counts), &nothing, &all, &[]);
        assert!(text.contains("Every test ran."), "{text}");
        assert!(render(None, &nothing, &all, &[]).contains("did not finish"));
    }

    #[test]
    fn a_selection_without_a_test_is_dead() {
        let all = listed(&[("wire::it", "vectors::cid_syntax")]);
        let dead = dead_selections(&all);
        assert!(dead.iter().all(|(_, t)| t.name != "vectors::"));
        assert!(dead.iter().any(|(_, t)| t.name == "pds::"));
        assert_eq!(
            parse_list("wire::it vectors::a\nharness::it pds::b\n").len(),
            2
        );
    }
}
