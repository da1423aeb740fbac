//! Whole transcripts against the seed's OpenAPI: each connection's request matched to its operation wherever the target was reached, every answer and event validated, and a tally of what was seen.
//!
//! A request is matched by its path below the API's base path, whatever
//! host and port it went to: checks that cut connections reach the target
//! through the fault proxy, and what they record is held to the same
//! contract. Requests to paths the seed does not describe (a control API)
//! are passed over.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{OPERATIONS, Operation, event, find, response};
use crate::transcript::{Observed, Transcript};
use crate::verdict::Finding;

/// The most findings one transcript yields; the rest are counted in one more.
const MAX_FINDINGS: usize = 20;

/// What a validation rests on: the statuses each operation answered and
/// how many streamed events were validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Per `operationId`, the statuses it answered.
    pub statuses: BTreeMap<&'static str, BTreeSet<u16>>,
    pub events: usize,
}

impl Tally {
    /// Adds what `other` saw to this tally.
    pub fn add(&mut self, other: &Tally) {
        for (op, statuses) in &other.statuses {
            self.statuses.entry(op).or_default().extend(statuses);
        }
        self.events += other.events;
    }

    /// The answers validated, counted as distinct statuses per operation.
    pub fn answers(&self) -> usize {
        self.statuses.values().map(BTreeSet::len).sum()
    }

    /// The seed's operations that never answered.
    pub fn missing(&self) -> Vec<&'static str> {
        OPERATIONS
            .iter()
            .map(|op| op.id)
            .filter(|id| !self.statuses.contains_key(id))
            .collect()
    }
}

/// The path of `url` below the path of `base`, whatever the scheme, host
/// and port of either: `None` when `url` is not under it.
pub fn path_below<'a>(url: &'a str, base: &str) -> Option<&'a str> {
    fn path(url: &str) -> &str {
        match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
            None => url,
        }
    }
    let below = path(url).strip_prefix(path(base).trim_end_matches('/'))?;
    below.starts_with('/').then_some(below)
}

/// Findings about every answer and event in `transcript` that went to one
/// of the seed's operations under `base`'s path, and the tally of them.
pub fn read(transcript: &Transcript, base: &str) -> (Vec<Finding>, Tally) {
    let mut ops: HashMap<u32, &'static Operation> = HashMap::new();
    let mut findings = Vec::new();
    let mut tally = Tally::default();
    for entry in &transcript.entries {
        match &entry.observed {
            Observed::Request { method, url, .. } => {
                match path_below(url, base).and_then(|path| find(method, path)) {
                    Some(op) => ops.insert(entry.conn, op),
                    None => ops.remove(&entry.conn),
                };
            }
            Observed::Response {
                status,
                headers,
                body,
            } => {
                if let Some(op) = ops.get(&entry.conn) {
                    tally.statuses.entry(op.id).or_default().insert(*status);
                    findings.extend(response(op, *status, headers, body.as_deref()));
                }
            }
            Observed::SseEvent { data, .. } => {
                if let Some(op) = ops.get(&entry.conn) {
                    tally.events += 1;
                    findings.extend(event(op, data));
                }
            }
            _ => {}
        }
    }
    if findings.len() > MAX_FINDINGS {
        let more = findings.len() - MAX_FINDINGS;
        findings.truncate(MAX_FINDINGS);
        findings.push(Finding::new(
            "openapi",
            format!("{more} more answers or events broke the seed's OpenAPI"),
        ));
    }
    (findings, tally)
}

/// Findings about every answer and event in `transcript` that went to one
/// of the seed's operations under `base`'s path.
pub fn transcript(transcript: &Transcript, base: &str) -> Vec<Finding> {
    read(transcript, base).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_matched_below_the_base_path_on_any_host() {
        let base = "http://127.0.0.1:4000/pulse/";
        let proxied = "http://127.0.0.1:5123/pulse/streams/a/events?x=1";
        assert_eq!(path_below(proxied, base), Some("/streams/a/events?x=1"));
        assert_eq!(path_below("http://h/streams", "http://h"), Some("/streams"));
        assert_eq!(path_below("http://h/pulsex/streams", base), None);
        assert_eq!(path_below("http://h", "http://h"), None);
    }

    #[test]
    fn tallies_add_up_and_name_what_never_answered() {
        let mut one = Tally::default();
        one.statuses.entry("getEvent").or_default().insert(404);
        one.events = 2;
        let mut two = Tally::default();
        two.statuses
            .entry("getEvent")
            .or_default()
            .extend([200, 404]);
        two.events = 3;
        one.add(&two);
        assert_eq!(one.answers(), 2);
        assert_eq!(one.events, 5);
        assert!(!one.missing().contains(&"getEvent"));
        assert!(one.missing().contains(&"getHealthStatus"));
    }
}
