//! Oracles of Fauna's wire shapes: stream lines, the events and their stats, error bodies, `txn_ts` order.
//!
//! Each function returns the problems it saw as sentences (empty when the
//! shape is right); the harness turns them into findings with evidence. They
//! follow the seed and `PROTOCOLS.md`, not the reference server's code.

use serde_json::Value;

/// The fields of every event's `stats`, as seed 000's StreamStats lists them.
/// The real service also sends `rate_limits_hit`; the seed does not list it
/// and neither driver needs it (both default it), so it is not required.
pub const STATS_FIELDS: [&str; 4] = [
    "read_ops",
    "storage_bytes_read",
    "compute_ops",
    "processing_time_ms",
];

/// The range a `txn_ts` in microseconds since the Unix epoch falls in: from
/// 2001-09-09 (10^15 µs) to the year 5138 (10^17 µs). A time in milliseconds
/// or seconds falls below it, one in nanoseconds above.
pub const MICROS: std::ops::Range<u64> = 1_000_000_000_000_000..100_000_000_000_000_000;

/// Media types a JSON-lines body may fairly be served as.
const JSON_MEDIA: [&str; 5] = [
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
];

/// Whether a `Content-Type` names JSON (or a JSON-lines type), whatever its parameters.
pub fn is_json_content_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    JSON_MEDIA.contains(&media.as_str())
}

/// Whether JSON text has no whitespace outside its strings.
pub fn is_compact(text: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte.is_ascii_whitespace() {
            return false;
        }
    }
    true
}

/// The problems of one stream line: `content` without its ending, `crlf` whether it ended in `\r\n`.
pub fn line_problems(content: &[u8], crlf: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if content.is_empty() {
        problems.push("a blank line (both Fauna drivers JSON-parse every line)".to_owned());
        return problems;
    }
    if !crlf {
        problems.push("a line ended by \\n alone, not \\r\\n".to_owned());
    }
    match serde_json::from_slice::<Value>(content) {
        Ok(Value::Object(_)) => {
            if !is_compact(content) {
                problems.push("a line holds JSON that is not compact".to_owned());
            }
        }
        Ok(_) => problems.push("a line holds JSON that is not an object".to_owned()),
        Err(error) => problems.push(format!("a line is not JSON: {error}")),
    }
    problems
}

/// Whether a value is a whole number of the kind `txn_ts` and the stats use.
fn is_integer(value: &Value) -> bool {
    value.as_u64().is_some() || value.as_i64().is_some()
}

/// Whether a value is a `txn_ts` in microseconds (see [`MICROS`]).
fn is_micros(value: &Value) -> bool {
    value.as_u64().is_some_and(|ts| MICROS.contains(&ts))
}

/// The problems of an event's `stats`.
pub fn stats_problems(stats: &Value) -> Vec<String> {
    let Some(stats) = stats.as_object() else {
        return vec![format!("stats is {stats}, not an object")];
    };
    let mut problems = Vec::new();
    for field in STATS_FIELDS {
        match stats.get(field) {
            None => problems.push(format!("stats lacks {field}")),
            Some(value) if !is_integer(value) => {
                problems.push(format!("stats.{field} is {value}, not an integer"));
            }
            Some(_) => {}
        }
    }
    problems
}

/// The problems of one stream event, by its `type`.
pub fn event_problems(event: &Value) -> Vec<String> {
    let Some(object) = event.as_object() else {
        return vec!["the event is not a JSON object".to_owned()];
    };
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    let mut problems = Vec::new();
    let mut need = |field: &str, ok: fn(&Value) -> bool, what: &str| match object.get(field) {
        None => problems.push(format!("a {kind} event lacks {field}")),
        Some(value) if !ok(value) => {
            problems.push(format!("a {kind} event's {field} is {value}, not {what}"));
        }
        Some(_) => {}
    };
    match kind {
        "status" | "add" | "remove" | "update" => {
            if kind != "status" {
                need("data", Value::is_object, "an object");
            }
            need("txn_ts", is_micros, "an integer of µs since the Unix epoch");
            need(
                "cursor",
                |v| v.as_str().is_some_and(|s| !s.is_empty()),
                "a string",
            );
        }
        "error" => {
            need("error", Value::is_object, "an object");
            if let Some(error) = object.get("error").filter(|e| e.is_object()) {
                for field in ["code", "message"] {
                    if !error.get(field).is_some_and(Value::is_string) {
                        problems.push(format!("an error event's error.{field} is not a string"));
                    }
                }
            }
            // Its cursor and stats are the service's, not the seed's or a
            // driver's need: see [`error_event_problems`].
            return problems;
        }
        other => {
            problems.push(format!("an event of unknown type {other:?}"));
            return problems;
        }
    }
    match object.get("stats") {
        None => problems.push(format!("a {kind} event lacks stats")),
        Some(stats) => problems.extend(
            stats_problems(stats)
                .into_iter()
                .map(|p| format!("a {kind} event's {p}")),
        ),
    }
    problems
}

/// What Fauna's service does with an error event that neither the seed nor
/// a driver asks for: it carries `stats` (the seed's four fields) and no
/// `cursor`, since no position follows it.
pub fn error_event_problems(event: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if event.get("cursor").is_some() {
        problems.push("an error event carries a cursor".to_owned());
    }
    match event.get("stats") {
        None => problems.push("an error event lacks stats".to_owned()),
        Some(stats) => problems.extend(
            stats_problems(stats)
                .into_iter()
                .map(|p| format!("an error event's {p}")),
        ),
    }
    problems
}

/// The problems of a protocol error answer: `status`, then `{"error": {"code", "message"}}` with `code`.
pub fn error_answer_problems(
    status: u16,
    body: &str,
    want_status: u16,
    want_code: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    if status != want_status {
        problems.push(format!("answered {status}, not {want_status}"));
    }
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        problems.push("the body is not JSON".to_owned());
        return problems;
    };
    let error = &body["error"];
    match error["code"].as_str() {
        Some(code) if code == want_code => {}
        Some(code) => problems.push(format!("error.code is {code:?}, not {want_code:?}")),
        None => problems.push("the body has no error.code string".to_owned()),
    }
    if !error["message"].is_string() {
        problems.push("the body has no error.message string".to_owned());
    }
    problems
}

/// Where `txn_ts` goes back along a stream's events: (index, previous, this).
pub fn txn_ts_backwards(events: &[Value]) -> Vec<(usize, u64, u64)> {
    let mut last: Option<u64> = None;
    let mut backwards = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let Some(ts) = event["txn_ts"].as_u64() else {
            continue;
        };
        if let Some(previous) = last.filter(|previous| ts < *previous) {
            backwards.push((index, previous, ts));
        }
        last = Some(last.map_or(ts, |previous| previous.max(ts)));
    }
    backwards
}

/// Whether an event is a data event (add, remove or update).
pub fn is_data(event: &Value) -> bool {
    matches!(event["type"].as_str(), Some("add" | "remove" | "update"))
}

/// The document of a data event, tagged (`{"@doc": {...}}`) or simple.
pub fn document(event: &Value) -> Option<&serde_json::Map<String, Value>> {
    let data = &event["data"];
    data.get("@doc").unwrap_or(data).as_object()
}

/// The id of a data event's document.
pub fn document_id(event: &Value) -> Option<&str> {
    document(event)?.get("id")?.as_str()
}

/// A field of a data event's document, with Fauna's number tags taken off.
pub fn document_field(event: &Value, field: &str) -> Option<Value> {
    let value = document(event)?.get(field)?;
    Some(untag(value))
}

/// A tagged scalar (`{"@int": "3"}`, `{"@long": ..}`, `{"@double": ..}`) as plain JSON.
fn untag(value: &Value) -> Value {
    if let Some(object) = value.as_object()
        && object.len() == 1
        && let Some((tag, inner)) = object.iter().next()
        && let Some(text) = inner.as_str()
    {
        let number = match tag.as_str() {
            "@int" | "@long" => text.parse::<i64>().ok().map(Value::from),
            "@double" => text.parse::<f64>().ok().map(Value::from),
            _ => None,
        };
        if let Some(number) = number {
            return number;
        }
    }
    value.clone()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_must_be_compact_objects_ended_by_crlf() {
        assert!(line_problems(br#"{"type":"status","x":"a b"}"#, true).is_empty());
        assert_eq!(line_problems(b"", true).len(), 1);
        assert!(line_problems(br#"{"a":1}"#, false)[0].contains("\\n alone"));
        assert!(line_problems(br#"{"a": 1}"#, true)[0].contains("not compact"));
        assert!(line_problems(b"[1]", true)[0].contains("not an object"));
        assert!(line_problems(b"{", true)[0].contains("not JSON"));
        assert!(is_compact(br#"{"a":"x \" y"}"#));
    }

    #[test]
    fn content_types_of_json() {
        assert!(is_json_content_type("application/json;charset=utf-8"));
        assert!(is_json_content_type("Application/JSON"));
        assert!(is_json_content_type("application/x-ndjson"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type(""));
    }

    fn stats() -> Value {
        json!({"read_ops": 1, "storage_bytes_read": 0, "compute_ops": 1,
            "processing_time_ms": 0})
    }

    const TS: u64 = 1_765_000_000_000_000;

    #[test]
    fn events_are_checked_by_type() {
        let status = json!({"type": "status", "txn_ts": TS, "cursor": "c", "stats": stats()});
        assert!(event_problems(&status).is_empty());
        let add = json!({"type": "add", "data": {}, "txn_ts": TS, "cursor": "c", "stats": stats()});
        assert!(event_problems(&add).is_empty());
        let no_data = json!({"type": "update", "txn_ts": TS, "cursor": "c", "stats": stats()});
        assert_eq!(event_problems(&no_data), ["a update event lacks data"]);
        let error =
            json!({"type": "error", "error": {"code": "x", "message": "y"}, "stats": stats()});
        assert!(event_problems(&error).is_empty());
        assert!(error_event_problems(&error).is_empty());
        let mut with_cursor = error.clone();
        with_cursor["cursor"] = json!("c");
        assert_eq!(
            error_event_problems(&with_cursor),
            ["an error event carries a cursor"]
        );
        // Neither driver reads an error event's cursor or stats: only error.code and .message.
        assert!(event_problems(&with_cursor).is_empty());
        let no_code = json!({"type": "error", "error": {"message": "y"}});
        assert_eq!(
            event_problems(&no_code),
            ["an error event's error.code is not a string"]
        );
        assert_eq!(
            error_event_problems(&no_code),
            ["an error event lacks stats"]
        );
        let mut thin = add.clone();
        thin["stats"]
            .as_object_mut()
            .unwrap()
            .remove("processing_time_ms");
        assert_eq!(
            event_problems(&thin),
            ["a add event's stats lacks processing_time_ms"]
        );
        // The real service's extra field is neither required nor refused.
        let mut rich = add.clone();
        rich["stats"]["rate_limits_hit"] = json!(["read"]);
        assert!(event_problems(&rich).is_empty());
        let mut millis = status.clone();
        millis["txn_ts"] = json!(TS / 1000);
        assert_eq!(
            event_problems(&millis),
            [format!(
                "a status event's txn_ts is {}, not an integer of µs since the Unix epoch",
                TS / 1000
            )]
        );
        assert!(event_problems(&json!({"type": "other"}))[0].contains("unknown type"));
    }

    #[test]
    fn error_answers_need_status_code_and_message() {
        let body = r#"{"error":{"code":"unauthorized","message":"no"}}"#;
        assert!(error_answer_problems(401, body, 401, "unauthorized").is_empty());
        assert_eq!(
            error_answer_problems(403, body, 401, "unauthorized").len(),
            1
        );
        assert_eq!(
            error_answer_problems(401, r#"{"code":"unauthorized"}"#, 401, "unauthorized").len(),
            2
        );
    }

    #[test]
    fn txn_ts_going_back_is_found_where_it_happens() {
        let events: Vec<Value> = [1, 2, 2, 1, 3]
            .iter()
            .map(|ts| json!({"txn_ts": ts}))
            .collect();
        assert_eq!(txn_ts_backwards(&events), [(3, 2, 1)]);
    }

    #[test]
    fn documents_are_read_tagged_or_simple() {
        let tagged = json!({"type": "add", "data": {"@doc": {"id": "7", "v": {"@int": "3"}}}});
        assert_eq!(document_id(&tagged), Some("7"));
        assert_eq!(document_field(&tagged, "v"), Some(json!(3)));
        let simple = json!({"type": "add", "data": {"id": "8", "v": 4}});
        assert_eq!(document_id(&simple), Some("8"));
        assert_eq!(document_field(&simple, "v"), Some(json!(4)));
    }
}
