//! The Pulse model on hand-made changes, and the plan strategies' promises.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::json;

use super::*;

fn change(action: Action, key: u32, fields: Value) -> Change {
    let fields = match fields {
        Value::Object(map) => map.into_iter().collect(),
        _ => Fields::new(),
    };
    Change {
        action,
        key,
        fields,
    }
}

#[test]
fn events_follow_the_replica_identity() {
    let changes = [
        change(Action::Create, 1, json!({"role": "admin"})),
        change(Action::Update, 1, json!({"active": true})),
        change(Action::Delete, 1, json!({})),
    ];
    let default = events(Identity::Default, &changes).unwrap();
    assert_eq!(default[0].row, json!({"id": 1, "role": "admin"}));
    assert_eq!(
        default[1].row,
        json!({"id": 1, "role": "admin", "active": true})
    );
    assert_eq!(default[1].before, None);
    assert_eq!(default[2].row, json!({"id": 1}));
    let full = events(Identity::Full, &changes).unwrap();
    assert_eq!(full[1].before, Some(json!({"id": 1, "role": "admin"})));
    assert_eq!(
        full[2].row,
        json!({"id": 1, "role": "admin", "active": true})
    );
}

#[test]
fn impossible_changes_have_no_event_and_legalize_fixes_them() {
    let changes = vec![
        change(Action::Update, 1, json!({})),
        change(Action::Create, 1, json!({"role": "user"})),
        change(Action::Delete, 2, json!({})),
        change(Action::Delete, 1, json!({"role": "x"})),
    ];
    assert_eq!(events(Identity::Default, &changes), None);
    let legal = legalize(changes);
    let actions: Vec<Action> = legal.iter().map(|c| c.action).collect();
    assert_eq!(
        actions,
        [
            Action::Create,
            Action::Update,
            Action::Create,
            Action::Delete
        ]
    );
    assert!(legal[3].fields.is_empty());
    assert!(events(Identity::Full, &legal).is_some());
}

#[test]
fn filters_name_actions_and_compare_json_values() {
    let filter = Filter {
        create: Some([("role".to_owned(), json!("admin"))].into()),
        update: Some([("active".to_owned(), json!(false))].into()),
        delete: None,
    };
    assert_eq!(
        filter.to_json(),
        json!({"create": {"role": "admin"}, "update": {"after": {"active": false}}})
    );
    let made = events(
        Identity::Full,
        &[
            change(Action::Create, 1, json!({"role": "admin"})),
            change(Action::Create, 2, json!({"role": "user"})),
            change(Action::Update, 2, json!({"active": false})),
            change(Action::Update, 1, json!({"active": "false"})),
            change(Action::Delete, 1, json!({})),
        ],
    )
    .unwrap();
    let passed: Vec<bool> = made.iter().map(|e| filter.admits(e)).collect();
    assert_eq!(passed, [true, false, true, false, false]);
    assert!(made.iter().all(|e| admits(None, e)));
    assert!(made.iter().all(|e| !Filter::default().admits(e)));
}

#[test]
fn a_delete_filter_under_default_identity_sees_only_the_key() {
    let filter = Filter {
        delete: Some([("role".to_owned(), json!("admin"))].into()),
        ..Filter::default()
    };
    assert_eq!(filter.sentinel(Identity::Default), None);
    assert!(filter.sentinel(Identity::Full).is_some());
    assert_eq!(Filter::default().sentinel(Identity::Full), None);
}

#[test]
fn every_generated_filter_has_a_sentinel_its_filter_admits() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..256 {
        let plan = filter_plan().new_tree(&mut runner).unwrap().current();
        let sentinel = plan.filter.sentinel(plan.identity).expect("a sentinel");
        let mut changes = plan.changes.clone();
        changes.extend(sentinel);
        let made = events(plan.identity, &changes).expect("legal changes");
        assert!(plan.filter.admits(made.last().unwrap()), "{plan:?}");
    }
}

#[test]
fn generated_changes_can_all_happen() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..256 {
        let plan = shape_plan().new_tree(&mut runner).unwrap().current();
        assert!(events(plan.identity, &plan.changes).is_some(), "{plan:?}");
        assert!(plan.changes.iter().all(|c| c.key < SENTINEL_KEY));
    }
}

#[test]
fn contents_of_model_and_delivered_events_agree() {
    let event = ModelEvent {
        action: Action::Delete,
        row: json!({"id": 3}),
        before: None,
    };
    let delivered = json!({"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "action": "delete", "modelName": "U", "deleted": {"id": 3}});
    assert_eq!(event.content("U"), delivered_content(&delivered));
}
