//! Event filters: which events each filter lets through, per action, and which filters are refused.

use reference_server::config::ReplicaIdentity::{Default as DefaultIdentity, Full};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{expect_error, ids, server};

#[tokio::test]
async fn each_filter_lets_through_exactly_its_actions_and_field_values() {
    let (server, api) = server(&[
        ("User", "id", Full),
        ("Lite", "id", DefaultIdentity),
        ("Other", "id", Full),
    ])
    .await;
    // (model, filter, indexes of the events below that it delivers)
    let table: Vec<(&str, Option<Value>, Vec<usize>)> = vec![
        ("User", None, vec![0, 1, 2, 3, 4, 6]),
        ("User", Some(json!({})), vec![]),
        ("User", Some(json!({"create": {}})), vec![0, 1]),
        ("User", Some(json!({"create": {"role": "admin"}})), vec![0]),
        (
            "User",
            Some(json!({"create": {"role": "admin", "team": "b"}})),
            vec![],
        ),
        ("User", Some(json!({"create": {"id": "1"}})), vec![]),
        ("User", Some(json!({"create": {"missing": null}})), vec![]),
        ("User", Some(json!({"update": {"after": {}}})), vec![2, 3]),
        (
            "User",
            Some(json!({"update": {"after": {"role": "admin"}}})),
            vec![3],
        ),
        // `before` is not what an update filter looks at.
        (
            "User",
            Some(json!({"update": {"after": {"role": "user", "team": "b"}}})),
            vec![],
        ),
        ("User", Some(json!({"delete": {}})), vec![4, 6]),
        ("User", Some(json!({"delete": {"team": "a"}})), vec![4]),
        (
            "User",
            Some(json!({"create": {"team": "b"}, "delete": {"role": "admin"}})),
            vec![1, 6],
        ),
        (
            "User",
            Some(json!({"create": {"id": 1}, "update": {"after": {"id": 1}}, "delete": {"id": 1}})),
            vec![0, 2, 4],
        ),
        // Default identity: a delete event only carries the key.
        ("Lite", None, vec![7, 8]),
        ("Lite", Some(json!({"delete": {"team": "a"}})), vec![]),
        ("Lite", Some(json!({"delete": {"id": 1}})), vec![8]),
        ("Other", Some(json!({"create": {"role": "admin"}})), vec![5]),
    ];
    for (index, (model, filter, _)) in table.iter().enumerate() {
        api.stream(&format!("f{index}"), model, filter.clone())
            .await;
    }
    let events = [
        (
            "User",
            "create",
            json!({"id": 1, "role": "admin", "team": "a"}),
        ),
        (
            "User",
            "create",
            json!({"id": 2, "role": "user", "team": "b"}),
        ),
        ("User", "update", json!({"id": 1, "role": "user"})),
        ("User", "update", json!({"id": 2, "role": "admin"})),
        ("User", "delete", json!({"id": 1})),
        ("Other", "create", json!({"id": 1, "role": "admin"})),
        ("User", "delete", json!({"id": 2})),
        ("Lite", "create", json!({"id": 1, "team": "a"})),
        ("Lite", "delete", json!({"id": 1})),
    ];
    let mut event_ids = Vec::new();
    for (model, action, row) in events {
        event_ids.push(api.row(model, action, row).await);
    }
    for (index, (model, filter, expected)) in table.iter().enumerate() {
        let mut sse = api.consume(&format!("f{index}"), None).await;
        let delivered = sse.until_keepalive().await;
        let expected: Vec<String> = expected.iter().map(|i| event_ids[*i].clone()).collect();
        assert_eq!(ids(&delivered), expected, "{model} {filter:?}");
        for (_, event) in &delivered {
            assert_eq!(event["modelName"], *model);
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_filters_and_unknown_models_are_refused() {
    let (server, api) = server(&[("User", "id", DefaultIdentity)]).await;
    let bad_filters = [
        json!([]),
        json!("create"),
        json!({"insert": {}}),
        json!({"create": 1}),
        json!({"create": [{"id": 1}]}),
        json!({"update": {}}),
        json!({"update": {"id": 1}}),
        json!({"update": {"after": 1}}),
        json!({"update": {"after": {}, "before": {}}}),
        json!({"delete": "id"}),
    ];
    for filter in &bad_filters {
        let response = api
            .create_stream(json!({"name": "s", "model": "User", "filter": filter}))
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_filter").await;
        let response = api
            .subscribe(json!({"model": "User", "filter": filter}))
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_filter").await;
    }
    let response = api
        .create_stream(json!({"name": "s", "model": "Nope"}))
        .await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "model_not_found").await;
    assert_eq!(body["meta"]["model"], "Nope");
    let response = api.subscribe(json!({"model": "Nope"})).await;
    let body = expect_error(response, StatusCode::BAD_REQUEST, "model_not_found").await;
    assert_eq!(body["meta"]["model"], "Nope");
    // None of the refused requests created a stream; a null filter is no filter.
    assert_eq!(api.streams().await, Vec::<Value>::new());
    api.stream("s", "User", Some(Value::Null)).await;
    server.shutdown().await.unwrap();
}
