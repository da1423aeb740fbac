//! The atproto JSON form of the data model: `$link` and `$bytes` objects, blobs, and the no-floats rule.
//!
//! The rules come from the atproto data-model specification and its interop
//! vectors: a link is `{"$link": "<cid>"}` and bytes are `{"$bytes":
//! "<base64>"}`, each with no other key; numbers must be integers (an
//! integral float such as `123.0` counts as one); `$type`, where present, is a
//! non-empty string; and a `{"$type": "blob"}` object has a `ref` link, a
//! `mimeType` string and an integer `size`. Errors name the place with a JSON
//! pointer (RFC 6901).

use std::collections::BTreeMap;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use thiserror::Error;

use super::value::Value;
use crate::cid::{Cid, CidError};

/// Standard base64 alphabet; written without padding, read with or without it, as the spec allows.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The deepest JSON nesting converted, matching serde_json's own parser limit, so a
/// hand-built `serde_json::Value` cannot exhaust the stack.
pub const MAX_JSON_DEPTH: usize = 128;

/// Why a JSON document is not valid atproto data. `path` is a JSON pointer to the offending value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataModelError {
    #[error("{path:?}: {number} is a float; the data model has integers only")]
    Float { path: String, number: String },
    #[error("{path:?}: {number} is outside the 64-bit signed range")]
    IntegerOutOfRange { path: String, number: String },
    #[error("{path:?}: record data must be an object, found {found}")]
    NotAnObject { path: String, found: &'static str },
    #[error("{path:?}: $link must be a string")]
    LinkNotString { path: String },
    #[error("{path:?}: $link is not a valid CID: {source}")]
    BadLink {
        path: String,
        #[source]
        source: CidError,
    },
    #[error("{path:?}: a $link object must have no other key")]
    LinkExtraKeys { path: String },
    #[error("{path:?}: $bytes must be a string")]
    BytesNotString { path: String },
    #[error("{path:?}: $bytes is not valid standard base64")]
    BadBase64 { path: String },
    #[error("{path:?}: a $bytes object must have no other key")]
    BytesExtraKeys { path: String },
    #[error("{path:?}: $type must be a string")]
    TypeNotString { path: String },
    #[error("{path:?}: $type must not be empty")]
    EmptyType { path: String },
    #[error("{path:?}: blob field {field:?} is missing or has the wrong type")]
    BlobField { path: String, field: &'static str },
    #[error("{path:?}: nesting deeper than {MAX_JSON_DEPTH}")]
    TooDeep { path: String },
}

/// Converts atproto JSON to a data-model value. Any JSON type is accepted at the top level.
pub fn from_atproto_json(json: &serde_json::Value) -> Result<Value, DataModelError> {
    let mut path = String::new();
    convert(json, &mut path, 0)
}

/// Converts atproto JSON that must be record data: the top level is an object (not a link or bytes).
pub fn record_from_atproto_json(json: &serde_json::Value) -> Result<Value, DataModelError> {
    let value = from_atproto_json(json)?;
    match value {
        Value::Map(_) => Ok(value),
        other => Err(DataModelError::NotAnObject {
            path: String::new(),
            found: other.type_name(),
        }),
    }
}

/// Converts a data-model value to its atproto JSON form.
pub fn to_atproto_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(n) => Json::from(*n),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(bytes) => single("$bytes", BASE64.encode(bytes)),
        Value::Array(items) => Json::Array(items.iter().map(to_atproto_json).collect()),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_atproto_json(v)))
                .collect(),
        ),
        Value::Link(cid) => single("$link", cid.to_string()),
    }
}

fn single(key: &str, text: String) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert(key.to_owned(), serde_json::Value::String(text));
    serde_json::Value::Object(object)
}

fn convert(
    json: &serde_json::Value,
    path: &mut String,
    depth: usize,
) -> Result<Value, DataModelError> {
    use serde_json::Value as Json;
    match json {
        Json::Null => Ok(Value::Null),
        Json::Bool(b) => Ok(Value::Bool(*b)),
        Json::Number(n) => integer(n, path).map(Value::Integer),
        Json::String(s) => Ok(Value::String(s.clone())),
        Json::Array(items) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(DataModelError::TooDeep { path: path.clone() });
            }
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                out.push(convert(item, path, depth + 1)?);
                path.truncate(len);
            }
            Ok(Value::Array(out))
        }
        Json::Object(object) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(DataModelError::TooDeep { path: path.clone() });
            }
            convert_object(object, path, depth)
        }
    }
}

fn convert_object(
    object: &serde_json::Map<String, serde_json::Value>,
    path: &mut String,
    depth: usize,
) -> Result<Value, DataModelError> {
    if let Some(link) = object.get("$link") {
        if object.len() != 1 {
            return Err(DataModelError::LinkExtraKeys { path: path.clone() });
        }
        let text = link
            .as_str()
            .ok_or_else(|| DataModelError::LinkNotString { path: path.clone() })?;
        let cid = text
            .parse::<Cid>()
            .map_err(|source| DataModelError::BadLink {
                path: path.clone(),
                source,
            })?;
        return Ok(Value::Link(cid));
    }
    if let Some(bytes) = object.get("$bytes") {
        if object.len() != 1 {
            return Err(DataModelError::BytesExtraKeys { path: path.clone() });
        }
        let text = bytes
            .as_str()
            .ok_or_else(|| DataModelError::BytesNotString { path: path.clone() })?;
        let decoded = BASE64
            .decode(text)
            .map_err(|_| DataModelError::BadBase64 { path: path.clone() })?;
        return Ok(Value::Bytes(decoded));
    }
    let mut map = BTreeMap::new();
    for (key, item) in object {
        let len = path.len();
        path.push('/');
        // RFC 6901 escapes '~' first so that the '~1' written for '/' is not escaped again.
        path.push_str(&key.replace('~', "~0").replace('/', "~1"));
        map.insert(key.clone(), convert(item, path, depth + 1)?);
        path.truncate(len);
    }
    check_type(&map, path)?;
    Ok(Value::Map(map))
}

/// Applies the `$type` rules, and the blob shape when `$type` is `"blob"`.
fn check_type(map: &BTreeMap<String, Value>, path: &str) -> Result<(), DataModelError> {
    let Some(kind) = map.get("$type") else {
        return Ok(());
    };
    match kind.as_str() {
        None => Err(DataModelError::TypeNotString {
            path: path.to_owned(),
        }),
        Some("") => Err(DataModelError::EmptyType {
            path: path.to_owned(),
        }),
        Some("blob") => {
            let require = |field: &'static str, present: bool| {
                if present {
                    Ok(())
                } else {
                    Err(DataModelError::BlobField {
                        path: path.to_owned(),
                        field,
                    })
                }
            };
            require("ref", matches!(map.get("ref"), Some(Value::Link(_))))?;
            require(
                "mimeType",
                matches!(map.get("mimeType"), Some(Value::String(_))),
            )?;
            require("size", matches!(map.get("size"), Some(Value::Integer(_))))
        }
        Some(_) => Ok(()),
    }
}

/// Reads a JSON number as an integer; an integral float is accepted, as the interop vectors require.
fn integer(number: &serde_json::Number, path: &str) -> Result<i64, DataModelError> {
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    let out_of_range = || DataModelError::IntegerOutOfRange {
        path: path.to_owned(),
        number: number.to_string(),
    };
    if number.is_u64() {
        return Err(out_of_range());
    }
    // 2^63 is exact as an f64; the range check comes before the cast so it cannot saturate.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => {
            if (-LIMIT..LIMIT).contains(&f) {
                Ok(f as i64)
            } else {
                Err(out_of_range())
            }
        }
        _ => Err(DataModelError::Float {
            path: path.to_owned(),
            number: number.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers() {
        assert_eq!(from_atproto_json(&json!(123.0)), Ok(Value::Integer(123)));
        assert_eq!(from_atproto_json(&json!(-0.0)), Ok(Value::Integer(0)));
        assert!(matches!(
            from_atproto_json(&json!(1.5)),
            Err(DataModelError::Float { .. })
        ));
        assert!(matches!(
            from_atproto_json(&json!(1e19)),
            Err(DataModelError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            from_atproto_json(&json!(u64::MAX)),
            Err(DataModelError::IntegerOutOfRange { .. })
        ));
    }

    #[test]
    fn bytes_accept_padding_and_write_none() {
        let padded = json!({"$bytes": "AQI="});
        let unpadded = json!({"$bytes": "AQI"});
        assert_eq!(from_atproto_json(&padded), Ok(Value::Bytes(vec![1, 2])));
        assert_eq!(from_atproto_json(&unpadded), Ok(Value::Bytes(vec![1, 2])));
        assert_eq!(to_atproto_json(&Value::Bytes(vec![1, 2])), unpadded);
        assert!(matches!(
            from_atproto_json(&json!({"$bytes": "AQJ"})),
            Err(DataModelError::BadBase64 { .. })
        ));
    }

    #[test]
    fn errors_carry_a_json_pointer() {
        let doc = json!({"a/b": [0, {"c": 1.5}]});
        assert_eq!(
            from_atproto_json(&doc),
            Err(DataModelError::Float {
                path: "/a~1b/1/c".into(),
                number: "1.5".into()
            })
        );
    }

    #[test]
    fn records_must_be_maps() {
        assert!(record_from_atproto_json(&json!({})).is_ok());
        assert!(matches!(
            record_from_atproto_json(&json!({"$bytes": ""})),
            Err(DataModelError::NotAnObject { found: "bytes", .. })
        ));
    }

    #[test]
    fn depth_is_bounded() {
        let mut doc = json!(1);
        for _ in 0..=MAX_JSON_DEPTH {
            doc = json!([doc]);
        }
        assert!(matches!(
            from_atproto_json(&doc),
            Err(DataModelError::TooDeep { .. })
        ));
    }
}
