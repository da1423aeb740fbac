//! The run's audit: every case's transcript, read as the case ends by its API's auditor, for the checks that judge the whole run (`Need::Transcripts`).
//!
//! Pulse has one today: the seed's OpenAPI is the contract for every answer
//! and event the catalogue records, not only for those of the check that
//! drives every operation (`pulse/openapi/responses`). That check runs last
//! and reports what the audit found, each finding naming the check whose
//! case recorded it. Its own case alone would pass, so its replay command
//! runs its whole API again (`runner::replay_command`).
//!
//! The audit keeps findings and a tally, never transcripts, and at most
//! [`MAX_FINDINGS`] findings: its memory is bounded however long the run.
//! Every clone of a [`CheckContext`](crate::runner::CheckContext) shares it;
//! the runner gives each run a fresh one, which reads only when a check of
//! the run reports it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use scenarios::pulse::openapi::{self, Tally};
use scenarios::transcript::Transcript;
use scenarios::{Api, CheckMeta, Finding, Need};

/// The most findings the audit keeps; the rest are counted.
pub const MAX_FINDINGS: usize = 30;

/// What the cases of a run recorded, as their API's auditor read it. The
/// default audit reads nothing: only a run with a check that reports it
/// pays for reading ([`Audit::for_run`]).
#[derive(Debug, Clone, Default)]
pub struct Audit(Option<Arc<Mutex<Ledger>>>);

#[derive(Debug, Default)]
struct Ledger {
    read: Audited,
    /// Findings already kept, by check, kind and message: a rule broken the
    /// same way in every case of a check is reported once.
    kept: HashSet<(&'static str, String, String)>,
    dropped: usize,
}

/// What the audit holds: its findings, the tally of answers and events it
/// validated, and how many cases of which checks it read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audited {
    pub findings: Vec<Finding>,
    pub tally: Tally,
    pub cases: BTreeMap<&'static str, usize>,
}

impl Audit {
    /// An audit that reads every case.
    pub fn reading() -> Self {
        Audit(Some(Arc::default()))
    }

    /// The audit of a run of `checks`: one that reads, when one of them
    /// reports it (`Need::Transcripts`).
    pub fn for_run(checks: &[&dyn crate::runner::Check]) -> Self {
        let reported = checks
            .iter()
            .any(|check| check.meta().needs.contains(&Need::Transcripts));
        if reported {
            Audit::reading()
        } else {
            Audit::default()
        }
    }

    /// Reads one finished case of the check `meta`, made against `base`,
    /// when its API has an auditor; the checks that report the audit are
    /// not read (they validate their own cases).
    pub fn record(&self, meta: &'static CheckMeta, transcript: &Transcript, base: &str) {
        let Some(ledger) = &self.0 else {
            return;
        };
        if meta.api != Api::Pulse || meta.needs.contains(&Need::Transcripts) {
            return;
        }
        let (findings, tally) = openapi::read(transcript, base);
        if let Ok(mut ledger) = ledger.lock() {
            ledger.add(meta.id, findings, &tally);
        }
    }

    /// Everything read so far; findings past the limit are counted in one more.
    pub fn audited(&self) -> Audited {
        let Some(Ok(ledger)) = self.0.as_ref().map(|ledger| ledger.lock()) else {
            return Audited::default();
        };
        let mut audited = ledger.read.clone();
        if ledger.dropped > 0 {
            audited.findings.push(Finding::new(
                "openapi",
                format!(
                    "{} more answers or events the other checks recorded broke the seed's OpenAPI",
                    ledger.dropped
                ),
            ));
        }
        audited
    }
}

impl Ledger {
    fn add(&mut self, check: &'static str, findings: Vec<Finding>, tally: &Tally) {
        *self.read.cases.entry(check).or_default() += 1;
        self.read.tally.add(tally);
        for mut finding in findings {
            let key = (check, finding.kind.clone(), finding.message.clone());
            if self.kept.contains(&key) {
                continue;
            }
            if self.read.findings.len() >= MAX_FINDINGS {
                self.dropped += 1;
                continue;
            }
            self.kept.insert(key);
            finding.message = format!("recorded by {check}: {}", finding.message);
            self.read.findings.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use scenarios::transcript::Observed;

    use super::*;

    const BASE: &str = "http://127.0.0.1:4000";

    fn lookup(status: u16) -> Transcript {
        let mut transcript = Transcript::default();
        let url = format!("http://127.0.0.1:4999/events/{}", "0".repeat(26));
        let request = Observed::Request {
            method: "GET".to_owned(),
            url,
            headers: Vec::new(),
        };
        transcript.push(0, 1, request);
        let answer = Observed::Response {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: Some(r#"{"code": "not_found", "message": "no such event"}"#.to_owned()),
        };
        transcript.push(1, 1, answer);
        transcript
    }

    fn check(id: &'static str, api: Api, needs: &'static [Need]) -> &'static CheckMeta {
        let meta = scenarios::catalogue::all()
            .find(|meta| meta.api == api)
            .expect("a check of the API");
        Box::leak(Box::new(CheckMeta {
            id,
            needs,
            ..meta.clone()
        }))
    }

    #[test]
    fn a_pulse_answer_the_seed_does_not_document_is_kept_once_naming_its_check() {
        let audit = Audit::reading();
        let meta = check("pulse/events/lookup", Api::Pulse, &[]);
        for _ in 0..3 {
            audit.record(meta, &lookup(400), BASE);
        }
        audit.record(meta, &lookup(404), BASE);
        let audited = audit.clone().audited();
        assert_eq!(audited.findings.len(), 1, "{:?}", audited.findings);
        let finding = &audited.findings[0];
        assert_eq!(finding.kind, "undocumented-status");
        assert!(
            finding
                .message
                .starts_with("recorded by pulse/events/lookup: ")
        );
        assert_eq!(audited.cases["pulse/events/lookup"], 4);
        let statuses = &audited.tally.statuses["getEvent"];
        assert_eq!(statuses.iter().copied().collect::<Vec<_>>(), [400, 404]);
    }

    #[test]
    fn only_pulse_checks_that_do_not_report_the_audit_are_read() {
        let audit = Audit::reading();
        audit.record(check("fibric/x/y", Api::Fibric, &[]), &lookup(400), BASE);
        let reporter = check("pulse/openapi/responses", Api::Pulse, &[Need::Transcripts]);
        audit.record(reporter, &lookup(400), BASE);
        assert_eq!(audit.audited(), Audited::default());
    }

    #[test]
    fn the_default_audit_reads_nothing() {
        let audit = Audit::default();
        audit.record(
            check("pulse/events/lookup", Api::Pulse, &[]),
            &lookup(400),
            BASE,
        );
        assert_eq!(audit.audited(), Audited::default());
    }

    #[test]
    fn findings_past_the_limit_are_counted_not_kept() {
        let audit = Audit::reading();
        let ids: Vec<&'static str> = (0..MAX_FINDINGS + 5)
            .map(|n| &*Box::leak(format!("pulse/a/c{n}").into_boxed_str()))
            .collect();
        for id in ids {
            audit.record(check(id, Api::Pulse, &[]), &lookup(400), BASE);
        }
        let audited = audit.audited();
        assert_eq!(audited.findings.len(), MAX_FINDINGS + 1);
        let last = audited.findings.last().expect("a count");
        assert!(last.message.starts_with("5 more"), "{}", last.message);
    }
}
