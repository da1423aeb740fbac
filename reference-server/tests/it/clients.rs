//! Real third-party clients against the reference server (npm `eventsource` so far).
//!
//! Their packages are pinned in `tests/clients/*/package-lock.json` and installed
//! by `.ci/run` (`npm ci`), which also sets `STREAMCHECK_REAL_CLIENTS=1`. A test
//! runs whenever its client is installed; under that variable a missing client
//! is a failure, never a silent skip.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reference_server::config::Config;
use reference_server::server::start;
use serde_json::Value;

use crate::support::CONTROL_TOKEN;

/// The folder of an installed client, or `None` (with a note) when it is not installed and not required.
fn client_dir(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name);
    if dir.join("node_modules").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("STREAMCHECK_REAL_CLIENTS").is_none(),
        "STREAMCHECK_REAL_CLIENTS is set but {} has no node_modules: run `npm ci` there (.ci/run does)",
        dir.display()
    );
    eprintln!(
        "note: {name} is not installed; run `npm ci` in {} to run this test",
        dir.display()
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_eventsource_reconnects_with_last_event_id_and_gets_every_envelope_once_in_order() {
    let Some(dir) = client_dir("eventsource") else {
        return;
    };
    let server = start(Config::ephemeral()).await.unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg("fibric-reconnect.mjs")
            .args([
                server.base_url().as_str(),
                "sk_test_tenant_a",
                CONTROL_TOKEN,
            ])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the client finished within 60 s")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\nstdout: {stdout}\nstderr: {stderr}"));
    assert_eq!(report["outcome"], "ok", "{report:#}\n{stderr}");
    let types: Vec<&str> = report["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..12).map(|i| format!("order.e{i}")).collect();
    assert_eq!(types, expected, "every envelope exactly once, in order");
    assert_eq!(report["opens"], 2, "one reconnect: {report:#}");
    // The reconnect carried the id of the last envelope seen before the drop.
    let sent = report["lastEventIds"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{report:#}");
    assert!(sent[0].is_null());
    assert_eq!(sent[1], report["received"][4]["event_id"], "{report:#}");
    server.shutdown().await.unwrap();
}
