//! Durability: documents, ids, `txn_ts`, tokens and cursors survive `kill -9`.

use serde_json::json;

use super::{Fauna, kind_and_id};
use crate::support::spawn_durable;

#[tokio::test]
async fn a_cursor_resumes_after_a_restart_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_durable(dir.path(), &["--config", &config(dir.path())]);
    let fauna = Fauna::new(&server.base_url);
    fauna
        .query(r#"Collection.create({ name: "Orders" })"#)
        .await;
    let token = fauna.token("Orders.all().eventSource()").await;
    let a = fauna.create("Orders", "{ n: 1 }").await;
    let b = fauna.create("Orders", "{ n: 2 }").await;
    let mut events = fauna.stream(json!({"token": token})).await;
    events.next().await;
    let first = events.next().await;
    assert_eq!(kind_and_id(&first).1, a);
    drop(events);
    drop(server); // SIGKILL

    let server = spawn_durable(dir.path(), &["--config", &config(dir.path())]);
    let fauna = Fauna::new(&server.base_url);
    let c = fauna.create("Orders", "{ n: 3 }").await;
    assert!(c > b, "ids keep growing across restarts: {b} then {c}");
    let mut events = fauna
        .stream(json!({"token": token, "cursor": first["cursor"]}))
        .await;
    assert_eq!(events.next().await["type"], "status");
    let second = events.next().await;
    let third = events.next().await;
    assert_eq!(kind_and_id(&second).1, b);
    assert_eq!(kind_and_id(&third).1, c);
    assert!(third["txn_ts"].as_u64() > second["txn_ts"].as_u64());
    let doc = fauna.query(&format!(r#"Orders.byId("{a}")"#)).await;
    assert_eq!(doc["@doc"]["n"], json!({"@int": "1"}));
}

/// A config file with a short status interval, written beside the data.
fn config(dir: &std::path::Path) -> String {
    let path = dir.join("fauna.toml");
    std::fs::write(&path, "[fauna]\nstatus_interval = \"300ms\"\n").unwrap();
    path.to_string_lossy().into_owned()
}
