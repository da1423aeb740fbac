//! The report schema accepts what the harness writes and refuses what breaks the contract.

use serde_json::{Value, json};

use crate::support::schema_errors;

fn good_report() -> Value {
    json!({
        "version": 1,
        "tool": {"name": "harness", "version": "0.1.0"},
        "run_id": "01M81N4RQHJQ6CFSWSKQ492YY7",
        "started_at": "2026-11-22T12:54:20.657Z",
        "finished_at": "2026-11-22T12:54:21.000Z",
        "duration_ms": 343,
        "target": {"url": "http://127.0.0.1:8787", "kind": "reference"},
        "options": {"apis": ["fibric"], "checks": [], "seed": 7, "cases": 32, "strict": false},
        "summary": {"total": 1, "pass": 0, "fail": 1, "non_strict": 0, "skip": 0, "error": 0, "exit_code": 1},
        "checks": [{
            "id": "fibric/cursor/resume", "api": "fibric", "area": "cursor", "level": "MUST",
            "verdict": "fail", "title": "t", "spec": "s", "seed": 7, "duration_ms": 3,
            "findings": [{"kind": "lost", "message": "event 3 never arrived"}],
            "replay": "harness check --checks 'fibric/cursor/resume' --seed 7"
        }]
    })
}

#[test]
fn a_well_formed_report_is_valid() {
    let errors = schema_errors(&good_report());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_pass_may_carry_informational_findings() {
    let mut report = good_report();
    report["checks"][0]["verdict"] = json!("pass");
    report["checks"][0]["findings"] =
        json!([{"kind": "duplicated", "message": "ev_1 twice", "informational": true}]);
    let errors = schema_errors(&report);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn reports_that_break_the_contract_are_refused() {
    type Breakage = Box<dyn Fn(&mut Value)>;
    let breakages: Vec<(&str, Breakage)> = vec![
        ("wrong version", Box::new(|r| r["version"] = json!(2))),
        (
            "unknown verdict",
            Box::new(|r| r["checks"][0]["verdict"] = json!("maybe")),
        ),
        (
            "missing replay",
            Box::new(|r| {
                r["checks"][0].as_object_mut().unwrap().remove("replay");
            }),
        ),
        (
            "a failure without findings",
            Box::new(|r| r["checks"][0]["findings"] = json!([])),
        ),
        (
            "a pass with findings",
            Box::new(|r| r["checks"][0]["verdict"] = json!("pass")),
        ),
        (
            "a skip without a reason",
            Box::new(|r| {
                r["checks"][0]["verdict"] = json!("skip");
                r["checks"][0]["findings"] = json!([]);
            }),
        ),
        (
            "an error without a message",
            Box::new(|r| {
                r["checks"][0]["verdict"] = json!("error");
                r["checks"][0]["findings"] = json!([]);
            }),
        ),
        (
            "a malformed id",
            Box::new(|r| r["checks"][0]["id"] = json!("fibric-cursor")),
        ),
        (
            "an unknown API",
            Box::new(|r| r["options"]["apis"] = json!(["kafka"])),
        ),
        (
            "a local timestamp",
            Box::new(|r| r["started_at"] = json!("2026-11-22 12:54")),
        ),
        (
            "exit code 2 in a report",
            Box::new(|r| r["summary"]["exit_code"] = json!(2)),
        ),
    ];
    for (what, breakage) in breakages {
        let mut report = good_report();
        breakage(&mut report);
        assert!(
            !schema_errors(&report).is_empty(),
            "the schema accepted {what}"
        );
    }
}
