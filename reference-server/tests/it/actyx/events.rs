//! Offsets, publish and query: Lamport order across streams, bounds, the three orders, replication, AQL answers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{events, expect_error, foreign_stream, send, server};

#[tokio::test]
async fn a_fresh_node_has_its_routing_events_and_publishes_after_them() {
    let (_server, ax) = server().await;
    let node = ax.node_id().await;
    let local = format!("{node}-0");
    let offsets = ax.offsets().await;
    assert_eq!(offsets, json!({"present": {&local: 3}, "toReplicate": {}}));

    let published = ax
        .publish(&[(&["b", "a", "b"], json!({"n": 1})), (&[], json!([1, 2]))])
        .await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0]["stream"], local.as_str());
    assert_eq!(
        (
            published[0]["offset"].as_u64(),
            published[1]["offset"].as_u64()
        ),
        (Some(4), Some(5))
    );
    assert_eq!(
        (
            published[0]["lamport"].as_u64(),
            published[1]["lamport"].as_u64()
        ),
        (Some(4), Some(5))
    );
    assert_eq!(
        published[0]["timestamp"], published[1]["timestamp"],
        "one timestamp per request"
    );
    let micros = published[0]["timestamp"].as_u64().unwrap();
    assert!(micros > 1_600_000_000_000_000, "microseconds: {micros}");
    assert_eq!(ax.offsets().await["present"][&local], 5);

    let lines = ax
        .query(&json!({"query": "FROM isLocal", "order": "asc"}))
        .await;
    let found = events(&lines);
    assert_eq!(
        found.len(),
        6,
        "4 routing events and 2 published: {lines:?}"
    );
    assert_eq!(found[0]["appId"], "com.actyx");
    assert_eq!(found[0]["tags"], json!(["event_routing"]));
    let mine = found[4];
    assert_eq!(
        mine.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "type",
            "lamport",
            "stream",
            "offset",
            "timestamp",
            "tags",
            "appId",
            "payload"
        ],
    );
    assert_eq!(mine["tags"], json!(["a", "b"]), "sorted and unique");
    assert_eq!(mine["appId"], super::APP);
    assert_eq!(mine["payload"], json!({"n": 1}));
    assert_eq!(found[5]["payload"], json!([1, 2]));
    assert_eq!(
        lines.last().unwrap(),
        &json!({"type": "offsets", "offsets": {&local: 5}})
    );
}

#[tokio::test]
async fn empty_tags_are_refused_and_nothing_is_written() {
    let (_server, ax) = server().await;
    let before = ax.offsets().await;
    let message = expect_error(
        send(ax.post(
            "publish",
            &json!({"data": [{"tags": ["ok"], "payload": 1}, {"tags": [""], "payload": 2}]}),
        ))
        .await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    assert!(message.contains("expected non-empty string"), "{message}");
    assert_eq!(ax.offsets().await, before);
}

#[tokio::test]
async fn foreign_events_sort_by_lamport_then_stream_and_move_the_clock() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    ax.publish(&[(&["t"], json!("l4")), (&["t"], json!("l5"))])
        .await;
    // Two foreign streams; "0..." sorts before "z..." by node id.
    let low = foreign_stream('0', 1);
    let high = foreign_stream('z', 0);
    let response = ax
        .replicate(&json!({"stream": high, "events": [
            {"offset": 0, "lamport": 5, "tags": ["t"], "payload": "z5"},
            {"offset": 1, "lamport": 20, "tags": ["t"], "payload": "z20"},
        ], "announce": 4}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = ax
        .replicate(&json!({"stream": low, "events": [
            {"offset": 0, "lamport": 5, "tags": ["t"], "payload": "05", "appId": "com.example.other"},
        ]}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["lamport"], 20,
        "the clock moved past the highest lamport seen"
    );

    let offsets = ax.offsets().await;
    assert_eq!(offsets["present"], json!({&local: 5, &low: 0, &high: 1}));
    assert_eq!(offsets["toReplicate"], json!({&high: 3}));

    let order = |o: &str| {
        let ax = &ax;
        let o = o.to_owned();
        async move {
            let lines = ax.query(&json!({"query": "FROM 't'", "order": o})).await;
            events(&lines)
                .iter()
                .map(|e| e["payload"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // lamport 4 (local), then lamport 5: local stream, "0…" and "z…" by stream id.
    let mut at_five = [
        (local.clone(), "l5"),
        (low.clone(), "05"),
        (high.clone(), "z5"),
    ];
    at_five.sort();
    let mut asc = vec!["l4".to_owned()];
    asc.extend(at_five.iter().map(|(_, p)| (*p).to_owned()));
    asc.push("z20".to_owned());
    assert_eq!(order("asc").await, asc);
    let mut desc = asc.clone();
    desc.reverse();
    assert_eq!(order("desc").await, desc);
    let stream_asc = order("stream-asc").await;
    assert_eq!(stream_asc.len(), asc.len());
    let position = |p: &str| stream_asc.iter().position(|x| x == p).unwrap();
    assert!(position("l4") < position("l5") && position("z5") < position("z20"));

    // The next local event sorts after everything seen.
    let next = ax.publish(&[(&["t"], json!("l21"))]).await;
    assert_eq!(next[0]["lamport"], 21);

    // Replication continues offsets without gaps.
    let response = ax
        .replicate(&json!({"stream": low, "events": [{"offset": 5, "lamport": 1}]}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = ax
        .replicate(&json!({"stream": local, "events": [{"offset": 6, "lamport": 1}]}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "own stream");
}

#[tokio::test]
async fn bounds_are_exclusive_below_inclusive_above_and_named_streams_only() {
    let (_server, ax) = server().await;
    let local = format!("{}-0", ax.node_id().await);
    let other = foreign_stream('A', 0);
    ax.publish(&[
        (&["b"], json!(4)),
        (&["b"], json!(5)),
        (&["b"], json!(6)),
        (&["b"], json!(7)),
    ])
    .await;
    ax.replicate(&json!({"stream": other, "events": [{"offset": 0, "lamport": 1, "tags": ["b"], "payload": 100}]}))
        .await;
    let payloads = |lines: &[Value]| {
        events(lines)
            .iter()
            .map(|e| e["payload"].clone())
            .collect::<Vec<_>>()
    };

    let lines = ax
        .query(&json!({"query": "FROM 'b'", "order": "asc",
            "lowerBound": {&local: 4}, "upperBound": {&local: 6}}))
        .await;
    assert_eq!(payloads(&lines), vec![json!(5), json!(6)]);
    assert_eq!(
        lines.last().unwrap(),
        &json!({"type": "offsets", "offsets": {&local: 6}})
    );

    // Without an upper bound: everything known, every stream.
    let lines = ax
        .query(&json!({"query": "FROM 'b'", "order": "asc", "lowerBound": {&local: "6"}, "upperBound": null}))
        .await;
    assert_eq!(payloads(&lines), vec![json!(100), json!(7)]);
    assert_eq!(
        lines.last().unwrap()["offsets"],
        json!({&local: 7, &other: 0})
    );

    // -1 and "min" mean "from the start".
    let lines = ax
        .query(&json!({"query": "FROM 'b'", "order": "asc", "lowerBound": {&local: -1, &other: "min"}}))
        .await;
    assert_eq!(payloads(&lines).len(), 5);

    // An upper bound beyond the present: one error diagnostic, no offsets line.
    for upper in [
        json!({&local: 8}),
        json!({foreign_stream('B', 0): 0}),
        json!({&local: "max"}),
    ] {
        let lines = ax
            .query(&json!({"query": "FROM 'b'", "order": "asc", "upperBound": upper}))
            .await;
        assert_eq!(
            lines,
            vec![json!({"type": "diagnostic", "severity": "error",
                "message": "Query bounds out of range: upper bound must be within the known present."})]
        );
    }
    expect_error(
        send(ax.post(
            "query",
            &json!({"query": "FROM 'b'", "order": "asc", "lowerBound": {&local: -2}}),
        ))
        .await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
    expect_error(
        send(ax.post("query", &json!({"query": "FROM 'b'", "order": "sideways"}))).await,
        StatusCode::BAD_REQUEST,
        "ERR_BAD_REQUEST",
    )
    .await;
}

#[tokio::test]
async fn aql_filters_selects_limits_and_reports_what_it_cannot_do() {
    let (_server, ax) = server().await;
    ax.publish(&[
        (&["n"], json!({"v": 1})),
        (&["n"], json!({"v": 2})),
        (&["n"], json!({"w": 3})),
        (&["n"], json!({"v": 4})),
    ])
    .await;
    let lines = ax
        .query(&json!({"query": "FROM 'n' FILTER _.v > 1 SELECT _.v * 10", "order": "asc"}))
        .await;
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| l["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["event", "diagnostic", "event", "offsets"]);
    assert_eq!(lines[0]["payload"], 20);
    assert_eq!(
        lines[0]["lamport"], 5,
        "a selected value keeps its event's metadata"
    );
    assert_eq!(
        lines[1],
        json!({"type": "diagnostic", "severity": "warning", "message": "property `v` not found in Object"})
    );
    let lines = ax
        .query(&json!({"query": "FROM 'n' LIMIT 2", "order": "desc"}))
        .await;
    let found = events(&lines);
    assert_eq!(
        (found.len(), found[0]["payload"].clone()),
        (2, json!({"v": 4}))
    );
    assert_eq!(lines.last().unwrap()["type"], "offsets");

    let lines = ax
        .query(&json!({"query": "FEATURES(multiEmission) FROM 'n' FILTER IsDefined(_.v) SELECT _.v, 0", "order": "asc"}))
        .await;
    let found = events(&lines);
    assert_eq!(found.len(), 6);
    assert_eq!(found[1]["payload"], 0);
    assert_eq!(
        found[1]["lamport"], 0,
        "a constant carries no event's metadata"
    );
    assert_eq!(found[1]["appId"], "none");

    for (query, status, code, says) in [
        (
            "FROM x",
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
            "syntax",
        ),
        (
            "FROM 'n' SELECT _, _",
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
            "beta features that are not enabled: multiEmission",
        ),
        (
            "FROM 'n' AGGREGATE SUM(_.v)",
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
            "AGGREGATE",
        ),
        (
            "FROM from(2021-07-07Z)",
            StatusCode::BAD_REQUEST,
            "ERR_BAD_REQUEST",
            "time and event-key ranges",
        ),
    ] {
        let message = expect_error(
            send(ax.post("query", &json!({"query": query, "order": "asc"}))).await,
            status,
            code,
        )
        .await;
        assert!(message.starts_with("Invalid request. "), "{message}");
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[tokio::test]
async fn lines_are_compact_json_each_ending_in_a_newline() {
    let (_server, ax) = server().await;
    ax.publish(&[(&["w"], json!({"a": [1, {"b": null}]}))])
        .await;
    let response = send(ax.post("query", &json!({"query": "FROM 'w'", "order": "asc"}))).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(line, value.to_string(), "compact");
    }
    assert_eq!(text.lines().count(), 2);
}
