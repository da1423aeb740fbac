//! `harness check --expect FILE`: a target's known, accepted deviations, read and validated.
//!
//! The file is TOML, one `[[expect]]` table per check:
//!
//! ```toml
//! [[expect]]
//! check = "actyx/offsets/cache-control"
//! verdict = "fail"            # pass | fail | non-strict | skip, or a list: ["pass", "fail"]
//! why = "the node sends Cache-Control: no-cache; seed 003 says no-store"
//! ```
//!
//! A verdict among a check's expected ones does not fail the run; any other
//! verdict does, also a pass where a failure was expected (the entry is
//! stale), as pytest's strict xfail and WPT's expectation files do. `error` is
//! never expected: it means the harness broke. Every problem with the file is
//! a usage error, found before anything runs.

use std::path::Path;

use scenarios::Verdict;
use serde::Deserialize;

use crate::report::model::Expected;

/// One entry: a catalogue check and the verdicts it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub check: &'static str,
    pub verdicts: Vec<Verdict>,
    pub why: String,
}

/// Every entry of an expectations file; empty without `--expect`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    entries: Vec<Expectation>,
}

/// Why an expectations file was refused: one line naming the file and the entry.
#[derive(Debug, thiserror::Error)]
#[error("--expect {file}: {message}")]
pub struct ExpectError {
    file: String,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expect: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    check: String,
    verdict: OneOrMany,
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a verdict or a list of verdicts")]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Expectations {
    /// Reads and validates the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ExpectError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ExpectError {
            file: file.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text).map_err(|message| ExpectError { file, message })
    }

    /// Parses and validates the text of an expectations file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed: File = toml::from_str(text).map_err(|e| toml_message(text, &e))?;
        let mut entries: Vec<Expectation> = Vec::with_capacity(parsed.expect.len());
        for (index, entry) in parsed.expect.into_iter().enumerate() {
            let name = format!("entry {} (check = {:?})", index + 1, entry.check);
            let expectation = validate(entry).map_err(|why| format!("{name}: {why}"))?;
            if let Some(first) = entries.iter().position(|e| e.check == expectation.check) {
                return Err(format!(
                    "{name}: the check is already listed in entry {}",
                    first + 1
                ));
            }
            entries.push(expectation);
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, check: &str) -> Option<&Expectation> {
        self.entries.iter().find(|e| e.check == check)
    }

    /// What a check's result carries: its entry and whether `verdict` kept to it.
    pub fn judge(&self, check: &str, verdict: Verdict) -> Option<Expected> {
        self.get(check).map(|entry| Expected {
            verdicts: entry.verdicts.clone(),
            why: entry.why.clone(),
            met: entry.verdicts.contains(&verdict),
        })
    }
}

fn validate(entry: Entry) -> Result<Expectation, String> {
    let meta = scenarios::catalogue::find(&entry.check).ok_or_else(|| {
        "no check of the catalogue has this id (`harness check --list` prints them)".to_owned()
    })?;
    let names = match entry.verdict {
        OneOrMany::One(name) => vec![name],
        OneOrMany::Many(names) => names,
    };
    if names.is_empty() {
        return Err("verdict is an empty list".to_owned());
    }
    let mut verdicts = Vec::with_capacity(names.len());
    for name in &names {
        let verdict = parse_verdict(name)?;
        if !verdicts.contains(&verdict) {
            verdicts.push(verdict);
        }
    }
    let why = entry.why.trim();
    if why.is_empty() {
        return Err("why is empty; say why the deviation is accepted".to_owned());
    }
    Ok(Expectation {
        check: meta.id,
        verdicts,
        why: why.to_owned(),
    })
}

fn parse_verdict(name: &str) -> Result<Verdict, String> {
    match Verdict::ALL.into_iter().find(|v| v.name() == name) {
        Some(Verdict::Error) => Err(
            "the verdict error cannot be expected: it means the harness broke, not the target"
                .to_owned(),
        ),
        Some(verdict) => Ok(verdict),
        None => Err(format!(
            "unknown verdict {name:?}; expected pass, fail, non-strict or skip"
        )),
    }
}

/// A TOML error on one line: where it is, then what is wrong (toml's own
/// rendering spans several lines with a snippet).
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let line = text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            format!("line {}: {message}", line + 1)
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "actyx/offsets/cache-control";

    fn entry(body: &str) -> String {
        format!("[[expect]]\n{body}\n")
    }

    fn refused(text: &str) -> String {
        Expectations::parse(text).expect_err(text)
    }

    #[test]
    fn reads_single_verdicts_and_lists() {
        let text = format!(
            "# a comment\n{}{}",
            entry(&format!(
                "check = {ID:?}\nverdict = \"fail\"\nwhy = \" no-cache \""
            )),
            entry(
                "check = \"actyx/monotonic/lower-bound-optional\"\nverdict = [\"pass\", \"fail\", \"fail\"]\nwhy = \"w\""
            )
        );
        let expectations = Expectations::parse(&text).unwrap();
        let first = expectations.get(ID).unwrap();
        assert_eq!(first.verdicts, [Verdict::Fail]);
        assert_eq!(first.why, "no-cache");
        let second = expectations
            .get("actyx/monotonic/lower-bound-optional")
            .unwrap();
        assert_eq!(second.verdicts, [Verdict::Pass, Verdict::Fail]);
        assert!(Expectations::parse("").unwrap().is_empty());
    }

    #[test]
    fn judges_a_verdict_against_its_entry() {
        let text = entry(&format!("check = {ID:?}\nverdict = \"fail\"\nwhy = \"w\""));
        let expectations = Expectations::parse(&text).unwrap();
        let met = expectations.judge(ID, Verdict::Fail).unwrap();
        assert!(met.met);
        assert_eq!(
            (met.verdicts, met.why),
            (vec![Verdict::Fail], "w".to_owned())
        );
        assert!(!expectations.judge(ID, Verdict::Pass).unwrap().met);
        assert!(!expectations.judge(ID, Verdict::Error).unwrap().met);
        assert_eq!(
            expectations.judge("actyx/query/orders", Verdict::Fail),
            None
        );
    }

    #[test]
    fn refuses_every_bad_entry_with_its_place() {
        let cases = [
            (
                entry("check = \"actyx/nope/none\"\nverdict = \"fail\"\nwhy = \"w\""),
                "entry 1 (check = \"actyx/nope/none\"): no check of the catalogue",
            ),
            (
                entry(&format!(
                    "check = {ID:?}\nverdict = \"broken\"\nwhy = \"w\""
                )),
                "unknown verdict \"broken\"",
            ),
            (
                entry(&format!(
                    "check = {ID:?}\nverdict = [\"fail\", \"error\"]\nwhy = \"w\""
                )),
                "error cannot be expected",
            ),
            (
                entry(&format!("check = {ID:?}\nverdict = []\nwhy = \"w\"")),
                "empty list",
            ),
            (
                entry(&format!("check = {ID:?}\nverdict = \"fail\"\nwhy = \"  \"")),
                "why is empty",
            ),
            (
                entry(&format!("check = {ID:?}\nverdict = \"fail\"")),
                "line 1: missing field `why`",
            ),
            (
                entry(&format!(
                    "check = {ID:?}\nverdict = \"fail\"\nwhy = \"w\"\nverdit = 1"
                )),
                "line 5: unknown field `verdit`",
            ),
            (
                entry(&format!("check = {ID:?}\nverdict = 3\nwhy = \"w\"")),
                "a verdict or a list of verdicts",
            ),
            ("[[expect]\n".to_owned(), "line 1:"),
            ("expected = []\n".to_owned(), "unknown field `expected`"),
            (
                entry(&format!("check = {ID:?}\nverdict = \"fail\"\nwhy = \"w\"")).repeat(2),
                "entry 2 (check = \"actyx/offsets/cache-control\"): the check is already listed in entry 1",
            ),
        ];
        for (text, message) in cases {
            let error = refused(&text);
            assert!(error.contains(message), "{text:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn names_the_file_it_cannot_read() {
        let error = Expectations::read(Path::new("/nonexistent/expected.toml")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("--expect /nonexistent/expected.toml: cannot read it"),
            "{text}"
        );
    }
}
