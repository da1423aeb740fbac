//! Offset maps as requests write them: `{stream id: offset}` with offsets from -1, `"min"`, `"max"` or a number in a string.
//!
//! -1 (`"min"`) means "nothing of this stream" and is dropped, as the node
//! drops it; `"max"` is kept as `u64::MAX`, which only an upper bound can use
//! (and which is then out of range).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::model::StreamId;

/// The largest offset JSON numbers carry exactly, as on the node.
pub const MAX_OFFSET: u64 = (1 << 53) - 1;

/// A parsed offset map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetMap(pub BTreeMap<StreamId, u64>);

impl<'de> Deserialize<'de> for OffsetMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (stream, value) in raw {
            let id: StreamId = stream
                .parse()
                .map_err(|e| serde::de::Error::custom(format!("parsing StreamId: {e}")))?;
            if let Some(offset) = offset(&value).map_err(serde::de::Error::custom)? {
                map.insert(id, offset);
            }
        }
        Ok(OffsetMap(map))
    }
}

/// One offset value: `None` for -1 / `"min"`.
fn offset(value: &Value) -> Result<Option<u64>, String> {
    let number = match value {
        Value::String(text) if text == "min" => return Ok(None),
        Value::String(text) if text == "max" => return Ok(Some(u64::MAX)),
        Value::String(text) => text
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is not an offset"))?,
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("{n} is not an offset (a whole number from -1)"))?,
        other => return Err(format!("{other} is not an offset")),
    };
    match number {
        -1 => Ok(None),
        n if n < -1 => Err(format!("number {n} is below -1")),
        n => {
            let n = n.unsigned_abs();
            if n > MAX_OFFSET {
                Err(format!("number {n} is above {MAX_OFFSET}"))
            } else {
                Ok(Some(n))
            }
        }
    }
}

impl OffsetMap {
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(stream, offset)| (stream.to_string(), Value::from(*offset)))
                .collect(),
        )
    }
}

/// Deserialises an optional map where `null` means absent (the SDK sends `"upperBound": null`).
pub fn optional<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffsetMap>, D::Error> {
    Option::<OffsetMap>::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "1g1UOqdpvBB1KHsGWGZiK3Vi8MYGDZZ1oylpOajUk.s-2";

    fn parse(json: &str) -> Result<OffsetMap, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn the_written_forms_of_an_offset() {
        let stream: StreamId = S.parse().unwrap();
        assert_eq!(parse(&format!(r#"{{"{S}": 34}}"#)).unwrap().0[&stream], 34);
        assert_eq!(
            parse(&format!(r#"{{"{S}": "34"}}"#)).unwrap().0[&stream],
            34
        );
        assert_eq!(
            parse(&format!(r#"{{"{S}": "max"}}"#)).unwrap().0[&stream],
            u64::MAX
        );
        assert!(parse(&format!(r#"{{"{S}": -1}}"#)).unwrap().0.is_empty());
        assert!(parse(&format!(r#"{{"{S}": "min"}}"#)).unwrap().0.is_empty());
    }

    #[test]
    fn bad_offsets_and_stream_ids_are_refused() {
        assert!(
            parse(&format!(r#"{{"{S}": -2}}"#))
                .unwrap_err()
                .contains("below -1")
        );
        assert!(parse(&format!(r#"{{"{S}": 1.5}}"#)).is_err());
        assert!(parse(&format!(r#"{{"{S}": 9007199254740992}}"#)).is_err());
        assert!(parse(r#"{"nope": 1}"#).unwrap_err().contains("StreamId"));
    }
}
