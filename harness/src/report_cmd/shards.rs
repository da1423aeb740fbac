//! Shard accounting for `report merge`: the workers' reports must be of one run, each shard once, and the missing ones named.
//!
//! One run is one API and target, one run id (when the workers were given
//! one), one start, one shard count N and one profile (but for the shard's
//! index; and a closed loop's event count, which is what each worker managed
//! to send). A report of another run, a
//! shard given twice, or a report that is itself a merge is refused: adding
//! them would give figures of no run at all. Shards of the run that are
//! absent are not an error: the merge still adds up the others, and says
//! which are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::load::report::{LoadReport, ProfileSummary, Rate};
use crate::load::shard::Shard;

/// What the reports of one run hold, and lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounting {
    /// The run's shard count, N.
    pub count: u32,
    /// The shards with no report, in order.
    pub missing: Vec<Shard>,
}

impl Accounting {
    /// The missing shards as `i/N`.
    pub fn missing_names(&self) -> Vec<String> {
        self.missing.iter().map(Shard::to_string).collect()
    }
}

/// Checks that `reports` (each read from its path) are shards of one run,
/// each once; says which shards of it are missing.
pub fn account(reports: &[(PathBuf, LoadReport)]) -> Result<Accounting, String> {
    let Some((first_path, first)) = reports.first() else {
        return Err("no report to merge".to_owned());
    };
    let mut shards: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut count = None;
    for (path, report) in reports {
        if let Some(workers) = report.about.workers {
            return Err(format!(
                "{}: a merge of {workers} reports already; merge the workers' own reports",
                path.display()
            ));
        }
        let shard: Shard = report
            .about
            .profile
            .shard
            .parse()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(difference) = differs(first, report, shard.count) {
            return Err(format!(
                "{} and {} are not of one run: {difference}",
                first_path.display(),
                path.display()
            ));
        }
        count = Some(shard.count);
        if let Some(other) = shards.insert(shard.index, path) {
            return Err(format!(
                "shard {shard} is given twice: {} and {}",
                other.display(),
                path.display()
            ));
        }
    }
    let count = count.unwrap_or(1);
    let missing = (0..count)
        .filter(|index| !shards.contains_key(index))
        .map(|index| Shard { index, count })
        .collect();
    Ok(Accounting { count, missing })
}

/// What makes `other` (of `count` shards) a different run from `first`, if anything.
fn differs(first: &LoadReport, other: &LoadReport, count: u32) -> Option<String> {
    let (a, b) = (&first.about, &other.about);
    let first_count = a.profile.shard.parse::<Shard>().map_or(0, |s| s.count);
    let pairs = [
        ("the API", a.api.clone(), b.api.clone()),
        ("the target", a.target.clone(), b.target.clone()),
        ("the run id", run_id(&a.run_id), run_id(&b.run_id)),
        (
            "the start (give every worker one --start-at)",
            a.start.clone(),
            b.start.clone(),
        ),
        (
            "the shard count",
            first_count.to_string(),
            count.to_string(),
        ),
        (
            "the profile",
            profile_key(&a.profile),
            profile_key(&b.profile),
        ),
    ];
    pairs
        .into_iter()
        .find(|(_, x, y)| x != y)
        .map(|(what, x, y)| format!("{what} differs ({x} and {y})"))
}

/// A run id as a difference names it.
fn run_id(id: &Option<String>) -> String {
    id.clone().unwrap_or_else(|| "none".to_owned())
}

/// A profile as the run has it: without the shard, and without a closed
/// loop's event count (each worker's own).
fn profile_key(profile: &ProfileSummary) -> String {
    let mut key = profile.clone();
    key.shard = String::new();
    if key.rate == Rate::Max {
        key.events = 0;
    }
    serde_json::to_string(&key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::report::About;

    fn report(shard: &str, start: &str, subscribers: u64) -> LoadReport {
        let about: About = serde_json::from_value(serde_json::json!({
            "api": "fibric", "target": "http://10.0.0.1:8080/", "runs": ["01kbx3m5q4t7y8z9a0b1c2d3e4"],
            "start": start, "profile": {"rate": 100.0, "batch": 1, "duration_ms": 1000,
                "ramp_ms": 0, "subscribers": subscribers, "publishers": 1, "shard": shard,
                "events": 100, "users": 0}}))
        .unwrap();
        let text = serde_json::json!({"version": 1, "about": about, "elapsed_ms": 0,
            "publishing_ms": 0, "histograms": {}, "counters": {}, "thresholds": [],
            "rates": {"publish_rate": 0.0, "deliver_rate": 0.0, "request_rate": 0.0, "error_rate": 0.0}});
        serde_json::from_value(text).unwrap()
    }

    const START: &str = "2026-12-07T10:00:00.000Z";

    fn at(path: &str, report: LoadReport) -> (PathBuf, LoadReport) {
        (PathBuf::from(path), report)
    }

    #[test]
    fn every_shard_once_is_complete_and_an_absent_one_is_named() {
        let all = [
            at("a", report("2/3", START, 2)),
            at("b", report("0/3", START, 2)),
            at("c", report("1/3", START, 2)),
        ];
        let complete = account(&all).unwrap();
        assert_eq!((complete.count, complete.missing_names()), (3, vec![]));
        let partial = account(&[all[0].clone()]).unwrap();
        assert_eq!(partial.missing_names(), ["0/3", "1/3"]);
    }

    #[test]
    fn reports_of_different_runs_are_refused_saying_what_differs() {
        let first = at("w0", report("0/2", START, 2));
        let cases = [
            (report("1/2", "2026-12-07T10:00:01.000Z", 2), "the start"),
            (report("1/3", START, 2), "the shard count"),
            (report("1/2", START, 3), "the profile"),
        ];
        for (other, what) in cases {
            let error = account(&[first.clone(), at("w1", other)]).unwrap_err();
            assert!(
                error.contains(what) && error.contains("w0") && error.contains("w1"),
                "{what}: {error}"
            );
        }
        let mut other_id = report("1/2", START, 2);
        other_id.about.run_id = Some("slurm-12".to_owned());
        let error = account(&[first.clone(), at("w1", other_id)]).unwrap_err();
        assert!(
            error.contains("the run id differs (none and slurm-12)"),
            "{error}"
        );
        let mut api = report("1/2", START, 2);
        api.about.api = "pulse".to_owned();
        assert!(
            account(&[first, at("w1", api)])
                .unwrap_err()
                .contains("the API")
        );
    }

    #[test]
    fn a_shard_twice_or_a_merged_report_is_refused() {
        let twice = account(&[
            at("x", report("1/2", START, 2)),
            at("y", report("1/2", START, 2)),
        ]);
        assert_eq!(twice.unwrap_err(), "shard 1/2 is given twice: x and y");
        let mut merged = report("0/2", START, 4);
        merged.about.workers = Some(2);
        let error = account(&[at("m", merged)]).unwrap_err();
        assert!(error.contains("m: a merge of 2 reports"), "{error}");
    }

    #[test]
    fn closed_loop_workers_may_send_different_numbers_of_events() {
        let closed = |shard, events| {
            let mut r = report(shard, START, 1);
            r.about.profile.rate = Rate::Max;
            r.about.profile.events = events;
            r
        };
        let both = [at("a", closed("0/2", 900)), at("b", closed("1/2", 1100))];
        assert!(account(&both).unwrap().missing.is_empty());
    }
}
