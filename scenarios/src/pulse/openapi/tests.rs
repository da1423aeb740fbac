//! The transcription held to the seed's own text (read in place from `../shared/seeds/`), and the validator's verdicts on good and broken answers.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::check::Api;
use crate::transcript::{Observed, Transcript};
use crate::verdict::Finding;

fn seed() -> String {
    let path = testenv::seeds().join(Api::Pulse.seed_file());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The indentation of a line and its text without it.
fn indented(line: &str) -> (usize, &str) {
    let text = line.trim_start();
    (line.len() - text.len(), text.trim_end())
}

/// The lines of the seed's YAML block at the top-level key `key`.
fn block<'a>(seed: &'a str, key: &str) -> Vec<&'a str> {
    let start = format!("{key}:");
    seed.lines()
        .skip_while(|line| *line != start)
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with(' '))
        .collect()
}

/// Every operation of the seed: (method, path, operationId, statuses, secured).
fn seed_operations(seed: &str) -> Vec<(String, String, String, Vec<u16>, bool)> {
    let mut ops = Vec::new();
    let mut path = String::new();
    let mut in_responses = false;
    for line in block(seed, "paths") {
        let (indent, text) = indented(line);
        match indent {
            2 => path = text.trim_end_matches(':').to_owned(),
            4 => {
                let method = text.trim_end_matches(':').to_ascii_uppercase();
                ops.push((method, path.clone(), String::new(), Vec::new(), true));
                in_responses = false;
            }
            6 => {
                let op = ops.last_mut().expect("a method before its fields");
                in_responses = text == "responses:";
                if let Some(id) = text.strip_prefix("operationId: ") {
                    op.2 = id.to_owned();
                }
                if text == "security: []" {
                    op.4 = false;
                }
            }
            8 if in_responses => {
                let status = text.trim_matches(|c| c == '\'' || c == ':');
                let op = ops.last_mut().expect("a method before its responses");
                op.3.push(status.parse().expect("a status code"));
            }
            _ => {}
        }
    }
    ops
}

#[test]
fn the_transcription_lists_exactly_the_seeds_operations_and_statuses() {
    let seed = seed();
    let theirs = seed_operations(&seed);
    let ours: Vec<_> = OPERATIONS
        .iter()
        .map(|op| {
            (
                op.method.to_owned(),
                op.path.to_owned(),
                op.id.to_owned(),
                op.statuses(),
                op.secured,
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 7, "the seed has seven operations");
}

/// Each schema of the seed's `components/schemas`: its required names, enum
/// values and constants, over all its nesting.
fn seed_schemas(seed: &str) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let mut schemas: Vec<(String, BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    let mut list: Option<&str> = None;
    let mut in_schemas = false;
    for line in block(seed, "components") {
        let (indent, text) = indented(line);
        if indent == 2 {
            in_schemas = text == "schemas:";
            continue;
        }
        if !in_schemas {
            continue;
        }
        if indent == 4 {
            schemas.push((
                text.trim_end_matches(':').to_owned(),
                BTreeSet::new(),
                BTreeSet::new(),
            ));
            continue;
        }
        let Some(schema) = schemas.last_mut() else {
            continue;
        };
        if let Some(item) = text.strip_prefix("- ") {
            match list {
                Some("required") => schema.1.insert(item.to_owned()),
                Some("enum") => schema.2.insert(item.to_owned()),
                _ => false,
            };
            continue;
        }
        list = match text {
            "required:" => Some("required"),
            "enum:" => Some("enum"),
            _ => None,
        };
        if let Some(constant) = text.strip_prefix("const: ") {
            schema.2.insert(constant.to_owned());
        }
    }
    schemas
}

/// The required names and the enum and const values of our schema, over
/// its nesting but not into other components.
fn ours(schema: &Schema, required: &mut BTreeSet<String>, values: &mut BTreeSet<String>) {
    match schema {
        Schema::String(text) => {
            values.extend(text.one_of.iter().map(|v| (*v).to_owned()));
            values.extend(text.constant.map(str::to_owned));
        }
        Schema::Object(shape) => {
            required.extend(shape.required.iter().map(|r| (*r).to_owned()));
            for (_, property) in shape.properties {
                ours(property, required, values);
            }
        }
        Schema::Array(items) => ours(items, required, values),
        Schema::AllOf(parts) => {
            // The variants' first part is PulseEvent's, a `$ref` in the seed.
            for part in &parts[1..] {
                ours(part, required, values);
            }
        }
        Schema::Ref(_) => {}
        Schema::Discriminated { base, .. } => ours(base, required, values),
    }
}

#[test]
fn the_transcription_has_the_seeds_schemas_required_fields_and_enums() {
    let components: [&Component; 10] = [
        &STREAM_CREATE_REQUEST,
        &STREAM_INFO,
        &SUBSCRIPTION_REQUEST,
        &EVENT_FILTER,
        &PULSE_EVENT,
        &PULSE_CREATE_EVENT,
        &PULSE_UPDATE_EVENT,
        &PULSE_DELETE_EVENT,
        &HEALTH_STATUS,
        &PULSE_ERROR,
    ];
    let mut transcribed = Vec::new();
    for component in components {
        let (mut required, mut values) = (BTreeSet::new(), BTreeSet::new());
        ours(&component.schema, &mut required, &mut values);
        transcribed.push((component.name.to_owned(), required, values));
    }
    assert_eq!(transcribed, seed_schemas(&seed()));
}

fn event_json() -> Value {
    json!({"id": "01HV3K8Z9X4N2M6P7Q8R9S0T1V", "action": "update", "modelName": "User",
        "after": {"id": 1}, "before": {"id": 1}})
}

#[test]
fn events_are_checked_against_the_variant_their_action_names() {
    assert_eq!(value(&PULSE_EVENT.schema, &event_json()), vec![]);
    let mut event = event_json();
    event["action"] = json!("create");
    let problems: Vec<String> = value(&PULSE_EVENT.schema, &event)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        ["/ (PulseCreateEvent): lacks the required property created"]
    );
    event["action"] = json!("upsert");
    event["id"] = json!("01hv3k8z9x4n2m6p7q8r9s0t1v");
    let problems: Vec<String> = value(&PULSE_EVENT.schema, &event)
        .iter()
        .map(|v| v.problem.clone())
        .collect();
    assert_eq!(
        problems,
        [
            "\"01hv3k8z9x4n2m6p7q8r9s0t1v\" does not match ^[0-9A-HJKMNP-TV-Z]{26}$",
            "\"upsert\" is not one of create, update, delete",
        ]
    );
    let mut event = event_json();
    event["after"] = json!(null);
    event["modelName"] = json!(7);
    assert_eq!(value(&PULSE_EVENT.schema, &event).len(), 2);
}

#[test]
fn stream_lists_and_health_are_checked_to_their_enums_and_formats() {
    let list = operation("listStreams").unwrap().answer(200).unwrap();
    let (_, schema) = list.content.unwrap();
    let good = json!({"data": [{"name": "s", "model": "User", "status": "paused",
        "createdAt": "2026-12-07T10:00:00.000Z"}]});
    assert_eq!(value(schema, &good), vec![]);
    let bad = json!({"data": [{"name": "s", "model": "User", "status": "running",
        "createdAt": "yesterday", "cursor": 5}]});
    let at: Vec<String> = value(schema, &bad).into_iter().map(|v| v.at).collect();
    assert_eq!(
        at,
        ["/data/0/status", "/data/0/cursor", "/data/0/createdAt"]
    );
    let health = json!({"status": "healthy"});
    assert_eq!(value(&HEALTH_STATUS.schema, &health).len(), 1);
}

fn headers(content_type: &str) -> Vec<(String, String)> {
    vec![("content-type".to_owned(), content_type.to_owned())]
}

#[test]
fn responses_need_a_documented_status_content_type_and_body() {
    let get_event = operation("getEvent").unwrap();
    let error = r#"{"code": "event_not_found", "message": "no"}"#;
    assert!(response(get_event, 404, &headers("application/json"), Some(error)).is_empty());
    let kinds =
        |findings: Vec<Finding>| -> Vec<String> { findings.into_iter().map(|f| f.kind).collect() };
    let undocumented = response(get_event, 400, &headers("application/json"), Some(error));
    assert_eq!(kinds(undocumented), ["undocumented-status"]);
    let wrapped = r#"{"error": {"code": "x", "message": "y"}}"#;
    let findings = response(get_event, 404, &headers("text/plain"), Some(wrapped));
    assert_eq!(kinds(findings), ["content-type", "body-schema"]);
    let delete = operation("deleteStream").unwrap();
    assert!(response(delete, 204, &[], Some("")).is_empty());
    assert_eq!(
        kinds(response(delete, 204, &[], Some("{}"))),
        ["body-schema"]
    );
    let consume = operation("consumeStreamEvents").unwrap();
    let sse = headers("text/event-stream; charset=utf-8");
    assert!(response(consume, 200, &sse, None).is_empty());
    assert_eq!(kinds(event(consume, "not json")), ["event-schema"]);
    assert!(event(consume, &event_json().to_string()).is_empty());
}

#[test]
fn requests_find_their_operation_by_method_and_path_template() {
    let id = |method: &str, path: &str| find(method, path).map(|op| op.id);
    assert_eq!(
        id("GET", "/streams/a-b/events"),
        Some("consumeStreamEvents")
    );
    assert_eq!(id("DELETE", "/streams/a-b"), Some("deleteStream"));
    assert_eq!(id("GET", "/streams?x=1"), Some("listStreams"));
    assert_eq!(id("POST", "/streams"), Some("createStream"));
    assert_eq!(id("PUT", "/streams"), None);
    assert_eq!(id("GET", "/_control/pulse/models"), None);
    assert_eq!(id("GET", "/events/"), None);
}

#[test]
fn a_transcript_is_checked_answer_by_answer_and_event_by_event() {
    let mut record = Transcript::default();
    let request = |method: &str, path: &str| Observed::Request {
        method: method.to_owned(),
        url: format!("http://127.0.0.1:1/api{path}"),
        headers: Vec::new(),
    };
    record.push(0, 1, request("POST", "/_control/pulse/models"));
    record.push(
        0,
        1,
        Observed::Response {
            status: 418,
            headers: Vec::new(),
            body: None,
        },
    );
    record.push(0, 2, request("GET", "/streams/s/events"));
    record.push(
        0,
        2,
        Observed::Response {
            status: 200,
            headers: headers("text/event-stream"),
            body: None,
        },
    );
    let good = event_json().to_string();
    let sse = |data: &str| Observed::SseEvent {
        id: None,
        event: "message".to_owned(),
        data: data.to_owned(),
    };
    record.push(0, 2, sse(&good));
    record.push(0, 2, sse(r#"{"id": "x"}"#));
    record.push(0, 3, request("GET", "/events/nope"));
    record.push(
        0,
        3,
        Observed::Response {
            status: 400,
            headers: headers("application/json"),
            body: Some(r#"{"code": "c", "message": "m"}"#.to_owned()),
        },
    );
    let findings = transcript(&record, "http://127.0.0.1:1/api/");
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["event-schema", "undocumented-status"],
        "{findings:#?}"
    );
}
