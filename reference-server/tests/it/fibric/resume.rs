//! Resuming: cursors and Last-Event-ID, filter binding, backfill-then-tail, expiry, and restarts.

use std::time::Duration;

use serde_json::Value;

use super::{KEY_A, WAIT, append, data, envelope, event_types, list, open, server, server_with};
use crate::support::{client, spawn_durable};

#[tokio::test]
async fn a_cursor_replays_everything_after_it_then_follows_live() {
    let server = server().await;
    let base = server.base_url();
    let ids = append(
        &base,
        (0..5).map(|i| envelope(&format!("e.{i}"), "s")).collect(),
    )
    .await;
    let (_, first_page) = list(&base, KEY_A, "limit=2").await;
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let mut reader = open(&base, KEY_A, &format!("cursor={cursor}"), None).await;
    let replayed = reader.events(3, WAIT).await;
    assert_eq!(event_types(&replayed), ["e.2", "e.3", "e.4"]);
    append(&base, vec![envelope("e.5", "s")]).await;
    assert_eq!(event_types(&reader.events(1, WAIT).await), ["e.5"]);
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn last_event_id_resumes_from_an_event_id_or_a_cursor_and_wins_over_the_parameter() {
    let server = server().await;
    let base = server.base_url();
    let ids = append(
        &base,
        (0..4).map(|i| envelope(&format!("e.{i}"), "s")).collect(),
    )
    .await;
    // An event id, as EventSource sends it back from the `id` field.
    let mut by_id = open(&base, KEY_A, "", Some(&ids[1].0)).await;
    assert_eq!(event_types(&by_id.events(2, WAIT).await), ["e.2", "e.3"]);
    // A cursor in the header.
    let mut by_cursor = open(&base, KEY_A, "", Some(&ids[2].1)).await;
    assert_eq!(event_types(&by_cursor.events(1, WAIT).await), ["e.3"]);
    // Header and parameter both given: the header is the later position, and wins.
    let mut both = open(
        &base,
        KEY_A,
        &format!("cursor={}", ids[0].1),
        Some(&ids[2].0),
    )
    .await;
    assert_eq!(event_types(&both.events(1, WAIT).await), ["e.3"]);
    both.expect_no_event(Duration::from_millis(300)).await;
    // An unknown event id is not a position.
    let response = client()
        .get(format!("{base}/v1/events/stream"))
        .bearer_auth(KEY_A)
        .header("last-event-id", "ev_does_not_exist")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_cursor");
}

#[tokio::test]
async fn a_cursor_is_bound_to_the_filters_it_was_issued_under() {
    let server = server().await;
    let base = server.base_url();
    append(
        &base,
        vec![
            envelope("order.created", "s"),
            envelope("invoice.created", "s"),
        ],
    )
    .await;
    let (_, page) = list(&base, KEY_A, "event_type=order.*").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    // Same filters: fine, on the list and on the stream.
    let (status, _) = list(&base, KEY_A, &format!("event_type=order.*&cursor={cursor}")).await;
    assert_eq!(status, 200);
    open(
        &base,
        KEY_A,
        &format!("event_type=order.*&cursor={cursor}"),
        None,
    )
    .await;
    // Other filters, or none: 400 invalid_cursor.
    for query in [
        format!("cursor={cursor}"),
        format!("event_type=invoice.*&cursor={cursor}"),
        format!("event_type=order.*&source=s&cursor={cursor}"),
    ] {
        let (status, body) = list(&base, KEY_A, &query).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_cursor")),
            "{query}"
        );
        let response = client()
            .get(format!("{base}/v1/events/stream?{query}"))
            .bearer_auth(KEY_A)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "stream {query}");
    }
}

#[tokio::test]
async fn backfill_then_tail_has_no_gap_and_no_duplicate() {
    let server = server().await;
    let base = server.base_url();
    append(
        &base,
        (0..5)
            .map(|i| envelope(&format!("order.b{i}"), "s"))
            .collect(),
    )
    .await;
    let mut backfilled = Vec::new();
    let mut query = "event_type=order.*&limit=2".to_owned();
    let cursor = loop {
        let (_, page) = list(&base, KEY_A, &query).await;
        for item in page["data"].as_array().unwrap() {
            backfilled.push(item["event_type"].as_str().unwrap().to_owned());
        }
        let next = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break next;
        }
        query = format!("event_type=order.*&limit=2&cursor={next}");
    };
    assert_eq!(
        backfilled,
        ["order.b0", "order.b1", "order.b2", "order.b3", "order.b4"]
    );
    // Envelopes that land between the backfill and the stream are not lost.
    append(
        &base,
        vec![envelope("order.gap", "s"), envelope("invoice.skip", "s")],
    )
    .await;
    let mut reader = open(
        &base,
        KEY_A,
        &format!("event_type=order.*&cursor={cursor}"),
        None,
    )
    .await;
    append(&base, vec![envelope("order.live", "s")]).await;
    assert_eq!(
        event_types(&reader.events(2, WAIT).await),
        ["order.gap", "order.live"]
    );
    reader.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_cursor_older_than_retention_gets_410_cursor_expired() {
    let server = server_with(|c| c.fibric.retention.max_records = Some(3)).await;
    let base = server.base_url();
    let ids = append(&base, vec![envelope("e.0", "s"), envelope("e.1", "s")]).await;
    // Still inside the window: fine.
    let (status, _) = list(&base, KEY_A, &format!("cursor={}", ids[0].1)).await;
    assert_eq!(status, 200);
    append(
        &base,
        (2..6).map(|i| envelope(&format!("e.{i}"), "s")).collect(),
    )
    .await;
    let (status, body) = list(&base, KEY_A, &format!("cursor={}", ids[0].1)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("cursor_expired"))
    );
    let response = client()
        .get(format!("{base}/v1/events/stream"))
        .bearer_auth(KEY_A)
        .header("last-event-id", &ids[1].0)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    // The list without a cursor starts at the oldest kept, and its cursor works.
    let (_, page) = list(&base, KEY_A, "").await;
    let kept: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["e.3", "e.4", "e.5"]);
}

#[tokio::test]
async fn a_cursor_ahead_of_the_log_is_refused() {
    let server = server().await;
    let base = server.base_url();
    let ids = append(&base, vec![envelope("e.0", "s")]).await;
    let fresh = super::server().await;
    // A cursor from another server's log, one position ahead of this one's.
    append(
        &fresh.base_url(),
        vec![envelope("x", "s"), envelope("y", "s")],
    )
    .await;
    let (_, page) = list(&fresh.base_url(), KEY_A, "").await;
    let ahead = page["next_cursor"].as_str().unwrap();
    let (status, body) = list(&base, KEY_A, &format!("cursor={ahead}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn cursors_and_event_ids_survive_a_restart_and_a_stream_resumes_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_durable(dir.path(), &[]);
    let ids = append(
        &server.base_url,
        (0..3).map(|i| envelope(&format!("e.{i}"), "s")).collect(),
    )
    .await;
    let mut reader = open(
        &server.base_url,
        KEY_A,
        &format!("cursor={}", ids[0].1),
        None,
    )
    .await;
    let first = reader.events(2, WAIT).await;
    assert_eq!(event_types(&first), ["e.1", "e.2"]);
    let last_seen = first[1].last_event_id.clone();
    // The server dies mid-stream; more envelopes arrive after it comes back.
    drop(server);
    let server = spawn_durable(dir.path(), &[]);
    append(
        &server.base_url,
        vec![envelope("e.3", "s"), envelope("e.4", "s")],
    )
    .await;
    let mut resumed = open(&server.base_url, KEY_A, "", Some(&last_seen)).await;
    let rest = resumed.events(2, WAIT).await;
    assert_eq!(event_types(&rest), ["e.3", "e.4"]);
    // The old cursor still names the same position.
    let (_, page) = list(&server.base_url, KEY_A, &format!("cursor={}", ids[2].1)).await;
    let after: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(after, ["e.3", "e.4"]);
    assert_eq!(
        data(&rest[0])["event_id"].as_str().unwrap(),
        rest[0].last_event_id
    );
}
