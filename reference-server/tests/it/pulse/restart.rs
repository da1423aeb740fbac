//! A durable server killed with SIGKILL and started again keeps Pulse's models, rows, streams, cursors and event order.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Api, expect_error, ids};
use crate::support::{ServerProcess, spawn_durable};

const CONFIG: &str = "[pulse]\nkeepalive = \"100ms\"\n\
    [[pulse.models]]\nname = \"User\"\nprimary_key = \"id\"\nreplica_identity = \"full\"\n";

fn spawn(dir: &Path) -> (ServerProcess, Api) {
    let config = dir.join("pulse.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    let config = config.to_str().expect("utf-8 path").to_owned();
    let server = spawn_durable(&dir.join("data"), &["--config", &config]);
    let api = Api::new(&server.base_url);
    (server, api)
}

#[tokio::test]
async fn models_rows_streams_cursors_and_event_order_survive_a_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, api) = spawn(dir.path());
    assert_eq!(
        api.declare("Post", "slug", "default").await.status(),
        StatusCode::CREATED
    );
    let created_at = api.stream("s", "User", None).await["createdAt"].clone();
    api.stream("deletes", "Post", Some(json!({"delete": {}})))
        .await;
    let mut users = Vec::new();
    for id in 1..5 {
        users.push(api.row("User", "create", json!({"id": id, "v": 0})).await);
    }
    api.row("Post", "create", json!({"slug": "hello", "title": "Hi"}))
        .await;
    let post_deleted = api.row("Post", "delete", json!({"slug": "hello"})).await;
    let mut before_kill = users.clone();
    before_kill.push(post_deleted.clone());
    let mut sse = api.consume("s", Some(&users[1])).await;
    assert_eq!(ids(&sse.until_keepalive().await), users[2..]);
    let events_before: Vec<Value> = {
        let mut events = Vec::new();
        for id in &before_kill {
            events.push(api.event(id).await.json::<Value>().await.expect("json"));
        }
        events
    };
    drop(sse);
    drop(server);

    let (server, api) = spawn(dir.path());
    // The model declared through the control API is still there, the same.
    assert_eq!(
        api.declare("Post", "slug", "default").await.status(),
        StatusCode::OK
    );
    let listed = api.streams().await;
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["deletes", "s"]);
    let info = api.info("s").await.unwrap();
    assert_eq!(info["cursor"], users[1].as_str());
    assert_eq!(info["status"], "paused");
    assert_eq!(info["createdAt"], created_at);
    for (id, event) in before_kill.iter().zip(&events_before) {
        let response = api.event(id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap(), *event);
    }
    // Ids keep increasing across the restart.
    let user_after = api.row("User", "update", json!({"id": 1, "v": 1})).await;
    let post_after = api.row("Post", "create", json!({"slug": "again"})).await;
    assert!(
        user_after > post_deleted,
        "{user_after} after {post_deleted}"
    );
    assert!(post_after > user_after);
    // Rows survived: the update saw the old row, and the key is still taken.
    let update: Value = api.event(&user_after).await.json().await.unwrap();
    assert_eq!(update["before"], json!({"id": 1, "v": 0}));
    expect_error(
        api.change("User", "create", json!({"id": 2})).await,
        StatusCode::CONFLICT,
        "row_exists",
    )
    .await;
    // The stream resumes after its saved cursor: nothing lost, nothing from before it.
    let mut sse = api.consume("s", None).await;
    let mut expected = users[2..].to_vec();
    expected.push(user_after);
    assert_eq!(ids(&sse.until_keepalive().await), expected);
    let mut deletes = api.consume("deletes", None).await;
    assert_eq!(ids(&deletes.until_keepalive().await), [post_deleted]);
    drop(server);
}
