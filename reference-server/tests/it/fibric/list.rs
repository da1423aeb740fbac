//! `GET /v1/events`: pages, filters, tenancy, auth and the control API's validation.

use serde_json::{Value, json};

use super::{KEY_A, KEY_B, append, envelope, list, server};
use crate::support::{CONTROL_TOKEN, client};

fn types(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn pages_walk_the_log_in_order_with_has_more_and_next_cursor() {
    let server = server().await;
    let base = server.base_url();
    let all: Vec<Value> = (0..7)
        .map(|i| envelope(&format!("order.e{i}"), "magento"))
        .collect();
    append(&base, all).await;
    let mut seen = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let (status, page) = list(&base, KEY_A, &query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(types(&page).into_iter().map(str::to_owned));
        let next = page["next_cursor"].as_str().unwrap();
        if page["has_more"] == false {
            break;
        }
        assert_eq!(page["data"].as_array().unwrap().len(), 3);
        query = format!("limit=3&cursor={next}");
    }
    let expected: Vec<String> = (0..7).map(|i| format!("order.e{i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn list_items_are_whole_envelopes_with_a_cursor() {
    let server = server().await;
    let base = server.base_url();
    let ids = append(
        &base,
        vec![json!({
            "tenant_id": "tn_a", "event_type": "order.updated", "source": "magento",
            "workspace_id": "ws_1", "correlation_id": "co_1", "reseller_id": "rs_1",
            "agent_id": "ag_1", "session_id": "se_1", "payload": {"order_id": "SO-1"},
            "entities": ["order:magento:SO-1"], "event_id": "ev_custom"
        })],
    )
    .await;
    assert_eq!(ids[0].0, "ev_custom");
    let (_, page) = list(&base, KEY_A, "").await;
    let item = &page["data"][0];
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "event_id",
        "reseller_id",
        "tenant_id",
        "workspace_id",
        "source",
        "event_type",
        "correlation_id",
        "payload",
        "agent_id",
        "session_id",
        "cursor",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected, "exactly the seed's envelope fields");
    assert_eq!(item["payload"], json!({"order_id": "SO-1"}));
    assert!(item["cursor"].as_str().unwrap().starts_with("cur_"));
    assert_eq!(item["tenant_id"], "tn_a");
}

#[tokio::test]
async fn filters_combine_with_and_and_the_glob_takes_one_segment() {
    let server = server().await;
    let base = server.base_url();
    append(
        &base,
        vec![
            json!({"tenant_id": "tn_a", "event_type": "order.created", "source": "magento", "workspace_id": "ws_1", "entities": ["order:1"]}),
            json!({"tenant_id": "tn_a", "event_type": "order.refund.issued", "source": "magento", "workspace_id": "ws_1"}),
            json!({"tenant_id": "tn_a", "event_type": "order.updated", "source": "operator:jenny", "workspace_id": "ws_2", "entities": ["order:1", "order:2"]}),
            json!({"tenant_id": "tn_a", "event_type": "invoice.created", "source": "magento"}),
        ],
    )
    .await;
    let cases: &[(&str, &[&str])] = &[
        ("event_type=order.*", &["order.created", "order.updated"]),
        ("event_type=order.refund.issued", &["order.refund.issued"]),
        (
            "event_type=*.created",
            &["order.created", "invoice.created"],
        ),
        (
            "source=magento",
            &["order.created", "order.refund.issued", "invoice.created"],
        ),
        ("event_type=order.*&source=magento", &["order.created"]),
        (
            "workspace_id=ws_1",
            &["order.created", "order.refund.issued"],
        ),
        ("entity=order:1", &["order.created", "order.updated"]),
        ("entity=order:2&workspace_id=ws_2", &["order.updated"]),
        ("entity=order:3", &[]),
    ];
    for (query, expected) in cases {
        let (status, page) = list(&base, KEY_A, query).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(types(&page), *expected, "{query}");
    }
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_envelopes() {
    let server = server().await;
    let base = server.base_url();
    append(&base, vec![envelope("order.created", "a")]).await;
    append(
        &base,
        vec![json!({"tenant_id": "tn_b", "event_type": "order.created", "source": "b"})],
    )
    .await;
    let (_, page_a) = list(&base, KEY_A, "").await;
    let (_, page_b) = list(&base, KEY_B, "").await;
    assert_eq!(page_a["data"].as_array().unwrap().len(), 1);
    assert_eq!(page_a["data"][0]["tenant_id"], "tn_a");
    assert_eq!(page_b["data"].as_array().unwrap().len(), 1);
    assert_eq!(page_b["data"][0]["tenant_id"], "tn_b");
    // A's cursor means nothing to B.
    let cursor = page_a["next_cursor"].as_str().unwrap();
    let (status, body) = list(&base, KEY_B, &format!("cursor={cursor}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_cursor");
}

#[tokio::test]
async fn missing_or_wrong_keys_get_401_with_a_json_error() {
    let server = server().await;
    let base = server.base_url();
    for path in ["/v1/events", "/v1/events/stream"] {
        let response = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        let response = client()
            .get(format!("{base}{path}"))
            .bearer_auth("sk_nope")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_with_invalid_request() {
    let server = server().await;
    let base = server.base_url();
    for query in [
        "evnt_type=order.*",
        "event_type=order.cre*",
        "event_type=",
        "limit=0",
        "limit=abc",
        "limit=1001",
        "source=a&source=b",
    ] {
        let (status, body) = list(&base, KEY_A, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["code"], "invalid_request", "{query}");
    }
    let (status, body) = list(&base, KEY_A, "cursor=garbage").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
}

#[tokio::test]
async fn the_control_api_takes_one_envelope_or_a_batch_and_validates_them() {
    let server = server().await;
    let base = server.base_url();
    let post = |body: Value| {
        client()
            .post(format!("{base}/_control/fibric/envelopes"))
            .bearer_auth(CONTROL_TOKEN)
            .json(&body)
            .send()
    };
    let single = post(envelope("order.created", "magento")).await.unwrap();
    assert_eq!(single.status(), 201);
    let body: Value = single.json().await.unwrap();
    assert_eq!(body["envelopes"].as_array().unwrap().len(), 1);
    assert!(
        body["envelopes"][0]["event_id"]
            .as_str()
            .unwrap()
            .starts_with("ev_")
    );
    let bad: &[(Value, u16, &str)] = &[
        (
            json!({"tenant_id": "tn_zz", "event_type": "a.b", "source": "s"}),
            400,
            "unknown_tenant",
        ),
        (
            json!({"tenant_id": "tn_a", "event_type": "a.*", "source": "s"}),
            400,
            "invalid_request",
        ),
        (
            json!({"tenant_id": "tn_a", "source": "s"}),
            400,
            "invalid_request",
        ),
        (
            json!({"tenant_id": "tn_a", "event_type": "a", "source": "s", "extra": 1}),
            400,
            "invalid_request",
        ),
        (json!({"envelopes": []}), 400, "invalid_request"),
        (
            json!({"envelopes": [{"tenant_id": "tn_a", "event_type": "a", "source": "s", "event_id": "ev_x"},
                              {"tenant_id": "tn_a", "event_type": "a", "source": "s", "event_id": "ev_x"}]}),
            409,
            "duplicate_event_id",
        ),
    ];
    for (body, status, code) in bad {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), *status, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], *code, "{body}");
    }
    // Nothing of the refused batches was stored.
    let (_, page) = list(&base, KEY_A, "").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    // An id already stored is refused too.
    let again = post(
        json!({"tenant_id": "tn_a", "event_type": "a", "source": "s",
        "event_id": page["data"][0]["event_id"]}),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 409);
}
