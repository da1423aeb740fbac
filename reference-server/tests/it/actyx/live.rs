//! subscribe and subscribe_monotonic: catch-up, the `offsets` marker, live with no seam, `caughtUp`, `timeTravel`, keep-alive.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Lines, events, expect_error, foreign_stream, send, server};

#[tokio::test]
async fn subscribe_catches_up_marks_the_seam_and_goes_live_without_a_gap() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    ax.publish(&[
        (&["s"], json!(1)),
        (&["x"], json!("other")),
        (&["s"], json!(2)),
    ])
    .await;
    let response = send(ax.post(
        "subscribe",
        &json!({"query": "FROM 's'", "lowerBound": {&local: 4}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut lines = Lines::new(response);
    let catch_up = lines.until("offsets").await;
    assert_eq!(
        events(&catch_up)
            .iter()
            .map(|e| e["payload"].clone())
            .collect::<Vec<_>>(),
        vec![json!(2)]
    );
    assert_eq!(
        catch_up.last().unwrap(),
        &json!({"type": "offsets", "offsets": {&local: 6}})
    );
    lines.expect_quiet().await;

    // Live: local and foreign events arrive, each once, in per-stream order.
    ax.publish(&[(&["s"], json!(3)), (&["s"], json!(4))]).await;
    let other = foreign_stream('F', 0);
    ax.replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 1, "tags": ["s"], "payload": "f"}]}))
        .await;
    let mut live = Vec::new();
    while live.len() < 3 {
        let line = lines.next_json().await;
        assert_eq!(line["type"], "event", "{line}");
        live.push(line["payload"].clone());
    }
    assert_eq!(live[..2], [json!(3), json!(4)]);
    assert_eq!(live[2], json!("f"));
    assert!(live.iter().all(|l| l != &json!("other")));
    lines.expect_quiet().await;
}

#[tokio::test]
async fn an_idle_feed_sends_blank_lines() {
    let (_server, ax) = server().await;
    let response = send(ax.post("subscribe", &json!({"query": "FROM 'nothing'"}))).await;
    let mut lines = Lines::new(response);
    let first = lines.until("offsets").await;
    assert_eq!(first.len(), 1, "nothing to catch up: {first:?}");
    lines.expect_quiet().await;
    lines.expect_quiet().await;
    assert!(lines.raw.ends_with("}\n\n\n"), "{:?}", lines.raw);
}

#[tokio::test]
async fn monotonic_marks_caught_up_and_travels_back_in_time_for_an_earlier_event() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    ax.publish(&[(&["m"], json!(1)), (&["m"], json!(2))]).await;
    let response = send(ax.post(
        "subscribe_monotonic",
        &json!({"session": "s1", "query": "FROM 'm'", "lowerBound": {}}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut lines = Lines::new(response);
    let catch_up = lines.until("offsets").await;
    let caught: Vec<Value> = events(&catch_up)
        .iter()
        .map(|e| e["caughtUp"].clone())
        .collect();
    assert_eq!(
        caught,
        vec![json!(false), json!(false)],
        "catch-up events are not caught up"
    );
    assert_eq!(catch_up.last().unwrap()["offsets"][&local], 5);

    ax.publish(&[(&["m"], json!(3))]).await;
    let live = lines.next_json().await;
    assert_eq!(
        (live["payload"].clone(), live["caughtUp"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(live["lamport"], 6);

    // A foreign event that sorts later is delivered; one that sorts earlier ends the stream.
    let other = foreign_stream('G', 0);
    ax.replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 7, "tags": ["m"], "payload": "later"}]}))
        .await;
    let line = lines.next_json().await;
    assert_eq!(line["payload"], "later");
    // Events that FROM does not select never cause time travel.
    ax.replicate(&json!({"stream": other, "events": [{"offset": 1, "lamport": 8, "tags": ["x"]}]}))
        .await;
    let earlier = foreign_stream('H', 3);
    ax.replicate(&json!({"stream": earlier, "events": [{"offset": 0, "lamport": 2, "tags": ["m"], "payload": "early"}]}))
        .await;
    let line = lines.next_json().await;
    assert_eq!(
        line,
        json!({"type": "timeTravel", "newStart": {"lamport": 2, "stream": earlier, "offset": 0}})
    );
    assert!(lines.next(super::WAIT).await.is_none());
    assert!(lines.ended, "the stream closes after timeTravel");
}

#[tokio::test]
async fn a_resumed_session_travels_back_for_an_earlier_event_it_has_not_seen() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    ax.publish(&[(&["r"], json!(1)), (&["r"], json!(2))]).await;
    // The client has everything up to offset 5 (lamport 5); an event with
    // lamport 3 arrives from elsewhere while it is away.
    let other = foreign_stream('K', 0);
    ax.replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 3, "tags": ["r"], "payload": "late"}]}))
        .await;
    let response = send(ax.post(
        "subscribe_monotonic",
        &json!({"session": "s", "query": "FROM 'r'", "lowerBound": {&local: 5}}),
    ))
    .await;
    let mut lines = Lines::new(response);
    let line = lines.next_json().await;
    assert_eq!(
        line,
        json!({"type": "timeTravel", "newStart": {"lamport": 3, "stream": other, "offset": 0}})
    );
    // Resuming with what the client now has, the session continues.
    let response = send(ax.post(
        "subscribe_monotonic",
        &json!({"session": "s", "query": "FROM 'r'", "lowerBound": {&local: 5, &other: 0}}),
    ))
    .await;
    let mut lines = Lines::new(response);
    let catch_up = lines.until("offsets").await;
    assert!(events(&catch_up).is_empty(), "{catch_up:?}");
    ax.publish(&[(&["r"], json!(3))]).await;
    assert_eq!(lines.next_json().await["payload"], 3);
}

#[tokio::test]
async fn monotonic_without_lower_bound_starts_at_the_beginning() {
    // The seed makes lowerBound optional (the node refuses its absence).
    let (_server, ax) = server().await;
    ax.publish(&[(&["a"], json!(1)), (&["a"], json!(2))]).await;
    let response = send(ax.post(
        "subscribe_monotonic",
        &json!({"session": "s", "query": "FROM 'a'"}),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut lines = Lines::new(response);
    let catch_up = lines.until("offsets").await;
    let payloads: Vec<Value> = events(&catch_up)
        .iter()
        .map(|e| e["payload"].clone())
        .collect();
    assert_eq!(payloads, [json!(1), json!(2)]);
}

#[tokio::test]
async fn monotonic_refuses_what_the_node_refuses() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    let message = expect_error(
        send(ax.post("subscribe_monotonic", &json!({"query": "FROM 'a'"}))).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert!(message.contains("missing field `session`"), "{message}");
    let message = expect_error(
        send(ax.post(
            "subscribe_monotonic",
            &json!({"session": "s", "query": "FROM 'a' LIMIT 1", "lowerBound": {}}),
        ))
        .await,
        StatusCode::IM_A_TEAPOT,
        "ERR_UNSUPPORTED_FEATURE",
    )
    .await;
    assert_eq!(
        message,
        "Feature `limit` is not supported on endpoint `SubscribeMonotonic`."
    );
    expect_error(
        send(ax.post(
            "subscribe_monotonic",
            &json!({"session": "s", "query": "FROM 'a'", "lowerBound": {&local: 99}}),
        ))
        .await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    expect_error(
        send(ax.post(
            "subscribe",
            &json!({"query": "FEATURES(multiEmission) FROM 'a' SELECT _, _"}),
        ))
        .await,
        StatusCode::IM_A_TEAPOT,
        "ERR_UNSUPPORTED_FEATURE",
    )
    .await;
}

#[tokio::test]
async fn forced_disconnects_end_feeds() {
    let (_server, ax) = server().await;
    let response = send(ax.post("subscribe", &json!({"query": "FROM allEvents"}))).await;
    let mut lines = Lines::new(response);
    lines.until("offsets").await;
    let response = send(
        ax.http
            .post(format!("{}/_control/disconnect", ax.base))
            .bearer_auth(crate::support::CONTROL_TOKEN)
            .json(&json!({"api": "actyx"})),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    while lines.next(super::WAIT).await.is_some() {}
    assert!(lines.ended);
}
