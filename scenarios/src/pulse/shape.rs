//! Oracles of Pulse's wire shapes: ULIDs, RFC 3339 times, error bodies, StreamInfo and change events.
//!
//! Each takes what arrived and returns findings; none does I/O. They follow
//! the seed's schemas (`PulseError`, `StreamInfo`, `PulseEvent` and its
//! three variants) and the decisions in `PROTOCOLS.md`.

use serde_json::{Value, json};

use super::plans::{Action, ModelEvent};
use crate::verdict::Finding;

/// Whether `text` matches the seed's id pattern `^[0-9A-HJKMNP-TV-Z]{26}$`.
pub fn is_ulid(text: &str) -> bool {
    text.len() == 26
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

/// Whether `text` is an RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`,
/// with `T`/`Z` in either case (RFC 3339 section 5.6) and fields in range.
pub fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = bytes.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let at = |i: usize, c: u8| bytes.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&c));
    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 2), digits(8, 2)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (digits(11, 2), digits(14, 2), digits(17, 2))
    else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let start = i + 1;
        i = start;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if at(i, b'Z') {
        return i + 1 == bytes.len();
    }
    let sign = bytes.get(i).is_some_and(|b| *b == b'+' || *b == b'-');
    sign && bytes.len() == i + 6
        && at(i + 3, b':')
        && digits(i + 1, 2).is_some_and(|h| h <= 23)
        && digits(i + 4, 2).is_some_and(|m| m <= 59)
}

fn clip(body: &str) -> String {
    body.chars().take(300).collect()
}

/// Findings about an error answer: its status is `want` (when given), and
/// its body is a JSON object with string `code` and `message` at the top
/// level and, if present, an object `meta` (the seed's `PulseError`).
pub fn error_answer(what: &str, status: u16, body: &str, want: Option<u16>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let evidence = || json!({"status": status, "body": clip(body)});
    if let Some(want) = want
        && status != want
    {
        findings.push(
            Finding::new("status", format!("{what} answered {status}, not {want}"))
                .with_evidence(evidence()),
        );
    }
    if status < 400 {
        // Not an error answer at all: its body is not an error body.
        return findings;
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let problem = match &parsed {
        None => Some("is not JSON"),
        Some(value) if !value.is_object() => Some("is not a JSON object"),
        Some(value) if !value["code"].is_string() => Some("has no string `code` at the top level"),
        Some(value) if !value["message"].is_string() => {
            Some("has no string `message` at the top level")
        }
        Some(value) if value.get("meta").is_some_and(|m| !m.is_object()) => {
            Some("has a `meta` that is not an object")
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        findings.push(
            Finding::new(
                "error-body",
                format!("{what}: the {status} body {problem} ({{code, message, meta?}} expected)"),
            )
            .with_evidence(evidence()),
        );
    }
    findings
}

/// Findings about one `StreamInfo`: `name` and `model` as created, `status`
/// one of the seed's three, `createdAt` RFC 3339, `cursor` a string if present.
pub fn stream_info(what: &str, info: &Value, name: &str, model: &str) -> Vec<Finding> {
    let mut problems = Vec::new();
    if info["name"] != name {
        problems.push(format!("name is {}, not {name:?}", info["name"]));
    }
    if info["model"] != model {
        problems.push(format!("model is {}, not {model:?}", info["model"]));
    }
    if !matches!(
        info["status"].as_str(),
        Some("active" | "paused" | "stopped")
    ) {
        problems.push(format!(
            "status is {}, not active, paused or stopped",
            info["status"]
        ));
    }
    if !info["createdAt"].as_str().is_some_and(is_rfc3339) {
        problems.push(format!(
            "createdAt is {}, not an RFC 3339 date-time",
            info["createdAt"]
        ));
    }
    if info.get("cursor").is_some_and(|c| !c.is_string()) {
        problems.push(format!("cursor is {}, not a string", info["cursor"]));
    }
    problems
        .into_iter()
        .map(|problem| {
            Finding::new("stream-info", format!("{what}: {problem}")).with_evidence(info.clone())
        })
        .collect()
}

/// Findings about one delivered event against the model's: `id` a ULID,
/// `action` and `modelName` as published, and the row field of the action
/// (`created`, `after`, `deleted`) equal to the model's, with `before` on an
/// update exactly when the model has one (full replica identity).
pub fn event(delivered: &Value, expected: &ModelEvent, model_name: &str) -> Vec<Finding> {
    let mut problems = Vec::new();
    if !delivered["id"].as_str().is_some_and(is_ulid) {
        problems.push(format!("id {} is not a ULID", delivered["id"]));
    }
    if delivered["action"] != expected.action.as_str() {
        problems.push(format!(
            "action is {}, not {:?}",
            delivered["action"],
            expected.action.as_str()
        ));
    }
    if delivered["modelName"] != model_name {
        problems.push(format!(
            "modelName is {}, not {model_name:?}",
            delivered["modelName"]
        ));
    }
    let field = expected.action.row_field();
    match delivered.get(field) {
        None => problems.push(format!("{field} is missing")),
        Some(row) if *row != expected.row => {
            problems.push(format!("{field} is {row}, not {}", expected.row));
        }
        Some(_) => {}
    }
    if expected.action == Action::Update {
        match (delivered.get("before"), &expected.before) {
            (None, Some(_)) => {
                problems.push("before is missing, with full replica identity".to_owned());
            }
            (Some(before), None) => problems.push(format!(
                "before is {before}, with default replica identity (it must be absent)"
            )),
            (Some(before), Some(old)) if before != old => {
                problems.push(format!("before is {before}, not the old row {old}"));
            }
            _ => {}
        }
    }
    problems
        .into_iter()
        .map(|problem| {
            Finding::new(
                "event-shape",
                format!("a {} event: {problem}", expected.action.as_str()),
            )
            .with_evidence(json!({"delivered": delivered, "expected": expected}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_follow_the_seed_pattern() {
        assert!(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(is_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        for bad in [
            "01arz3ndektsv4rrffq69g5fav",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAI",
            "01ARZ3NDEKTSV4RRFFQ69G5FAU",
            "not-a-ulid",
        ] {
            assert!(!is_ulid(bad), "{bad}");
        }
    }

    #[test]
    fn rfc3339_date_times() {
        for good in [
            "2024-02-29T23:59:60Z",
            "2025-01-01t00:00:00.123456z",
            "2025-06-30T12:00:00+02:00",
            "2025-06-30T12:00:00.5-11:30",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2025-02-29T00:00:00Z",
            "2025-01-01 00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00+2:00",
            "1735689600",
            "",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn error_bodies_need_code_and_message_at_the_top() {
        let good = r#"{"code": "unauthorized", "message": "no key", "meta": {}}"#;
        assert!(error_answer("x", 401, good, Some(401)).is_empty());
        let wrapped = r#"{"error": {"code": "unauthorized", "message": "no key"}}"#;
        let findings = error_answer("x", 401, wrapped, Some(401));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, "error-body");
        let kinds: Vec<String> = error_answer("x", 404, good, Some(400))
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, ["status"]);
        assert_eq!(error_answer("x", 200, "", Some(401)).len(), 1);
    }

    #[test]
    fn update_events_carry_before_exactly_with_full_identity() {
        let expected = ModelEvent {
            action: Action::Update,
            row: json!({"id": 1, "role": "user"}),
            before: Some(json!({"id": 1, "role": "admin"})),
        };
        let mut delivered = json!({
            "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "action": "update", "modelName": "U",
            "after": {"id": 1, "role": "user"}, "before": {"id": 1, "role": "admin"},
        });
        assert!(event(&delivered, &expected, "U").is_empty());
        delivered.as_object_mut().unwrap().remove("before");
        assert_eq!(event(&delivered, &expected, "U").len(), 1);
        let default = ModelEvent {
            before: None,
            ..expected
        };
        assert!(event(&delivered, &default, "U").is_empty());
    }
}
