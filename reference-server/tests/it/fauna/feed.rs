//! `/feed/1`: pages with cursors shared with the stream, page sizes, the same token rules.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{expect_error, kind_and_id, server};

#[tokio::test]
async fn pages_follow_each_other_without_gaps_and_share_cursors_with_streams() {
    let (_server, fauna) = server().await;
    let token = fauna
        .token(r#"Orders.where(.keep == true).eventSource()"#)
        .await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let keep = n % 3 != 2;
        let id = fauna
            .create("Orders", &format!("{{ n: {n}, keep: {keep} }}"))
            .await;
        if keep {
            ids.push(id);
        }
    }
    let mut seen = Vec::new();
    let mut body = json!({"token": token, "page_size": 2});
    let mut pages = 0;
    loop {
        let response = fauna.feed(body.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        for key in ["events", "cursor", "has_next", "stats"] {
            assert!(page.get(key).is_some(), "{key} in {page}");
        }
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        seen.extend(events.iter().map(|e| kind_and_id(e).1));
        pages += 1;
        if page["has_next"] == false {
            break;
        }
        body = json!({"token": token, "page_size": 2, "cursor": page["cursor"]});
        assert!(pages < 10);
    }
    assert_eq!(seen, ids);

    // Default page size 16; a stream resumes from a feed's cursor.
    let first: Value = fauna
        .feed(json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), ids.len());
    assert_eq!(first["has_next"], false);
    let third_cursor = first["events"][2]["cursor"].clone();
    let mut events = fauna
        .stream(json!({"token": token, "cursor": third_cursor}))
        .await;
    events.next().await;
    assert_eq!(kind_and_id(&events.next().await).1, ids[3]);
}

#[tokio::test]
async fn page_sizes_and_requests_are_checked() {
    let (_server, fauna) = server().await;
    let token = fauna.token("Orders.all().eventSource()").await;
    for (size, message) in [
        (
            json!(0),
            "Invalid request body: page size must be greater than zero.",
        ),
        (
            json!(16001),
            "Invalid request body: page size can not be greater than 16000.",
        ),
    ] {
        let got = expect_error(
            fauna.feed(json!({"token": token, "page_size": size})).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert_eq!(got, message);
    }
    let got = expect_error(
        fauna
            .feed(json!({"token": token, "cursor": "x", "start_ts": 1}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(
        got,
        "Invalid request body: can not provide both `start_ts` and `cursor`."
    );
    let page: Value = fauna
        .feed(json!({"token": token, "page_size": 16000}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["has_next"], false);
}
