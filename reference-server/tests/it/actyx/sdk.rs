//! The real Rust client, `ax_sdk` 0.2.0 from crates.io, against the reference server, unchanged.

use std::time::Duration;

use ax_sdk::types::service::{Order, QueryResponse, SubscribeMonotonicResponse, SubscribeResponse};
use ax_sdk::types::{AppManifest, app_id, tags};
use ax_sdk::{Ax, AxOpts, Url};
use futures_util::StreamExt;
use serde_json::json;

use super::{WAIT, foreign_stream, server};

async fn client(base: &str) -> Ax {
    let manifest = AppManifest::trial(
        app_id!("com.example.sdk"),
        "SDK test".into(),
        "1.0.0".into(),
    )
    .expect("a trial manifest");
    let opts = AxOpts {
        url: Url::parse(&format!("{base}/")).expect("url"),
        manifest,
    };
    tokio::time::timeout(WAIT, Ax::new(opts))
        .await
        .expect("the SDK connected in time")
        .expect("the SDK connected")
}

async fn next<T>(stream: &mut (impl futures_util::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the SDK stream yielded in time")
        .expect("the SDK stream did not end")
}

#[tokio::test]
async fn the_sdk_publishes_queries_and_reads_offsets() {
    let (_server, http) = server().await;
    let ax = client(&http.base).await;
    assert_eq!(ax.node_id().to_string(), http.node_id().await);

    let published = ax
        .publish()
        .event(tags!("sdk", "one"), &json!({"n": 1}))
        .expect("serialisable")
        .event(tags!("sdk"), &json!({"n": 2}))
        .expect("serialisable")
        .await
        .expect("publish");
    assert_eq!(published.data.len(), 2);
    assert_eq!(
        published.data[0].stream.to_string(),
        format!("{}-0", ax.node_id())
    );
    assert_eq!(
        u64::from(published.data[1].offset),
        u64::from(published.data[0].offset) + 1
    );
    assert!(published.data[0].lamport < published.data[1].lamport);

    let mut lines = ax
        .query("FROM 'sdk'")
        .with_order(Order::Desc)
        .await
        .expect("query");
    let mut payloads = Vec::new();
    let offsets = loop {
        match next(&mut lines).await {
            QueryResponse::Event(event) => payloads.push(event.payload.json_value()),
            QueryResponse::Offsets(offsets) => break offsets,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(payloads, vec![json!({"n": 2}), json!({"n": 1})]);
    assert_eq!(
        offsets.offsets,
        ax.offsets().await.expect("offsets").present
    );
    assert!(
        tokio::time::timeout(WAIT, lines.next())
            .await
            .expect("ends")
            .is_none()
    );

    let stream = foreign_stream('S', 1);
    http.replicate(&json!({"stream": stream, "announce": 2}))
        .await;
    let to_replicate = ax.offsets().await.expect("offsets").to_replicate;
    assert_eq!(to_replicate.len(), 1);
    assert_eq!(to_replicate.values().next().map(|n| n.get()), Some(3));
}

#[tokio::test]
async fn the_sdk_subscribes_and_follows_live_events() {
    let (_server, http) = server().await;
    let ax = client(&http.base).await;
    ax.publish()
        .event(tags!("live"), &json!("before"))
        .unwrap()
        .await
        .unwrap();
    let mut feed = ax.subscribe("FROM 'live'").await.expect("subscribe");
    match next(&mut feed).await {
        SubscribeResponse::Event(event) => assert_eq!(event.payload.json_value(), json!("before")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        next(&mut feed).await,
        SubscribeResponse::Offsets(_)
    ));
    ax.publish()
        .event(tags!("live"), &json!("after"))
        .unwrap()
        .await
        .unwrap();
    match next(&mut feed).await {
        SubscribeResponse::Event(event) => assert_eq!(event.payload.json_value(), json!("after")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn the_sdk_sees_caught_up_and_time_travel() {
    let (_server, http) = server().await;
    let ax = client(&http.base).await;
    ax.publish()
        .event(tags!("mono"), &json!(1))
        .unwrap()
        .await
        .unwrap();
    let present = ax.offsets().await.unwrap().present;
    let mut feed = ax
        .subscribe_monotonic("FROM 'mono'")
        .with_lower_bound(present)
        .await
        .expect("subscribe_monotonic");
    assert!(matches!(
        next(&mut feed).await,
        SubscribeMonotonicResponse::Offsets(_)
    ));
    ax.publish()
        .event(tags!("mono"), &json!(2))
        .unwrap()
        .await
        .unwrap();
    match next(&mut feed).await {
        SubscribeMonotonicResponse::Event { event, caught_up } => {
            assert_eq!(event.payload.json_value(), json!(2));
            assert!(caught_up);
        }
        other => panic!("unexpected {other:?}"),
    }
    let stream = foreign_stream('T', 0);
    http.replicate(
        &json!({"stream": stream, "events": [{"offset": 0, "lamport": 1, "tags": ["mono"]}]}),
    )
    .await;
    match next(&mut feed).await {
        SubscribeMonotonicResponse::TimeTravel { new_start } => {
            assert_eq!(new_start.stream.to_string(), stream);
            assert_eq!(u64::from(new_start.lamport), 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(5), feed.next()).await;
    assert!(matches!(end, Ok(None)), "the feed ends after timeTravel");
}
