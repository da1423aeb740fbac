//! The seeds' rules, one file per API (`scenarios/rules/<api>.toml`), and which checks assert them.
//!
//! A rule is one thing a seed states that a server must, should or may do, in
//! the seed's own words. It is testable unless it says why not (`why`), and a
//! testable rule that no check asserts against any target yet says what such
//! a check would need (`gap`). [`problems`] holds the matrix and the catalogue
//! to each other: the tests fail on a rule nobody cites, a citation of a rule
//! that does not exist, a `gap` that a check has since closed, and a MUST
//! check that cites no rule (one the seed does not ground is SHOULD or MAY,
//! and its title names its source).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalogue;
use crate::check::{Api, Level};

/// One API's rules, as its file in `scenarios/rules/` lists them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBook {
    pub api: Api,
    /// The seed file in `../shared/seeds/`.
    pub seed: String,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

/// One rule of a seed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `<api>.<kebab-name>`, e.g. `fauna.status-first`.
    pub id: String,
    pub level: Level,
    /// Where in the seed: a heading, a schema or an operation.
    pub section: String,
    /// The seed's own words.
    pub text: String,
    #[serde(default = "yes")]
    pub testable: bool,
    /// Why the rule cannot be tested against a server (only when `testable = false`).
    pub why: Option<String>,
    /// What a check would need, for a testable rule no check asserts yet.
    pub gap: Option<String>,
}

fn yes() -> bool {
    true
}

const FILES: [(Api, &str); 5] = [
    (Api::Fibric, include_str!("../rules/fibric.toml")),
    (Api::Pulse, include_str!("../rules/pulse.toml")),
    (Api::Fauna, include_str!("../rules/fauna.toml")),
    (Api::Actyx, include_str!("../rules/actyx.toml")),
    (Api::Atproto, include_str!("../rules/atproto.toml")),
];

/// The rules of one API. The files are compiled in, and the tests below read
/// every one, so a file that does not parse never leaves the build.
pub fn book(api: Api) -> &'static RuleBook {
    static BOOKS: OnceLock<Vec<RuleBook>> = OnceLock::new();
    let books = BOOKS.get_or_init(|| {
        FILES
            .iter()
            .map(|(api, text)| {
                toml::from_str(text)
                    .unwrap_or_else(|error| panic!("scenarios/rules/{api}.toml: {error}"))
            })
            .collect()
    });
    books
        .iter()
        .find(|book| book.api == api)
        .expect("every API has a rule file")
}

/// How many of an API's testable rules some check asserts against any target.
#[derive(Debug)]
pub struct Coverage {
    pub api: Api,
    pub testable: usize,
    pub checked: usize,
    /// The testable rules no check asserts against any target, in file order.
    pub unchecked: Vec<&'static Rule>,
}

impl Coverage {
    pub fn percent(&self) -> f64 {
        if self.testable == 0 {
            return 100.0;
        }
        self.checked as f64 * 100.0 / self.testable as f64
    }
}

/// The rule ids that checks running against any target cite, for one API.
fn cited_anywhere(api: Api) -> BTreeSet<&'static str> {
    catalogue::for_api(api)
        .filter(|check| check.runs_anywhere())
        .flat_map(|check| check.rules.iter().copied())
        .collect()
}

/// One API's coverage.
pub fn coverage(api: Api) -> Coverage {
    let cited = cited_anywhere(api);
    let testable: Vec<&Rule> = book(api).rules.iter().filter(|r| r.testable).collect();
    let unchecked: Vec<&Rule> = testable
        .iter()
        .copied()
        .filter(|rule| !cited.contains(rule.id.as_str()))
        .collect();
    Coverage {
        api,
        testable: testable.len(),
        checked: testable.len() - unchecked.len(),
        unchecked,
    }
}

/// Everything wrong between the rule files and the catalogue, one line each.
pub fn problems() -> Vec<String> {
    let mut problems = Vec::new();
    for api in Api::ALL {
        let book = book(api);
        problems.extend(book_problems(book));
        let ids: BTreeSet<&str> = book.rules.iter().map(|r| r.id.as_str()).collect();
        for check in catalogue::for_api(api) {
            // A check the seed does not ground holds a target to another
            // source (its title names it), and is SHOULD or MAY at most.
            if check.rules.is_empty() && check.level == Level::Must {
                problems.push(format!("{} is MUST and cites no rule", check.id));
            }
            for rule in check.rules {
                if !ids.contains(rule) {
                    problems.push(format!("{} cites {rule}, which {api}.toml lacks", check.id));
                }
            }
        }
        let cited = cited_anywhere(api);
        let cited_at_all: BTreeSet<&str> = catalogue::for_api(api)
            .flat_map(|check| check.rules.iter().copied())
            .collect();
        for rule in &book.rules {
            let id = rule.id.as_str();
            match (rule.testable, cited.contains(id), &rule.gap) {
                (false, _, _) if cited_at_all.contains(id) => {
                    problems.push(format!("{id} is marked untestable, yet a check cites it"))
                }
                (true, false, None) => problems.push(format!(
                    "{id} is testable and no check that runs against any target cites it"
                )),
                (true, true, Some(_)) => problems.push(format!(
                    "{id} still has a gap, but a check that runs against any target cites it"
                )),
                _ => {}
            }
        }
    }
    problems
}

/// What is wrong inside one file: ids, duplicates, seed, and the `why`/`gap` fields.
fn book_problems(book: &RuleBook) -> Vec<String> {
    let api = book.api;
    let mut problems = Vec::new();
    if book.seed != api.seed_file() {
        problems.push(format!("{api}.toml names seed {}", book.seed));
    }
    let mut seen = BTreeSet::new();
    for rule in &book.rules {
        let id = rule.id.as_str();
        if !id_is_well_formed(api, id) {
            problems.push(format!("{api}.toml: {id:?} is not {api}.<kebab-name>"));
        }
        if !seen.insert(id) {
            problems.push(format!("{api}.toml: {id} appears twice"));
        }
        if rule.text.trim().is_empty() || rule.section.trim().is_empty() {
            problems.push(format!("{id} lacks its seed text or section"));
        }
        if rule.testable == rule.why.is_some() {
            problems.push(format!(
                "{id}: an untestable rule says why, and only an untestable rule"
            ));
        }
        if !rule.testable && rule.gap.is_some() {
            problems.push(format!("{id}: an untestable rule has no gap"));
        }
    }
    problems
}

fn id_is_well_formed(api: Api, id: &str) -> bool {
    id.strip_prefix(api.name())
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with('-')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_and_the_catalogue_agree() {
        let problems = problems();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_seed_has_rules() {
        for api in Api::ALL {
            let coverage = coverage(api);
            assert!(coverage.testable > 0, "{api}: no testable rules");
            assert!(coverage.checked <= coverage.testable);
        }
    }

    #[test]
    fn rule_ids_are_checked_for_shape() {
        assert!(id_is_well_formed(Api::Fauna, "fauna.status-first"));
        assert!(!id_is_well_formed(Api::Fauna, "pulse.status-first"));
        assert!(!id_is_well_formed(Api::Fauna, "fauna."));
        assert!(!id_is_well_formed(Api::Fauna, "fauna.Status"));
        assert!(!id_is_well_formed(Api::Fauna, "fauna/status"));
    }
}
