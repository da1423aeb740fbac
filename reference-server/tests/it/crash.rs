//! Crash safety: SIGKILL in the middle of appends loses no acknowledged record and reuses no position.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{CONTROL_TOKEN, ServerProcess, client, read_scratch, spawn_durable};

const STREAM: &str = "scratch.crash";
const WRITERS: u64 = 4;

type Acks = Arc<Mutex<Vec<(u64, Value)>>>;

/// Appends batches of 1 to 4 records from several writers until the server
/// dies, recording every record whose append was acknowledged.
async fn append_until_killed(
    server: &mut ServerProcess,
    round: u64,
    kill_after: usize,
) -> Vec<(u64, Value)> {
    let acks: Acks = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let base_url = server.base_url.clone();
        let acks = Arc::clone(&acks);
        writers.push(tokio::spawn(async move {
            let client = client();
            for n in 0u64.. {
                let size = 1 + (n + writer) % 4;
                let records: Vec<Value> = (0..size)
                    .map(|k| json!({"round": round, "writer": writer, "n": n, "k": k}))
                    .collect();
                let response = client
                    .post(format!("{base_url}/_control/log/{STREAM}"))
                    .bearer_auth(CONTROL_TOKEN)
                    .json(&json!({ "records": records }))
                    .send()
                    .await;
                let Ok(response) = response else { return };
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                let positions = body["positions"].as_array().expect("positions").clone();
                assert_eq!(positions.len(), records.len());
                let mut acks = acks.lock().unwrap();
                for (position, record) in positions.iter().zip(records) {
                    acks.push((position.as_u64().expect("u64 position"), record));
                }
            }
        }));
    }
    // Kill while the writers are mid-flight.
    tokio::time::timeout(Duration::from_secs(60), async {
        while acks.lock().unwrap().len() < kill_after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the writers made progress");
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    for writer in writers {
        writer.await.expect("writer task");
    }
    acks.lock().unwrap().clone()
}

/// Everything that must hold after a crash; an empty list means it held.
fn violations(
    acked: &[(u64, Value)],
    stored: &[(u64, Value)],
    appended_after: &[u64],
) -> Vec<String> {
    let mut found = Vec::new();
    if stored.len() < acked.len() {
        found.push(format!(
            "{} records acknowledged, only {} stored",
            acked.len(),
            stored.len()
        ));
    }
    let by_position: BTreeMap<u64, &Value> = stored.iter().map(|(p, v)| (*p, v)).collect();
    for (position, record) in acked {
        match by_position.get(position) {
            Some(stored) if *stored == record => {}
            Some(stored) => found.push(format!(
                "position {position} holds {stored}, acknowledged {record}"
            )),
            None => found.push(format!(
                "acknowledged position {position} ({record}) is gone"
            )),
        }
    }
    for (expected, (position, _)) in (1u64..).zip(stored) {
        if *position != expected {
            found.push(format!(
                "stored positions are not 1, 2, 3, …: found {position} where {expected} belongs"
            ));
            break;
        }
    }
    // Each writer's acknowledged records appear in the order it wrote them.
    // (round, writer) → (n, k, position) of each acknowledged record.
    type Written = Vec<(u64, u64, u64)>;
    let mut per_writer: BTreeMap<(u64, u64), Written> = BTreeMap::new();
    for (position, record) in acked {
        let key = (
            record["round"].as_u64().unwrap_or(0),
            record["writer"].as_u64().unwrap_or(0),
        );
        let order = (
            record["n"].as_u64().unwrap_or(0),
            record["k"].as_u64().unwrap_or(0),
        );
        per_writer
            .entry(key)
            .or_default()
            .push((order.0, order.1, *position));
    }
    for ((round, writer), mut records) in per_writer {
        records.sort();
        if records.windows(2).any(|w| w[0].2 >= w[1].2) {
            found.push(format!(
                "writer {writer} of round {round}: records out of order"
            ));
        }
    }
    let newest = stored.iter().map(|(p, _)| *p).max().unwrap_or(0);
    for position in appended_after {
        if *position <= newest {
            found.push(format!(
                "position {position} reused after restart (newest stored was {newest})"
            ));
        }
    }
    found
}

async fn append_one(base_url: &str) -> Vec<u64> {
    let body: Value = client()
        .post(format!("{base_url}/_control/log/{STREAM}"))
        .bearer_auth(CONTROL_TOKEN)
        .json(&json!({"records": [{"after": "restart"}]}))
        .send()
        .await
        .expect("append after restart")
        .json()
        .await
        .expect("json");
    body["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

/// Two crash rounds against one data directory; returns the violations found.
async fn crash_twice(extra_args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = Vec::new();
    for round in 0..2 {
        let mut server = spawn_durable(dir.path(), extra_args);
        acked.extend(append_until_killed(&mut server, round, 150).await);
    }
    let server = spawn_durable(dir.path(), extra_args);
    let stored = read_scratch(&server.base_url, STREAM).await;
    let appended_after = append_one(&server.base_url).await;
    violations(&acked, &stored, &appended_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_append_loses_no_acknowledged_record_and_reuses_no_position() {
    let found = crash_twice(&[]).await;
    assert!(
        found.is_empty(),
        "crash invariants broken:\n{}",
        found.join("\n")
    );
}

/// The same test run against the `reuse-seq-after-restart` defect must fail,
/// or it proves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crash_check_catches_a_server_that_reuses_positions() {
    let found = crash_twice(&["--defect", "reuse-seq-after-restart"]).await;
    assert!(
        found
            .iter()
            .any(|v| v.contains("reused") || v.contains("holds")),
        "the defect went unnoticed: {found:?}"
    );
}
