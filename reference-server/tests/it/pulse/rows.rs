//! Models, rows and the events they produce: replica identity, event ids, `GET /events/{id}`.

use std::time::SystemTime;

use reference_server::config::ReplicaIdentity::{Default as DefaultIdentity, Full};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::api::UNKNOWN_ID;
use super::{Api, KEY, assert_ulid, expect_error, send, server};

#[tokio::test]
async fn models_are_declared_idempotently_and_a_different_declaration_conflicts() {
    let (server, api) = server(&[("Config", "id", Full)]).await;
    let response = api.declare("Post", "slug", "full").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": "Post", "primary_key": "slug", "replica_identity": "full"})
    );
    assert_eq!(
        api.declare("Post", "slug", "full").await.status(),
        StatusCode::OK
    );
    let body = expect_error(
        api.declare("Post", "slug", "default").await,
        StatusCode::CONFLICT,
        "model_exists",
    )
    .await;
    assert_eq!(body["meta"]["model"], "Post");
    expect_error(
        api.declare("Post", "id", "full").await,
        StatusCode::CONFLICT,
        "model_exists",
    )
    .await;
    // Models from the config file count as declared.
    assert_eq!(
        api.declare("Config", "id", "full").await.status(),
        StatusCode::OK
    );
    expect_error(
        api.declare("Config", "id", "default").await,
        StatusCode::CONFLICT,
        "model_exists",
    )
    .await;
    // Without replica_identity a model gets the default one.
    let response = send(
        api.control(Method::POST, "/models")
            .json(&json!({"name": "Tag", "primary_key": "id"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    for bad in [
        json!({"name": "", "primary_key": "id"}),
        json!({"name": "a/b", "primary_key": "id"}),
        json!({"name": "A", "primary_key": ""}),
        json!({"name": "A"}),
        json!({"name": "A", "primary_key": "id", "replica_identity": "partial"}),
        json!({"name": "A", "primary_key": "id", "color": "red"}),
    ] {
        let response = send(api.control(Method::POST, "/models").json(&bad)).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let models: Value = send(api.control(Method::GET, "/models"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Config", "Post", "Tag"]);
    assert_eq!(models["data"][2]["replica_identity"], "default");
    // The control token guards the control routes.
    let response = send(
        api.anonymous(Method::POST, "/_control/pulse/models")
            .bearer_auth(KEY)
            .json(&json!({"name": "X", "primary_key": "id"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await.unwrap();
}

/// The event `id` as `GET /events/{id}` returns it, checked to be JSON.
async fn event(api: &Api, id: &str) -> Value {
    let response = api.event(id).await;
    assert_eq!(response.status(), StatusCode::OK, "{id}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn rows_produce_events_whose_content_follows_the_replica_identity() {
    let (server, api) = server(&[("Plain", "id", DefaultIdentity), ("Full", "id", Full)]).await;
    for model in ["Plain", "Full"] {
        let full = model == "Full";
        let created = api
            .row(model, "create", json!({"id": 1, "name": "Ada", "age": 36}))
            .await;
        assert_eq!(
            event(&api, &created).await,
            json!({"id": created, "action": "create", "modelName": model,
                   "created": {"id": 1, "name": "Ada", "age": 36}})
        );
        let updated = api.row(model, "update", json!({"id": 1, "age": 37})).await;
        let mut expected = json!({"id": updated, "action": "update", "modelName": model,
                                  "after": {"id": 1, "name": "Ada", "age": 37}});
        if full {
            expected["before"] = json!({"id": 1, "name": "Ada", "age": 36});
        }
        assert_eq!(event(&api, &updated).await, expected);
        let deleted = api.row(model, "delete", json!({"id": 1})).await;
        let old_row = if full {
            json!({"id": 1, "name": "Ada", "age": 37})
        } else {
            json!({"id": 1})
        };
        assert_eq!(
            event(&api, &deleted).await,
            json!({"id": deleted, "action": "delete", "modelName": model, "deleted": old_row})
        );
        // The row is gone, so it can be created again.
        api.row(model, "create", json!({"id": 1, "name": "Bob"}))
            .await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn row_changes_that_cannot_apply_are_refused_and_change_nothing() {
    let (server, api) = server(&[("User", "id", Full)]).await;
    api.row("User", "create", json!({"id": "a", "name": "Ada"}))
        .await;
    // A string key and a number key are different rows.
    api.row("User", "create", json!({"id": 1, "name": "One"}))
        .await;
    let cases = [
        (
            "create",
            json!({"id": "a", "name": "Eve"}),
            StatusCode::CONFLICT,
            "row_exists",
        ),
        (
            "update",
            json!({"id": "b", "name": "Eve"}),
            StatusCode::NOT_FOUND,
            "row_not_found",
        ),
        (
            "delete",
            json!({"id": "b"}),
            StatusCode::NOT_FOUND,
            "row_not_found",
        ),
        (
            "create",
            json!({"name": "no key"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "update",
            json!({"name": "no key"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "delete",
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "create",
            json!({"id": null}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "create",
            json!({"id": {"nested": 1}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "create",
            json!([1]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "upsert",
            json!({"id": "c"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (action, row, status, code) in cases {
        expect_error(api.change("User", action, row).await, status, code).await;
    }
    let body = expect_error(
        api.change("Nope", "create", json!({"id": 1})).await,
        StatusCode::NOT_FOUND,
        "model_not_found",
    )
    .await;
    assert_eq!(body["meta"]["model"], "Nope");
    // The refused create left the row as it was.
    let id = api.row("User", "update", json!({"id": "a"})).await;
    assert_eq!(
        event(&api, &id).await["before"],
        json!({"id": "a", "name": "Ada"})
    );
    server.shutdown().await.unwrap();
}

/// The 48-bit millisecond timestamp of a ULID.
fn ulid_millis(id: &str) -> u64 {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    id.chars().take(10).fold(0, |acc, c| {
        acc * 32 + u64::try_from(ALPHABET.find(c).unwrap()).unwrap()
    })
}

#[tokio::test]
async fn event_ids_are_increasing_ulids_and_lookup_answers_200_or_404() {
    let (server, api) = server(&[("User", "id", DefaultIdentity)]).await;
    let before = SystemTime::now();
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(api.row("User", "create", json!({"id": n})).await);
    }
    let now_ms = |time: SystemTime| {
        u64::try_from(
            time.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    };
    for pair in ids.windows(2) {
        assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
    }
    for id in &ids {
        assert_ulid(id);
        let millis = ulid_millis(id);
        assert!(
            millis >= now_ms(before) && millis <= now_ms(SystemTime::now()),
            "{id}"
        );
        assert_eq!(event(&api, id).await["id"], id.as_str());
    }
    for malformed in [
        "not-a-ulid",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVV",
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        &ids[0].to_lowercase(),
        "1",
    ] {
        // The seed documents no 400 for getEvent: a malformed id names no event.
        let body = expect_error(
            api.event(malformed).await,
            StatusCode::NOT_FOUND,
            "event_not_found",
        )
        .await;
        assert_eq!(body["meta"]["eventId"], malformed);
    }
    for unknown in [
        UNKNOWN_ID,
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        let body = expect_error(
            api.event(unknown).await,
            StatusCode::NOT_FOUND,
            "event_not_found",
        )
        .await;
        assert_eq!(body["meta"]["eventId"], unknown);
    }
    server.shutdown().await.unwrap();
}
