//! `GET /v1/events/stream`: frame shape, start at now, filters, tenancy, keep-alive, h2c, forced disconnects.

use std::time::Duration;

use serde_json::{Value, json};
use wire::sse::SseItem;

use super::{KEY_A, KEY_B, WAIT, append, data, envelope, event_types, open, server, server_with};
use crate::support::{CONTROL_TOKEN, SseReader, client};

#[tokio::test]
async fn each_envelope_is_one_frame_with_its_id_the_envelope_event_and_a_cursor() {
    let server = server().await;
    let base = server.base_url();
    let mut reader = open(&base, KEY_A, "", None).await;
    let headers = reader.response().headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let ids = append(&base, vec![envelope("order.created", "magento")]).await;
    let event = reader.next_event(WAIT).await.expect("a frame");
    assert_eq!(event.event_type, "envelope");
    assert_eq!(event.last_event_id, ids[0].0);
    assert!(event.id_field_seen);
    let envelope = data(&event);
    assert_eq!(envelope["event_id"], ids[0].0.as_str());
    assert_eq!(envelope["event_type"], "order.created");
    assert!(envelope["cursor"].as_str().unwrap().starts_with("cur_"));
}

#[tokio::test]
async fn without_a_cursor_the_stream_starts_at_now() {
    let server = server().await;
    let base = server.base_url();
    append(
        &base,
        vec![envelope("old.one", "s"), envelope("old.two", "s")],
    )
    .await;
    let mut reader = open(&base, KEY_A, "", None).await;
    append(
        &base,
        vec![envelope("new.one", "s"), envelope("new.two", "s")],
    )
    .await;
    let events = reader.events(2, WAIT).await;
    assert_eq!(event_types(&events), ["new.one", "new.two"]);
    reader.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn stream_filters_apply_the_one_segment_glob() {
    let server = server().await;
    let base = server.base_url();
    let mut reader = open(&base, KEY_A, "event_type=order.*", None).await;
    append(
        &base,
        vec![
            envelope("order.refund.issued", "s"),
            envelope("order.created", "s"),
            envelope("invoice.created", "s"),
            envelope("order.updated", "s"),
        ],
    )
    .await;
    let events = reader.events(2, WAIT).await;
    assert_eq!(event_types(&events), ["order.created", "order.updated"]);
    reader.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_stream_shows_only_its_tenant() {
    let server = server().await;
    let base = server.base_url();
    let mut reader_b = open(&base, KEY_B, "", None).await;
    append(&base, vec![envelope("order.created", "a")]).await;
    append(
        &base,
        vec![json!({"tenant_id": "tn_b", "event_type": "order.created", "source": "b"})],
    )
    .await;
    let event = reader_b.next_event(WAIT).await.unwrap();
    assert_eq!(data(&event)["tenant_id"], "tn_b");
    reader_b.expect_no_event(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments_at_the_configured_interval() {
    let server = server_with(|c| c.fibric.keepalive = Duration::from_millis(100)).await;
    let base = server.base_url();
    let mut reader = open(&base, KEY_A, "", None).await;
    let started = tokio::time::Instant::now();
    let mut comments = 0;
    while comments < 3 {
        match reader.next_item(Duration::from_secs(2)).await {
            Some(SseItem::Comment(text)) => {
                assert_eq!(text, "keep-alive");
                comments += 1;
            }
            other => panic!("expected a keep-alive comment, got {other:?}"),
        }
    }
    // Three comments at 100 ms take at least 300 ms, and far less than the 30 s default.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn streams_work_over_h2c_too() {
    let server = server().await;
    let base = server.base_url();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .get(format!("{base}/v1/events/stream"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let mut reader = SseReader::new(response);
    append(&base, vec![envelope("order.created", "s")]).await;
    assert_eq!(
        event_types(&reader.events(1, WAIT).await),
        ["order.created"]
    );
}

#[tokio::test]
async fn the_control_api_can_end_every_open_stream_and_counts_it() {
    let server = server().await;
    let base = server.base_url();
    let mut one = open(&base, KEY_A, "", None).await;
    let mut two = open(&base, KEY_B, "", None).await;
    let stats = |base: String| async move {
        let body: Value = client()
            .get(format!("{base}/_control/stats"))
            .bearer_auth(CONTROL_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["subscribers"].clone()
    };
    assert_eq!(stats(base.clone()).await["open_streams"], 2);
    let response = client()
        .post(format!("{base}/_control/disconnect"))
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({"api": "fibric"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        one.next_event(WAIT).await.is_none() && one.ended,
        "the stream ended"
    );
    assert!(two.next_event(WAIT).await.is_none() && two.ended);
    let after = stats(base.clone()).await;
    assert_eq!(after["forced_disconnects"], 2);
    assert_eq!(after["open_streams"], 0);
    // New streams open normally afterwards.
    let mut three = open(&base, KEY_A, "", None).await;
    append(&base, vec![envelope("after.disconnect", "s")]).await;
    assert_eq!(
        event_types(&three.events(1, WAIT).await),
        ["after.disconnect"]
    );
}
