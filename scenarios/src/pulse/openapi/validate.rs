//! Validation against the seed's OpenAPI: JSON values against its schemas, each response against its operation, and each SSE event.

use std::fmt;

use serde_json::{Value, json};

use super::{Component, Format, MediaType, OPERATIONS, Object, Operation, Schema, Text};
use crate::pulse::shape::is_rfc3339;
use crate::transcript::header;
use crate::verdict::Finding;

/// The most violations one finding lists.
const MAX_LISTED: usize = 5;

/// Where a value breaks its schema, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// A JSON pointer into the value (`""`: the value itself).
    pub at: String,
    pub problem: String,
    /// The innermost named schema the broken part belongs to.
    pub schema: Option<&'static str>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.at.is_empty() { "/" } else { &self.at };
        match self.schema {
            Some(schema) => write!(f, "{at} ({schema}): {}", self.problem),
            None => write!(f, "{at}: {}", self.problem),
        }
    }
}

/// Every way `value` breaks `schema`.
pub fn value(schema: &Schema, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check(schema, value, "", &mut out);
    out
}

fn check(schema: &Schema, value: &Value, at: &str, out: &mut Vec<Violation>) {
    match schema {
        Schema::String(text) => string(text, value, at, out),
        Schema::Object(shape) => object(shape, value, at, out),
        Schema::Array(items) => match value.as_array() {
            Some(values) => {
                for (i, item) in values.iter().enumerate() {
                    check(items, item, &format!("{at}/{i}"), out);
                }
            }
            None => push(out, at, format!("is {}, not an array", kind(value))),
        },
        Schema::AllOf(parts) => {
            for part in *parts {
                check(part, value, at, out);
            }
        }
        Schema::Ref(component) => named(component, value, at, out),
        Schema::Discriminated {
            base,
            property,
            mapping,
        } => {
            // Each mapped variant includes the base (`allOf`), so the base
            // is checked on its own only when no variant applies.
            let tag = value.get(*property).and_then(Value::as_str);
            match mapping.iter().find(|(name, _)| Some(*name) == tag) {
                Some((_, variant)) => named(variant, value, at, out),
                None => check(base, value, at, out),
            }
        }
    }
}

fn named(component: &'static Component, value: &Value, at: &str, out: &mut Vec<Violation>) {
    let before = out.len();
    check(&component.schema, value, at, out);
    for violation in &mut out[before..] {
        violation.schema.get_or_insert(component.name);
    }
}

fn string(text: &Text, value: &Value, at: &str, out: &mut Vec<Violation>) {
    let Some(s) = value.as_str() else {
        return push(out, at, format!("is {}, not a string", kind(value)));
    };
    if !text.one_of.is_empty() && !text.one_of.contains(&s) {
        push(
            out,
            at,
            format!("{s:?} is not one of {}", text.one_of.join(", ")),
        );
    }
    if let Some(constant) = text.constant
        && s != constant
    {
        push(out, at, format!("{s:?} is not {constant:?}"));
    }
    if let Some(pattern) = text.pattern
        && !pattern.matches(s)
    {
        push(
            out,
            at,
            format!("{s:?} does not match {}", pattern.source()),
        );
    }
    if text.format == Some(Format::DateTime) && !is_rfc3339(s) {
        push(out, at, format!("{s:?} is not an RFC 3339 date-time"));
    }
}

fn object(shape: &Object, value: &Value, at: &str, out: &mut Vec<Violation>) {
    let Some(map) = value.as_object() else {
        return push(out, at, format!("is {}, not an object", kind(value)));
    };
    for name in shape.required {
        if !map.contains_key(*name) {
            push(out, at, format!("lacks the required property {name}"));
        }
    }
    for (name, schema) in shape.properties {
        if let Some(property) = map.get(*name) {
            check(schema, property, &format!("{at}/{name}"), out);
        }
    }
}

fn push(out: &mut Vec<Violation>, at: &str, problem: String) {
    out.push(Violation {
        at: at.to_owned(),
        problem,
        schema: None,
    });
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The operation a request for `method` and `path` (from the API's base,
/// query allowed) goes to, if the seed has one.
pub fn find(method: &str, path: &str) -> Option<&'static Operation> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    OPERATIONS.iter().find(|op| {
        let template: Vec<&str> = op.path[1..].split('/').collect();
        op.method.eq_ignore_ascii_case(method)
            && template.len() == segments.len()
            && template.iter().zip(&segments).all(|(want, got)| {
                if want.starts_with('{') {
                    !got.is_empty()
                } else {
                    want == got
                }
            })
    })
}

fn clip(body: &str) -> String {
    body.chars().take(300).collect()
}

/// Findings about one answer of `op`: the status is one the seed documents
/// for it, the content type is the documented one, and the body matches its
/// schema. `body` is `None` for a stream the harness kept reading: its
/// events are checked one by one with [`event`].
pub fn response(
    op: &Operation,
    status: u16,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Vec<Finding> {
    let label = op.label();
    let evidence = || json!({"operation": op.id, "status": status, "body": body.map(clip)});
    let Some(answer) = op.answer(status) else {
        let documented: Vec<String> = op.statuses().iter().map(u16::to_string).collect();
        let message = format!(
            "{label} answered {status}, which the seed does not document for it (only {})",
            documented.join(", ")
        );
        return vec![Finding::new("undocumented-status", message).with_evidence(evidence())];
    };
    let Some((media, schema)) = answer.content else {
        return match body {
            Some(body) if !body.is_empty() => vec![
                Finding::new(
                    "body-schema",
                    format!("{label} answered {status} with a body, where the seed documents none"),
                )
                .with_evidence(evidence()),
            ],
            _ => Vec::new(),
        };
    };
    let mut findings = Vec::new();
    let content_type = header(headers, "content-type");
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if essence.as_deref() != Some(media.as_str()) {
        let message = format!(
            "{label} answered {status} with Content-Type {}, not {}",
            content_type.unwrap_or("(none)"),
            media.as_str()
        );
        findings.push(Finding::new("content-type", message).with_evidence(evidence()));
    }
    if media == MediaType::Json
        && let Some(body) = body
    {
        let what = format!("{label}: the {status} body");
        findings.extend(json_body(&what, schema, body, "body-schema"));
    }
    findings
}

/// Findings about the data of one server-sent event of `op`'s stream.
pub fn event(op: &Operation, data: &str) -> Vec<Finding> {
    let Some(answer) = op.answer(200) else {
        return Vec::new();
    };
    let Some((MediaType::EventStream, schema)) = answer.content else {
        return Vec::new();
    };
    let what = format!("{}: an event's data", op.label());
    json_body(&what, schema, data, "event-schema")
}

fn json_body(what: &str, schema: &Schema, body: &str, kind: &str) -> Vec<Finding> {
    let parsed: Value = match serde_json::from_str(body) {
        Ok(parsed) => parsed,
        Err(error) => {
            return vec![
                Finding::new(kind, format!("{what} is not JSON: {error}"))
                    .with_evidence(json!({"body": clip(body)})),
            ];
        }
    };
    let violations = value(schema, &parsed);
    if violations.is_empty() {
        return Vec::new();
    }
    let listed: Vec<String> = violations
        .iter()
        .take(MAX_LISTED)
        .map(ToString::to_string)
        .collect();
    let more = violations.len().saturating_sub(MAX_LISTED);
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    let message = format!(
        "{what} does not match the seed's schema: {}{tail}",
        listed.join("; ")
    );
    vec![
        Finding::new(kind, message)
            .with_evidence(json!({"body": clip(body), "violations": listed})),
    ]
}
