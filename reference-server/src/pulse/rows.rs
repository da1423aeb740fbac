//! Row changes: create, update and delete a model's rows, each committed together with the event that describes it.
//!
//! Rows live in the KV namespace of their model (see
//! [`super::model::rows_namespace`]), keyed by the JSON text of their primary
//! key value, so `1` and `"1"` are different rows. A change, its event, and
//! the event's index entry are one [`crate::store::WriteBatch`], committed by `write`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::PulseError;
use super::events::{Action, Event};
use crate::config::{ModelDecl, ReplicaIdentity};

pub type Row = Map<String, Value>;

/// The body of `POST /_control/pulse/models/{model}/rows`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowRequest {
    pub action: Action,
    pub row: Value,
}

/// What a change does to the stored row.
#[derive(Debug, PartialEq)]
pub enum RowOp {
    Put(Row),
    Delete,
}

/// The KV key of a row: the JSON text of its primary key, which must be a string or a number.
pub fn row_key(model: &ModelDecl, row: &Row) -> Result<String, PulseError> {
    match row.get(&model.primary_key) {
        Some(value @ (Value::String(_) | Value::Number(_))) => Ok(value.to_string()),
        Some(_) => Err(PulseError::invalid_request(format!(
            "the primary key {} must be a string or a number",
            model.primary_key
        ))),
        None => Err(PulseError::invalid_request(format!(
            "row must contain the primary key {}",
            model.primary_key
        ))),
    }
}

/// The row operation and the event (without its id) for one change.
pub fn change(
    model: &ModelDecl,
    action: Action,
    row: Row,
    stored: Option<Row>,
    key: &str,
) -> Result<(RowOp, Event), PulseError> {
    let full = model.replica_identity == ReplicaIdentity::Full;
    let mut event = Event {
        id: String::new(),
        action,
        model_name: model.name.clone(),
        created: None,
        after: None,
        before: None,
        deleted: None,
    };
    let missing = || {
        PulseError::not_found(
            "row_not_found",
            format!(
                "{} has no row with {} = {key}",
                model.name, model.primary_key
            ),
        )
        .with_meta("model", model.name.clone())
    };
    let op = match (action, stored) {
        (Action::Create, Some(_)) => {
            return Err(PulseError::conflict(
                "row_exists",
                format!(
                    "{} already has a row with {} = {key}",
                    model.name, model.primary_key
                ),
            )
            .with_meta("model", model.name.clone()));
        }
        (Action::Create, None) => {
            event.created = Some(Value::Object(row.clone()));
            RowOp::Put(row)
        }
        (Action::Update, Some(old)) => {
            let mut merged = old.clone();
            merged.extend(row);
            event.after = Some(Value::Object(merged.clone()));
            event.before = full.then_some(Value::Object(old));
            RowOp::Put(merged)
        }
        (Action::Delete, Some(old)) => {
            event.deleted = Some(if full {
                Value::Object(old)
            } else {
                let key_value = old.get(&model.primary_key).cloned().unwrap_or_default();
                Value::Object(Row::from_iter([(model.primary_key.clone(), key_value)]))
            });
            RowOp::Delete
        }
        (Action::Update | Action::Delete, None) => return Err(missing()),
    };
    Ok((op, event))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn model(identity: ReplicaIdentity) -> ModelDecl {
        ModelDecl {
            name: "User".to_owned(),
            primary_key: "id".to_owned(),
            replica_identity: identity,
        }
    }

    fn row(value: Value) -> Row {
        match value {
            Value::Object(row) => row,
            _ => unreachable!("test rows are objects"),
        }
    }

    #[test]
    fn updates_merge_and_carry_before_only_with_full_identity() {
        let old = row(json!({"id": 1, "name": "a", "age": 3}));
        for (identity, before) in [
            (ReplicaIdentity::Default, None),
            (ReplicaIdentity::Full, Some(Value::Object(old.clone()))),
        ] {
            let (op, event) = change(
                &model(identity),
                Action::Update,
                row(json!({"id": 1, "name": "b"})),
                Some(old.clone()),
                "1",
            )
            .unwrap();
            let merged = row(json!({"id": 1, "name": "b", "age": 3}));
            assert_eq!(op, RowOp::Put(merged.clone()));
            assert_eq!(event.after, Some(Value::Object(merged)));
            assert_eq!(event.before, before);
        }
    }

    #[test]
    fn deletes_carry_the_key_or_the_whole_row() {
        let old = row(json!({"id": "k", "name": "a"}));
        let delete = |identity| {
            change(
                &model(identity),
                Action::Delete,
                row(json!({"id": "k"})),
                Some(old.clone()),
                "\"k\"",
            )
            .unwrap()
        };
        assert_eq!(
            delete(ReplicaIdentity::Default).1.deleted,
            Some(json!({"id": "k"}))
        );
        assert_eq!(
            delete(ReplicaIdentity::Full).1.deleted,
            Some(Value::Object(old.clone()))
        );
    }

    #[test]
    fn the_primary_key_must_be_a_present_string_or_number() {
        let decl = model(ReplicaIdentity::Default);
        assert_eq!(row_key(&decl, &row(json!({"id": 7}))).unwrap(), "7");
        assert_eq!(row_key(&decl, &row(json!({"id": "7"}))).unwrap(), "\"7\"");
        for bad in [json!({}), json!({"id": null}), json!({"id": [1]})] {
            assert!(row_key(&decl, &row(bad)).is_err());
        }
    }
}
