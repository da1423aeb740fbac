//! What the list and the stream send for one stored envelope: its JSON with a cursor, and its SSE frame.

use serde_json::Value;
use wire::sse::{EncodeEvent, encode_event};

use super::cursor::Cursor;
use super::envelope::StoredEnvelope;
use super::filter::FilterSet;
use crate::store::{Position, Record};

/// The data of one envelope frame or list item: the envelope with its cursor.
/// `renamed` is the `envelope-field-renamed` defect: `event_type` goes out as `type`.
pub(super) fn envelope_json(
    envelope: &StoredEnvelope,
    position: Position,
    binding: &str,
    renamed: bool,
) -> Option<String> {
    let cursor = Cursor {
        position,
        binding: binding.to_owned(),
    }
    .encode();
    let wire = envelope.wire(&cursor);
    if !renamed {
        return serde_json::to_string(&wire).ok();
    }
    let Value::Object(fields) = serde_json::to_value(&wire).ok()? else {
        return None;
    };
    let fields: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| {
            (
                if k == "event_type" {
                    "type".to_owned()
                } else {
                    k
                },
                v,
            )
        })
        .collect();
    serde_json::to_string(&fields).ok()
}

/// One envelope's stream frame, or `None` when the subscriber's tenant or
/// filters refuse it.
pub(super) fn render_frame(
    record: &Record,
    owner: &str,
    filters: &FilterSet,
    binding: &str,
    renamed: bool,
    id_is_cursor: bool,
) -> Option<String> {
    let envelope = StoredEnvelope::decode(&record.payload)?;
    if envelope.tenant_id != owner || !filters.matches(&envelope) {
        return None;
    }
    let data = envelope_json(&envelope, record.position, binding, renamed)?;
    let cursor = id_is_cursor.then(|| {
        Cursor {
            position: record.position,
            binding: binding.to_owned(),
        }
        .encode()
    });
    let mut frame = String::new();
    encode_event(
        &mut frame,
        &EncodeEvent {
            id: Some(cursor.as_deref().unwrap_or(&envelope.event_id)),
            event: Some("envelope"),
            data: &data,
            retry: None,
        },
    )
    .ok()?;
    Some(frame)
}
