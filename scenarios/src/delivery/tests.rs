//! The delivery oracle on hand-made observations: each anomaly is found, and a clean run finds none.

use super::*;

fn expected(ids: &[&str]) -> Vec<Expected> {
    ids.iter()
        .map(|id| Expected {
            id: (*id).to_owned(),
            content: format!("c-{id}"),
        })
        .collect()
}

fn got(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| ((*id).to_owned(), format!("c-{id}")))
        .collect()
}

fn observe(promise: Promise, connections: Vec<Connection>) -> Observation {
    Observation {
        promise,
        expected: expected(&["a", "b", "c", "d", "e"]),
        published: ["a", "b", "c", "d", "e", "x"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        connections,
        complete: true,
    }
}

fn conn(n: u32, start: Start, ids: &[&str]) -> Connection {
    Connection {
        conn: n,
        start,
        delivered: got(ids),
    }
}

fn kinds(findings: &[Finding]) -> Vec<(&str, bool)> {
    findings
        .iter()
        .map(|f| (f.kind.as_str(), f.informational))
        .collect()
}

const ALO: Promise = Promise::AT_LEAST_ONCE_ORDERED;

#[test]
fn a_clean_resumed_delivery_has_no_findings() {
    let findings = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b"]),
            conn(2, Start::After("b".into()), &["c", "d", "e"]),
        ],
    ));
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn redelivery_after_a_resume_is_an_informational_duplicate() {
    let findings = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b", "c"]),
            conn(2, Start::After("b".into()), &["c", "d", "e"]),
        ],
    ));
    assert_eq!(kinds(&findings), [("duplicated", true)]);
    let strict = Promise {
        at_most_once: true,
        ..ALO
    };
    let findings = check(&observe(
        strict,
        vec![
            conn(1, Start::Beginning, &["a", "b", "c"]),
            conn(2, Start::After("b".into()), &["c", "d", "e"]),
        ],
    ));
    assert_eq!(kinds(&findings), [("duplicated", false)]);
}

#[test]
fn an_off_by_one_resume_is_a_resume_gap_and_a_loss() {
    let findings = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b"]),
            conn(2, Start::After("b".into()), &["d", "e"]),
        ],
    ));
    assert_eq!(kinds(&findings), [("resume-gap", false), ("lost", false)]);
    assert!(findings[1].message.contains('c'));
}

#[test]
fn replaying_the_resume_position_itself_is_a_resume_gap() {
    let findings = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b"]),
            conn(2, Start::After("b".into()), &["b", "c", "d", "e"]),
        ],
    ));
    assert!(
        kinds(&findings).contains(&("resume-gap", false)),
        "{findings:?}"
    );
}

#[test]
fn a_replay_says_so_and_an_inclusive_cursor_may_repeat_only_its_own_item() {
    let replayed = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b", "c"]),
            conn(2, Start::After("c".into()), &["b", "c", "d", "e"]),
        ],
    ));
    assert_eq!(replayed[0].kind, "resume-gap");
    assert!(replayed[0].message.contains("a replay"), "{replayed:?}");
    assert_eq!(replayed[0].evidence.as_ref().unwrap()["replay"], true);
    // At-or-after: repeating c itself is a duplicate (informational), not a gap.
    let inclusive = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b", "c"]),
            conn(2, Start::AtOrAfter("c".into()), &["c", "d", "e"]),
        ],
    ));
    assert_eq!(kinds(&inclusive), [("duplicated", true)]);
    let exclusive = check(&observe(
        ALO,
        vec![
            conn(1, Start::Beginning, &["a", "b", "c"]),
            conn(2, Start::AtOrAfter("c".into()), &["d", "e"]),
        ],
    ));
    assert!(exclusive.is_empty(), "{exclusive:?}");
    // ...but going back further, or jumping ahead, still is.
    for delivered in [&["b", "c", "d", "e"][..], &["e"][..]] {
        let findings = check(&observe(
            ALO,
            vec![
                conn(1, Start::Beginning, &["a", "b", "c"]),
                conn(2, Start::AtOrAfter("c".into()), delivered),
            ],
        ));
        assert!(
            kinds(&findings).contains(&("resume-gap", false)),
            "{delivered:?}: {findings:?}"
        );
    }
}

#[test]
fn gaps_and_reorders_within_a_connection_are_skip_and_nonmonotonic() {
    let findings = check(&observe(
        ALO,
        vec![conn(1, Start::Beginning, &["a", "c", "b", "d", "e"])],
    ));
    assert_eq!(kinds(&findings), [("skip", false), ("nonmonotonic", false)]);
}

#[test]
fn foreign_and_altered_items_are_unexpected_and_inconsistent() {
    let mut connection = conn(1, Start::Beginning, &["a", "x", "zz", "b", "c", "d", "e"]);
    connection.delivered[3].1 = "tampered".to_owned();
    let findings = check(&observe(ALO, vec![connection]));
    assert_eq!(
        kinds(&findings),
        [
            ("unexpected", false),
            ("unexpected", false),
            ("inconsistent", false)
        ]
    );
    assert!(findings[0].message.contains("outside the filters"));
    assert!(findings[1].message.contains("never published"));
}

#[test]
fn missing_tail_is_unseen_only_when_the_case_waited_for_it() {
    let mut observation = observe(ALO, vec![conn(1, Start::Beginning, &["a", "b", "c"])]);
    assert_eq!(kinds(&check(&observation)), [("unseen", false)]);
    observation.complete = false;
    assert!(check(&observation).is_empty());
}

#[test]
fn at_most_once_allows_loss_but_not_duplicates_or_strangers() {
    let observation = observe(
        Promise::AT_MOST_ONCE,
        vec![conn(1, Start::Live, &["b", "d"])],
    );
    assert!(check(&observation).is_empty());
    let observation = observe(
        Promise::AT_MOST_ONCE,
        vec![conn(1, Start::Live, &["b", "b", "x"])],
    );
    assert_eq!(
        kinds(&check(&observation)),
        [("unexpected", false), ("duplicated", false)]
    );
}
