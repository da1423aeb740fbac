//! The atproto data model as a Rust value: what a DAG-CBOR item or an atproto JSON document means.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::cid::Cid;

/// One item of the atproto data model.
///
/// Maps are held in a `BTreeMap`, which orders keys bytewise; DAG-CBOR orders
/// them length-first, so the encoder sorts again with [`canonical_key_order`]
/// and the decoder checks that order on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Link(Cid),
}

/// The DAG-CBOR order of map keys: shorter first, then bytewise.
///
/// This is the order RFC 7049 called canonical, which is also the bytewise
/// order of the encoded keys, since a shorter text string has a smaller head.
pub fn canonical_key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

impl Value {
    /// A map from `(key, value)` pairs; a repeated key keeps its last value.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value under `key` when this is a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(map) => map.get(key),
            _ => None,
        }
    }

    /// The text when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number when this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The flag when this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes when this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The CID when this is a link.
    pub fn as_link(&self) -> Option<&Cid> {
        match self {
            Value::Link(cid) => Some(cid),
            _ => None,
        }
    }

    /// The items when this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The entries when this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The data-model name of this value's type, for error messages and findings.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Link(_) => "link",
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Cid> for Value {
    fn from(cid: Cid) -> Self {
        Value::Link(cid)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_length_first() {
        let mut keys = vec!["aa", "b", "a", "ab", "", "ba"];
        keys.sort_by(|a, b| canonical_key_order(a, b));
        assert_eq!(keys, ["", "a", "b", "aa", "ab", "ba"]);
    }

    #[test]
    fn accessors() {
        let v = Value::map([("op", Value::from(1)), ("t", Value::from("#commit"))]);
        assert_eq!(v.get("op").and_then(Value::as_i64), Some(1));
        assert_eq!(v.get("t").and_then(Value::as_str), Some("#commit"));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Value::Null.get("op"), None);
        assert_eq!(v.type_name(), "map");
    }
}
