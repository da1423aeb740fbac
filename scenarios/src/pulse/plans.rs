//! Pulse plans: generated row changes, filters and consumer steps, and an independent model of the events and filters they make.
//!
//! # Layout
//!
//! - `model`: the model, re-exported here: a [`Table`] of rows, the
//!   [`ModelEvent`] each [`Change`] makes, and the [`Filter`]s that pass them.
//! - here: the plans of the Pulse checks and the strategies that generate them.

mod model;

pub use model::{
    Action, Change, Fields, Filter, Identity, ModelEvent, PRIMARY_KEY, SENTINEL_KEY, Table, admits,
    delivered_content, events, legalize,
};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
