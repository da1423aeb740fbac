//! Pulse plans: generated row changes, filters and consumer steps, and an independent model of the events and filters they make.
//!
//! The model follows the seed and `PROTOCOLS.md`, not the reference server's
//! code, on purpose: the oracle and the server must not share a bug. A row
//! lives in a [`Table`]; each [`Change`] applied to it yields the
//! [`ModelEvent`] the API should send (without its id, which the server
//! chooses); a [`Filter`] says which of those a consumer gets.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
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

/// A consumer's connection to a named stream in a resume plan: publish
/// `publish` changes, connect (acknowledging the last event read so far by
/// sending it as `Last-Event-ID`, or not), read up to `read` events, disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeStep {
    pub publish: usize,
    pub ack: bool,
    pub read: usize,
}

/// A resume plan: the steps, then a last connection (acknowledging or not)
/// that reads up to a sentinel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePlan {
    pub steps: Vec<ResumeStep>,
    pub last_ack: bool,
}

/// How a filtered consumer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    NamedStream,
    Subscription,
}

/// Changes to one model, seen through one filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterPlan {
    pub identity: Identity,
    pub filter: Filter,
    pub via: Via,
    pub changes: Vec<Change>,
}

/// Changes to one model, each event compared with the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapePlan {
    pub identity: Identity,
    pub changes: Vec<Change>,
}

/// Field values from a tiny vocabulary, so that filters hit and miss.
pub fn fields(max: usize) -> impl Strategy<Value = Fields> {
    prop::collection::vec(
        prop::sample::select(vec![
            ("role", json!("admin")),
            ("role", json!("user")),
            ("active", json!(true)),
            ("active", json!(false)),
        ]),
        0..=max,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(field, value)| (field.to_owned(), value))
            .collect()
    })
}

pub fn identity() -> impl Strategy<Value = Identity> {
    prop_oneof![Just(Identity::Default), Just(Identity::Full)]
}

/// Changes on keys `0..keys` that can all happen, in order.
pub fn changes(
    keys: u32,
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<Change>> {
    let action = prop_oneof![
        2 => Just(Action::Create),
        3 => Just(Action::Update),
        2 => Just(Action::Delete),
    ];
    prop::collection::vec(
        (action, 0..keys, fields(2)).prop_map(|(action, key, fields)| Change {
            action,
            key,
            fields,
        }),
        len,
    )
    .prop_map(legalize)
}

/// Filters over the vocabulary of [`fields`], each with a sentinel under `identity`.
pub fn filter(identity: Identity) -> impl Strategy<Value = Filter> {
    let conditions = || prop::option::of(fields(2));
    (conditions(), conditions(), conditions()).prop_map(move |(create, update, delete)| {
        let mut filter = Filter {
            create,
            update,
            delete,
        };
        if filter.sentinel(identity).is_none() {
            filter.create = Some(Fields::new());
        }
        filter
    })
}

pub fn filter_plan() -> impl Strategy<Value = FilterPlan> {
    identity().prop_flat_map(|identity| {
        (
            filter(identity),
            prop_oneof![Just(Via::NamedStream), Just(Via::Subscription)],
            changes(3, 1..=10),
        )
            .prop_map(move |(filter, via, changes)| FilterPlan {
                identity,
                filter,
                via,
                changes,
            })
    })
}

/// Changes on keys `0..3`, then a create, an update and a delete of row 3,
/// so that every case shows each action's shape.
pub fn shape_plan() -> impl Strategy<Value = ShapePlan> {
    (identity(), changes(3, 1..=10)).prop_map(|(identity, mut changes)| {
        let change = |action, fields: &[(&str, Value)]| Change {
            action,
            key: 3,
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        changes.extend([
            change(Action::Create, &[("role", json!("user"))]),
            change(Action::Update, &[("role", json!("admin"))]),
            change(Action::Delete, &[]),
        ]);
        ShapePlan { identity, changes }
    })
}

pub fn resume_plan() -> impl Strategy<Value = ResumePlan> {
    (
        prop::collection::vec(
            (1usize..=3, any::<bool>(), 0usize..=4).prop_map(|(publish, ack, read)| ResumeStep {
                publish,
                ack,
                read,
            }),
            1..=4,
        ),
        any::<bool>(),
    )
        .prop_map(|(steps, last_ack)| ResumePlan { steps, last_ack })
}

#[cfg(test)]
mod tests;
