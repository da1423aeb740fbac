//! Durability: a restart (also `kill -9`) keeps node id, events, offsets, the Lamport clock, replicated streams and what sessions resume from; tokens end, as on the node.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Ax, Lines, expect_error, foreign_stream, send};
use crate::support::spawn_durable;

#[tokio::test]
async fn a_killed_node_comes_back_with_everything_but_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_durable(dir.path(), &[]);
    let ax = Ax::new(&server.base_url).await;
    let node = ax.node_id().await;
    let local = format!("{node}-0");
    let published = ax.publish(&[(&["d"], json!(1)), (&["d"], json!(2))]).await;
    let other = foreign_stream('D', 0);
    let response = ax
        .replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 40, "tags": ["d"], "payload": "f"}], "announce": 3}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let offsets = ax.offsets().await;
    let before: Vec<Value> = ax
        .query(&json!({"query": "FROM allEvents", "order": "asc"}))
        .await;
    let old_token = ax.token.clone();
    drop(server); // SIGKILL

    let server = spawn_durable(dir.path(), &[]);
    let ax = Ax::new(&server.base_url).await;
    assert_eq!(ax.node_id().await, node, "the node id survives");
    assert_eq!(
        ax.offsets().await,
        offsets,
        "offsets and toReplicate survive"
    );
    assert_eq!(
        ax.query(&json!({"query": "FROM allEvents", "order": "asc"}))
            .await,
        before,
        "every event survives, in the same order"
    );
    // The clock went past the foreign lamport 40 before the kill.
    let next = ax.publish(&[(&["d"], json!(3))]).await;
    assert_eq!(next[0]["lamport"], 41);
    assert_eq!(
        next[0]["offset"],
        published[1]["offset"].as_u64().unwrap() + 1
    );
    assert_eq!(next[0]["stream"], local.as_str());
    // Tokens from before the restart are expired, as on a real node.
    expect_error(
        send(
            ax.http
                .get(format!("{}/api/v2/events/offsets", ax.base))
                .bearer_auth(&old_token),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "ERR_TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test]
async fn a_monotonic_session_resumes_after_a_restart_and_sees_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_durable(dir.path(), &[]);
    let ax = Ax::new(&server.base_url).await;
    let local = format!("{}-0", ax.node_id().await);
    ax.publish(&[(&["s"], json!(1)), (&["s"], json!(2))]).await;
    let response = send(ax.post(
        "subscribe_monotonic",
        &json!({"session": "kept", "query": "FROM 's'", "lowerBound": {}}),
    ))
    .await;
    let mut lines = Lines::new(response);
    let seen = lines.until("offsets").await;
    let last = &seen[seen.len() - 2];
    assert_eq!(last["payload"], 2);
    drop(lines);
    drop(server);

    let server = spawn_durable(dir.path(), &[]);
    let ax = Ax::new(&server.base_url).await;
    // Resumed from what the client has: nothing to catch up, then live.
    let resume =
        json!({"session": "kept", "query": "FROM 's'", "lowerBound": {&local: last["offset"]}});
    let mut lines = Lines::new(send(ax.post("subscribe_monotonic", &resume)).await);
    let caught = lines.until("offsets").await;
    assert_eq!(caught.len(), 1, "{caught:?}");
    ax.publish(&[(&["s"], json!(3))]).await;
    assert_eq!(lines.next_json().await["payload"], 3);
    drop(lines);

    // An event sorting before what the client had arrives; resuming again travels back.
    let other = foreign_stream('E', 0);
    ax.replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 1, "tags": ["s"]}]}))
        .await;
    let mut lines = Lines::new(send(ax.post("subscribe_monotonic", &resume)).await);
    let line = lines.next_json().await;
    assert_eq!(line["type"], "timeTravel", "{line}");
    assert_eq!(line["newStart"]["stream"], other.as_str());
}
