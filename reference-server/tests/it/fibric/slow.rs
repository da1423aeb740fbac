//! A consumer that stops reading is cut off; the others keep their pace and the server's memory stays bounded.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{KEY_A, append, event_types, open};
use crate::support::{CONTROL_TOKEN, client, spawn};

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn stall_disconnects(base: &str) -> u64 {
    let body: Value = client()
        .get(format!("{base}/_control/stats"))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["subscribers"]["stall_disconnects"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_stops_reading_is_cut_while_others_keep_pace_in_bounded_memory() {
    const ENVELOPES: usize = 2000;
    const PAYLOAD: usize = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("slow.toml");
    std::fs::write(
        &config,
        "memory = true\n[subscribers]\nstall_timeout = \"500ms\"\nread_batch = 8\n\
         [fibric]\nretention_max_records = 100\n",
    )
    .unwrap();
    let server = spawn(&["--config", config.to_str().unwrap()]);
    let base = server.base_url.clone();
    let pid = server.child.id();

    // The stalled consumer: a raw connection that asks for the stream and never reads.
    let addr = base.trim_start_matches("http://").to_owned();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stalled,
        "GET /v1/events/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY_A}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    // The healthy consumer.
    let mut healthy = open(&base, KEY_A, "", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = rss_kib(pid);

    let filler = "x".repeat(PAYLOAD);
    // The healthy consumer counts what it has; the publisher stays at most
    // WINDOW envelopes ahead of it (inside the 100-envelope retention), so a
    // stalled consumer that held the server back would stall this one too.
    const WINDOW: usize = 50;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let reader = tokio::spawn(async move {
        let mut events = Vec::with_capacity(ENVELOPES);
        while events.len() < ENVELOPES {
            let Some(event) = healthy.next_event(Duration::from_secs(30)).await else {
                panic!("the healthy consumer starved after {} events", events.len());
            };
            events.push(event);
            counter.store(events.len(), Ordering::Relaxed);
        }
        events
    });
    let started = Instant::now();
    let mut peak = baseline;
    for batch in 0..ENVELOPES / 20 {
        while batch * 20 > received.load(Ordering::Relaxed) + WINDOW {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let envelopes = (0..20)
            .map(|i| json!({"tenant_id": "tn_a", "event_type": format!("bulk.e{}", batch * 20 + i), "source": "s", "payload": {"fill": filler}}))
            .collect();
        append(&base, envelopes).await;
        peak = peak.max(rss_kib(pid));
    }
    let events = reader.await.unwrap();
    let elapsed = started.elapsed();
    peak = peak.max(rss_kib(pid));

    // The healthy consumer got everything, in order, and promptly.
    let expected: Vec<String> = (0..ENVELOPES).map(|i| format!("bulk.e{i}")).collect();
    assert_eq!(event_types(&events), expected);
    assert!(
        elapsed < Duration::from_secs(60),
        "128 MiB took {elapsed:?} to reach the healthy consumer"
    );

    // The stalled one was cut: the server counted it, and its socket ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stall_disconnects(&base).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the stalled consumer was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut drained = 0usize;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match stalled.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
        assert!(drained < 200 << 20, "the stalled connection kept streaming");
    }
    // Far less than was published reached the stalled socket before the cut.
    assert!(
        drained < ENVELOPES * PAYLOAD / 2,
        "{drained} bytes reached the stalled consumer"
    );

    // 128 MiB went through the server; its memory grew by a small fraction of
    // that (the retained log alone is 6 MiB; the rest is transient).
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!(
        "slow-consumer test: {elapsed:?} for {ENVELOPES} envelopes, rss growth {growth_mib} MiB, stalled got {drained} bytes"
    );
    assert!(
        growth_mib < 48,
        "resident memory grew by {growth_mib} MiB (baseline {} MiB)",
        baseline / 1024
    );
}
