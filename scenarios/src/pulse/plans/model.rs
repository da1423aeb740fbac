//! The Pulse model: row changes applied to a table, the events they should make, and the filters that pass them.
//!
//! The model follows the seed and `PROTOCOLS.md`, not the reference server's
//! code, on purpose: the oracle and the server must not share a bug. A row
//! lives in a [`Table`]; each [`Change`] applied to it yields the
//! [`ModelEvent`] the API should send (without its id, which the server
//! chooses); a [`Filter`] says which of those a consumer gets.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The primary key field of every model the harness declares.
pub const PRIMARY_KEY: &str = "id";
/// The key of the rows a sentinel uses; plans use keys below it.
pub const SENTINEL_KEY: u32 = 99;

/// A database operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// The event field that carries the row this action is about.
    pub fn row_field(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "after",
            Action::Delete => "deleted",
        }
    }
}

/// PostgreSQL's `REPLICA IDENTITY` of a model's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// Updates carry no `before`; deletes carry the primary key only.
    Default,
    /// Updates carry `before`; deletes carry the whole old row.
    Full,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Default => "default",
            Identity::Full => "full",
        }
    }
}

/// Field values: a row's fields, or a filter's conditions.
pub type Fields = BTreeMap<String, Value>;

/// One row change: create a row, set some of its fields, or delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub key: u32,
    /// What a create or an update sets; empty for a delete.
    pub fields: Fields,
}

impl Change {
    /// The row the harness sends: the key plus the fields.
    pub fn row(&self) -> Value {
        let mut row: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        row.insert(PRIMARY_KEY.to_owned(), json!(self.key));
        Value::Object(row)
    }
}

/// The event a change should produce, without its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEvent {
    pub action: Action,
    /// `created`, `after` or `deleted`, by the action.
    pub row: Value,
    /// `before`: the old row of an update under full replica identity.
    pub before: Option<Value>,
}

impl ModelEvent {
    /// What a delivery oracle compares: action, model and row, as canonical JSON text.
    pub fn content(&self, model_name: &str) -> String {
        json!({"action": self.action.as_str(), "modelName": model_name, "row": self.row})
            .to_string()
    }
}

/// The same rendering as [`ModelEvent::content`] of a delivered event's JSON.
pub fn delivered_content(event: &Value) -> String {
    let row = match event["action"].as_str() {
        Some("create") => event["created"].clone(),
        Some("update") => event["after"].clone(),
        Some("delete") => event["deleted"].clone(),
        _ => Value::Null,
    };
    json!({"action": event["action"], "modelName": event["modelName"], "row": row}).to_string()
}

/// A table as the database holds it: rows by key.
#[derive(Debug, Clone)]
pub struct Table {
    identity: Identity,
    rows: BTreeMap<u32, Value>,
}

impl Table {
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            rows: BTreeMap::new(),
        }
    }

    /// Applies `change` and returns its event, or `None` when the change
    /// cannot happen (a create of an existing row, an update or a delete of
    /// a missing one).
    pub fn apply(&mut self, change: &Change) -> Option<ModelEvent> {
        let full = self.identity == Identity::Full;
        let old = self.rows.get(&change.key).cloned();
        match (change.action, old) {
            (Action::Create, None) => {
                let row = change.row();
                self.rows.insert(change.key, row.clone());
                Some(ModelEvent {
                    action: Action::Create,
                    row,
                    before: None,
                })
            }
            (Action::Update, Some(old)) => {
                // An update sets the given fields and keeps the others.
                let mut after = old.clone();
                for (field, value) in &change.fields {
                    after[field.as_str()] = value.clone();
                }
                self.rows.insert(change.key, after.clone());
                Some(ModelEvent {
                    action: Action::Update,
                    row: after,
                    before: full.then_some(old),
                })
            }
            (Action::Delete, Some(old)) => {
                self.rows.remove(&change.key);
                let row = if full {
                    old
                } else {
                    json!({ PRIMARY_KEY: change.key })
                };
                Some(ModelEvent {
                    action: Action::Delete,
                    row,
                    before: None,
                })
            }
            _ => None,
        }
    }
}

/// The events of `changes` applied in order to an empty table; `None` if
/// one of them cannot happen.
pub fn events(identity: Identity, changes: &[Change]) -> Option<Vec<ModelEvent>> {
    let mut table = Table::new(identity);
    changes.iter().map(|change| table.apply(change)).collect()
}

/// Makes any sequence of changes one that can happen: a create of a live
/// row becomes an update, an update or a delete of a missing row a create.
pub fn legalize(changes: Vec<Change>) -> Vec<Change> {
    let mut live = BTreeSet::new();
    changes
        .into_iter()
        .map(|mut change| {
            change.action = match (change.action, live.contains(&change.key)) {
                (Action::Create, true) => Action::Update,
                (Action::Update | Action::Delete, false) => Action::Create,
                (action, _) => action,
            };
            if change.action == Action::Delete {
                live.remove(&change.key);
                change.fields.clear();
            } else {
                live.insert(change.key);
            }
            change
        })
        .collect()
}

/// An `EventFilter`: per action, the field values an event's row must have;
/// an action that is `None` is not delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub create: Option<Fields>,
    pub update: Option<Fields>,
    pub delete: Option<Fields>,
}

impl Filter {
    /// The JSON form: `{create?: {f: v}, update?: {after: {f: v}}, delete?: {f: v}}`.
    pub fn to_json(&self) -> Value {
        let mut filter = Map::new();
        if let Some(fields) = &self.create {
            filter.insert("create".to_owned(), json!(fields));
        }
        if let Some(fields) = &self.update {
            filter.insert("update".to_owned(), json!({ "after": fields }));
        }
        if let Some(fields) = &self.delete {
            filter.insert("delete".to_owned(), json!(fields));
        }
        Value::Object(filter)
    }

    fn conditions(&self, action: Action) -> Option<&Fields> {
        match action {
            Action::Create => self.create.as_ref(),
            Action::Update => self.update.as_ref(),
            Action::Delete => self.delete.as_ref(),
        }
    }

    /// Whether `event` passes: its action is named and its row has every
    /// listed field with exactly the listed value (JSON equality).
    pub fn admits(&self, event: &ModelEvent) -> bool {
        self.conditions(event.action).is_some_and(|conditions| {
            conditions
                .iter()
                .all(|(field, value)| event.row.get(field) == Some(value))
        })
    }

    /// Changes on the row [`SENTINEL_KEY`] whose last event passes this
    /// filter, or `None` when this filter passes no event the harness makes:
    /// it names no action, or only deletes with conditions under default
    /// replica identity, where a delete carries the key alone.
    pub fn sentinel(&self, identity: Identity) -> Option<Vec<Change>> {
        self.sentinel_on(SENTINEL_KEY, identity)
    }

    /// The same changes as [`Filter::sentinel`], on the row `key`.
    pub fn sentinel_on(&self, key: u32, identity: Identity) -> Option<Vec<Change>> {
        let change = |action, fields: &Fields| Change {
            action,
            key,
            fields: fields.clone(),
        };
        let none = Fields::new();
        if let Some(fields) = &self.create {
            return Some(vec![change(Action::Create, fields)]);
        }
        if let Some(fields) = &self.update {
            return Some(vec![
                change(Action::Create, &none),
                change(Action::Update, fields),
            ]);
        }
        match &self.delete {
            Some(fields) if identity == Identity::Full => Some(vec![
                change(Action::Create, fields),
                change(Action::Delete, &none),
            ]),
            Some(fields) if fields.is_empty() => Some(vec![
                change(Action::Create, &none),
                change(Action::Delete, &none),
            ]),
            _ => None,
        }
    }
}

/// Whether `filter` (none: everything) passes `event`.
pub fn admits(filter: Option<&Filter>, event: &ModelEvent) -> bool {
    filter.is_none_or(|filter| filter.admits(event))
}
