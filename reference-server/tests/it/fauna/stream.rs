//! `/stream/1`: framing, status first, set semantics, replay since the token, cursor and start_ts rules, limits, errors, h2c.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Events, OTHER_SECRET, SECRET, expect_error, kind_and_id, send, server};

#[tokio::test]
async fn a_set_stream_shows_documents_entering_changing_and_leaving() {
    let (_server, fauna) = server().await;
    let token = fauna
        .token(r#"Orders.where(.status == "open").eventSource()"#)
        .await;
    let response = fauna.stream_as(SECRET, json!({"token": token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    let mut events = Events::new(response);
    let status = events.next().await;
    assert_eq!(status["type"], "status");
    let keys: Vec<&String> = status.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["type", "txn_ts", "cursor", "stats"],
        "Fauna's field order"
    );
    assert!(status["txn_ts"].as_u64().unwrap() > 1_600_000_000_000_000);
    let stats = status["stats"].as_object().unwrap();
    for key in [
        "read_ops",
        "storage_bytes_read",
        "compute_ops",
        "processing_time_ms",
        "rate_limits_hit",
    ] {
        assert!(stats.contains_key(key), "{key}");
    }

    let a = fauna.create("Orders", r#"{ status: "open", n: 1 }"#).await; // add
    let b = fauna.create("Orders", r#"{ status: "closed" }"#).await; // nothing
    fauna.update("Orders", &a, "{ n: 2 }").await; // update
    fauna.update("Orders", &b, r#"{ status: "open" }"#).await; // add
    fauna.update("Orders", &a, r#"{ status: "closed" }"#).await; // remove
    fauna.delete("Orders", &b).await; // remove
    fauna.delete("Orders", &a).await; // nothing: a had left
    let mut seen = Vec::new();
    let mut last_ts = 0;
    while seen.len() < 5 {
        let event = events.next_data().await;
        let ts = event["txn_ts"].as_u64().unwrap();
        assert!(ts >= last_ts, "txn_ts never goes back");
        last_ts = ts;
        assert!(event["cursor"].is_string());
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["type", "data", "txn_ts", "cursor", "stats"],
            "Fauna's field order"
        );
        seen.push(event);
    }
    let kinds: Vec<(String, String)> = seen.iter().map(kind_and_id).collect();
    let expected = [
        ("add", &a),
        ("update", &a),
        ("add", &b),
        ("remove", &a),
        ("remove", &b),
    ];
    assert_eq!(
        kinds,
        expected
            .iter()
            .map(|(k, id)| ((*k).to_owned(), (*id).clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        seen[3]["data"]["@doc"]["status"], "closed",
        "removed as written"
    );
    assert_eq!(
        seen[4]["data"]["@doc"]["status"], "open",
        "deleted as it was"
    );
    // Idle: a status event, never a blank line.
    let idle = events.next().await;
    assert_eq!(idle["type"], "status");
}

#[tokio::test]
async fn a_stream_replays_since_its_token_and_resumes_strictly_after_a_cursor() {
    let (_server, fauna) = server().await;
    fauna.create("Orders", "{ n: 0 }").await; // before the token: never replayed
    let token = fauna.token("Orders.all().eventSource()").await;
    let ids = [
        fauna.create("Orders", "{ n: 1 }").await,
        fauna.create("Orders", "{ n: 2 }").await,
        fauna.create("Orders", "{ n: 3 }").await,
    ];
    let mut events = fauna.stream(json!({"token": token})).await;
    assert_eq!(events.next().await["type"], "status");
    let replayed: Vec<Value> = [
        events.next().await,
        events.next().await,
        events.next().await,
    ]
    .into();
    let got: Vec<String> = replayed.iter().map(|e| kind_and_id(e).1).collect();
    assert_eq!(got, ids);
    drop(events);

    let mut resumed = fauna
        .stream(json!({"token": token, "cursor": replayed[0]["cursor"]}))
        .await;
    let status = resumed.next().await;
    assert_eq!(status["type"], "status");
    assert_eq!(
        status["cursor"], replayed[0]["cursor"],
        "the status names the resume point"
    );
    assert_eq!(kind_and_id(&resumed.next().await).1, ids[1]);
    assert_eq!(kind_and_id(&resumed.next().await).1, ids[2]);

    // start_ts: events after that time.
    let start = replayed[1]["txn_ts"].as_u64().unwrap();
    let mut from_time = fauna
        .stream(json!({"token": token, "start_ts": start}))
        .await;
    assert_eq!(from_time.next().await["type"], "status");
    assert_eq!(kind_and_id(&from_time.next().await).1, ids[2]);
}

#[tokio::test]
async fn single_document_sources_see_only_their_document() {
    let (_server, fauna) = server().await;
    let a = fauna.create("Orders", "{ n: 1 }").await;
    let token = fauna
        .token(&format!(r#"Set.single(Orders.byId("{a}")).eventSource()"#))
        .await;
    let mut events = fauna.stream(json!({"token": token})).await;
    events.next().await;
    fauna.create("Orders", "{ n: 2 }").await;
    fauna.update("Orders", &a, "{ n: 3 }").await;
    fauna.delete("Orders", &a).await;
    assert_eq!(
        kind_and_id(&events.next_data().await),
        ("update".to_owned(), a.clone())
    );
    assert_eq!(
        kind_and_id(&events.next_data().await),
        ("remove".to_owned(), a)
    );
}

#[tokio::test]
async fn replay_over_128_events_sends_128_then_an_error_and_ends() {
    let (_server, fauna) = server().await;
    let token = fauna.token("Orders.all().eventSource()").await;
    for n in 0..130 {
        fauna.create("Orders", &format!("{{ n: {n} }}")).await;
    }
    let mut events = fauna.stream(json!({"token": token})).await;
    assert_eq!(events.next().await["type"], "status");
    for _ in 0..128 {
        assert_eq!(events.next().await["type"], "add");
    }
    let error = events.next().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["code"], "stream_replay_volume_exceeded");
    assert!(error.get("cursor").is_none() && error.get("txn_ts").is_none());
    assert!(events.next_within(Duration::from_secs(2)).await.is_none());
    assert!(events.ended, "the stream ends after an error event");

    // Exactly 128 to replay is fine.
    let token = fauna.token("Orders.all().eventSource()").await;
    for n in 0..128 {
        fauna.create("Orders", &format!("{{ n: {n} }}")).await;
    }
    let mut events = fauna.stream(json!({"token": token})).await;
    for _ in 0..129 {
        assert_ne!(events.next().await["type"], "error");
    }
    assert_eq!(
        events.next().await["type"],
        "status",
        "then idle, still open"
    );
}

#[tokio::test]
async fn bad_requests_get_fauna_messages() {
    let (_server, fauna) = server().await;
    let token = fauna.token("Orders.all().eventSource()").await;
    let message = expect_error(
        send(
            fauna
                .http
                .post(format!("{}/stream/1", fauna.base))
                .json(&json!({"token": token})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(message, "Invalid token, unable to authenticate request");
    for (body, expected) in [
        (
            json!({"token": token, "start_ts": 1, "cursor": "x"}),
            "Invalid request body: can not provide both `start_ts` and `cursor`",
        ),
        (
            json!({}),
            "Invalid request body: Value for key token not found.",
        ),
        (
            json!({"token": "forged.token"}),
            "Invalid request body: invalid event source provided",
        ),
        (
            json!({"token": token, "cursor": "nope"}),
            "Invalid request body: invalid event cursor provided",
        ),
        (
            json!({"token": token, "start_ts": "1"}),
            "Invalid request body: Unexpected string value '1'.",
        ),
        (
            json!({"token": token, "start_ts": 1}),
            "Invalid stream start time: Stream start time can not be before the stream create time.",
        ),
    ] {
        let message = expect_error(
            fauna.stream_as(SECRET, body.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert_eq!(message, expected, "{body}");
    }
    let mut tampered = token.clone();
    tampered.replace_range(2..3, if &token[2..3] == "A" { "B" } else { "A" });
    expect_error(
        fauna.stream_as(SECRET, json!({"token": tampered})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let message = expect_error(
        fauna.stream_as(OTHER_SECRET, json!({"token": token})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(
        message.starts_with("Error evaluating provided stream"),
        "{message}"
    );
}

#[tokio::test]
async fn h2c_with_prior_knowledge_streams_too() {
    let (_server, fauna) = server().await;
    let token = fauna.token("Orders.all().eventSource()").await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = send(
        h2.post(format!("{}/stream/1", fauna.base))
            .bearer_auth(SECRET)
            .json(&json!({"token": token})),
    )
    .await;
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let mut events = Events::new(response);
    assert_eq!(events.next().await["type"], "status");
    let id = fauna.create("Orders", "{ n: 1 }").await;
    assert_eq!(
        kind_and_id(&events.next_data().await),
        ("add".to_owned(), id)
    );
}
