//! `POST /query/1`: documents and event sources through the FQL subset, tagged answers, and Fauna's error shapes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{OTHER_SECRET, SECRET, expect_error, send, server};

#[tokio::test]
async fn documents_come_back_tagged_and_changes_merge() {
    let (_server, fauna) = server().await;
    let response = fauna
        .query_as(SECRET, r#"Orders.create({ item: "cup", qty: 2, price: 4.5, big: 5000000000, meta: { tags: ["a"] } })"#)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    for key in ["data", "summary", "txn_ts", "stats", "static_type"] {
        assert!(body.get(key).is_some(), "{key} in {body}");
    }
    assert!(body.get("query_tags").is_none(), "no tags, no query_tags");
    let doc = &body["data"]["@doc"];
    assert_eq!(doc["coll"], json!({"@mod": "Orders"}));
    assert_eq!(doc["qty"], json!({"@int": "2"}));
    assert_eq!(doc["price"], json!({"@double": "4.5"}));
    assert_eq!(doc["big"], json!({"@long": "5000000000"}));
    assert_eq!(doc["meta"], json!({"tags": ["a"]}));
    let ts = doc["ts"]["@time"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 27, "{ts}");
    let id = doc["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() >= 18 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );

    let updated = fauna
        .query(&format!(
            r#"Orders.byId("{id}")!.update({{ qty: 3, meta: {{ note: "x" }}, price: null }})"#
        ))
        .await;
    let doc = &updated["@doc"];
    assert_eq!(doc["qty"], json!({"@int": "3"}));
    assert_eq!(doc["meta"], json!({"tags": ["a"], "note": "x"}));
    assert!(doc.get("price").is_none(), "null removes a field");
    let read = fauna.query(&format!(r#"Orders.byId("{id}")"#)).await;
    assert_eq!(&read["@doc"], doc);

    let deleted = fauna
        .query(&format!(r#"Orders.byId("{id}")!.delete()"#))
        .await;
    assert_eq!(deleted["@ref"]["exists"], false);
    let missing = fauna.query(&format!(r#"Orders.byId("{id}")"#)).await;
    assert_eq!(missing["@ref"]["exists"], false);
}

#[tokio::test]
async fn interpolated_values_and_query_tags_work_as_drivers_send_them() {
    let (_server, fauna) = server().await;
    let response = send(
        fauna
            .http
            .post(format!("{}/query/1", fauna.base))
            .bearer_auth(SECRET)
            .header("x-query-tags", "suite=it")
            .json(&json!({"query": {"fql": [
                "Orders.create(",
                {"object": {"item": {"value": "pot"}, "n": {"value": {"@int": "7"}}, "list": {"array": [{"value": {"@long": "1"}}]}}},
                ")"
            ]}})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["query_tags"], "suite=it");
    assert_eq!(body["data"]["@doc"]["n"], json!({"@int": "7"}));
    assert_eq!(body["data"]["@doc"]["list"], json!([{"@int": "1"}]));
    let response = send(
        fauna
            .http
            .post(format!("{}/query/1", fauna.base))
            .bearer_auth(SECRET)
            .json(&json!({"query": {"fql": [
            "Orders.where(.item == ", {"value": "pot"}, ").eventSource()"
        ]}, "arguments": {}})),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert!(body["data"]["@stream"].is_string(), "{body}");
}

#[tokio::test]
async fn errors_have_fauna_shapes() {
    let (_server, fauna) = server().await;
    let response = send(
        fauna
            .http
            .post(format!("{}/query/1", fauna.base))
            .json(&json!({"query": "1"})),
    )
    .await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await,
        "Access token required"
    );
    let response = fauna.query_as("nope", "Orders.all().eventSource()").await;
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    for (fql, code) in [
        ("Orders.all()", "invalid_query"),
        ("Orders.where(.n > 1).eventSource()", "invalid_query"),
        ("Missing.all().eventSource()", "invalid_query"),
        ("Orders.create(", "invalid_query"),
        (
            r#"Orders.byId("1")!.update({ a: 1 })"#,
            "document_not_found",
        ),
        (
            r#"Collection.create({ name: "Orders" })"#,
            "constraint_failure",
        ),
    ] {
        let response = fauna.query_as(SECRET, fql).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{fql}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{fql}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        for key in ["summary", "txn_ts", "stats"] {
            assert!(body.get(key).is_some(), "{key} in {body}");
        }
    }
    let body: Value = fauna
        .query_as(SECRET, "Orders.all()")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported"),
        "{body}"
    );

    // Databases are apart: the second secret does not see Orders.
    let response = fauna
        .query_as(OTHER_SECRET, "Orders.all().eventSource()")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
