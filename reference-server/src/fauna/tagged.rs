//! Fauna's tagged JSON format: typed numbers, documents, modules, times and event sources, both ways.
//!
//! Encoding: integers are `{"@int": "n"}` (32-bit) or `{"@long": "n"}`,
//! other numbers `{"@double": "x"}`, an object with a key starting with `@`
//! is wrapped in `{"@object": ...}`, a document is `{"@doc": {id, coll:
//! {"@mod": C}, ts: {"@time": ...}, ...fields}}`, and an event source is
//! `{"@stream": token}`. Decoding takes the same forms back; tags a driver
//! could send that this server has no use for are refused by name.

use serde_json::{Map, Value, json};

use super::db::Document;
use super::time::rfc3339;

/// A plain JSON value in tagged form.
pub fn encode(value: &Value) -> Value {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i32::try_from(i).is_ok() {
                    json!({"@int": i.to_string()})
                } else {
                    json!({"@long": i.to_string()})
                }
            } else if let Some(u) = n.as_u64() {
                // Beyond i64: Fauna has no such integer; send the nearest double.
                json!({"@double": (u as f64).to_string()})
            } else {
                json!({"@double": n.to_string()})
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(encode).collect()),
        Value::Object(map) => {
            let inner: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), encode(v))).collect();
            if map.keys().any(|k| k.starts_with('@')) {
                json!({"@object": inner})
            } else {
                Value::Object(inner)
            }
        }
        other => other.clone(),
    }
}

/// A document in tagged form.
pub fn document(doc: &Document) -> Value {
    let mut fields = Map::new();
    fields.insert("id".into(), Value::String(doc.id.clone()));
    fields.insert("coll".into(), json!({"@mod": doc.collection}));
    fields.insert("ts".into(), json!({"@time": rfc3339(doc.version.ts)}));
    for (key, value) in &doc.version.data {
        fields.insert(key.clone(), encode(value));
    }
    json!({"@doc": fields})
}

/// A tagged value back to plain JSON; the error names what is not supported.
pub fn decode(value: &Value) -> Result<Value, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            if let Some((tag, inner)) = single_tag(map) {
                return decode_tag(tag, inner);
            }
            let mut out = Map::new();
            for (key, value) in map {
                out.insert(key.clone(), decode(value)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn single_tag(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    let (key, value) = entries.next()?;
    (entries.next().is_none() && key.starts_with('@')).then_some((key.as_str(), value))
}

fn decode_tag(tag: &str, inner: &Value) -> Result<Value, String> {
    let text = || {
        inner
            .as_str()
            .ok_or_else(|| format!("{tag} needs a string"))
    };
    match tag {
        "@int" | "@long" => text()?
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{tag} {inner} is not an integer")),
        "@double" => {
            let d: f64 = text()?
                .parse()
                .map_err(|_| format!("@double {inner} is not a number"))?;
            serde_json::Number::from_f64(d)
                .map(Value::Number)
                .ok_or_else(|| format!("@double {inner} is not finite"))
        }
        "@object" => match inner {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, value) in map {
                    out.insert(key.clone(), decode(value)?);
                }
                Ok(Value::Object(out))
            }
            _ => Err("@object needs an object".to_owned()),
        },
        other => Err(format!(
            "the tagged type {other} is not supported by this reference server"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_objects_and_escapes_round_trip() {
        let plain = json!({"i": 5, "l": 5_000_000_000i64, "d": 4.5, "s": "x", "b": true, "n": null,
            "a": [1, {"@weird": 2}], "o": {"x": -1}});
        let tagged = encode(&plain);
        assert_eq!(tagged["i"], json!({"@int": "5"}));
        assert_eq!(tagged["l"], json!({"@long": "5000000000"}));
        assert_eq!(tagged["d"], json!({"@double": "4.5"}));
        assert_eq!(
            tagged["a"][1],
            json!({"@object": {"@weird": {"@int": "2"}}})
        );
        assert_eq!(decode(&tagged), Ok(plain));
    }

    #[test]
    fn unknown_tags_are_refused_by_name() {
        assert!(
            decode(&json!({"@time": "2024-01-01T00:00:00Z"}))
                .unwrap_err()
                .contains("@time")
        );
        assert!(decode(&json!({"@int": "x"})).is_err());
    }
}
