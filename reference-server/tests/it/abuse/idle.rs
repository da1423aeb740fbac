//! Thousands of connections that never send a whole request: others are served meanwhile, memory stays small, and the header-read timeout closes them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{memory_kib, raise_open_files, spawn_with_config};

/// Connections that send nothing at all.
const SILENT: usize = 2_000;
/// Connections that stop halfway through the request line, and through the headers.
const HALF_LINE: usize = 250;
const HALF_HEADERS: usize = 250;
/// Short enough for the test, long enough that the probes run before it fires.
const HEADER_READ_TIMEOUT: &str = "5s";

/// One request on each API by a fresh connection; returns the slowest answer's time.
async fn probe_every_api(base: &str) -> Duration {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let requests = [
        http.get(format!("{base}/v1/events"))
            .bearer_auth(crate::fibric::KEY_A),
        http.get(format!("{base}/streams"))
            .bearer_auth(crate::pulse::KEY),
        http.post(format!("{base}/query/1"))
            .bearer_auth(crate::fauna::SECRET)
            .header("x-format", "tagged")
            .json(&serde_json::json!({"query": {"fql": ["Probe.all().eventSource()"]}, "arguments": {}})),
        http.get(format!("{base}/api/v2/node/id")),
        http.get(format!("{base}/xrpc/com.atproto.server.describeServer")),
    ];
    let mut slowest = Duration::ZERO;
    for request in requests {
        let started = Instant::now();
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let body = response.text().await.expect("a whole body");
        slowest = slowest.max(started.elapsed());
        assert!(status.is_success(), "{status} {body}");
    }
    slowest
}

/// Waits until the server closes `stream` (end of file or a reset), at most `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A 408 or the like before closing is fine too; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_cost_little_and_are_closed() {
    // The test holds each connection once and the server once more, plus some spare.
    let total = SILENT + HALF_LINE + HALF_HEADERS;
    raise_open_files(2 * total as u64 + 512);
    let (_dir, server) = spawn_with_config(&format!(
        "header_read_timeout = \"{HEADER_READ_TIMEOUT}\"\n"
    ));
    let pid = server.child.id();
    let address = server.base_url.trim_start_matches("http://").to_owned();
    crate::fauna::Fauna::new(&server.base_url)
        .query(r#"Collection.create({ name: "Probe" })"#)
        .await;
    // Warm up every API once, so that the baseline includes what a first request allocates.
    probe_every_api(&server.base_url).await;
    let (baseline, _) = memory_kib(pid);

    let opened = Instant::now();
    let mut connections = Vec::with_capacity(total);
    for i in 0..total {
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        if i >= SILENT + HALF_LINE {
            stream
                .write_all(b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bea")
                .await
                .unwrap();
        } else if i >= SILENT {
            stream.write_all(b"GET /v1/ev").await.unwrap();
        }
        connections.push(stream);
    }
    let opening = opened.elapsed();
    // Let the server accept and park every one of them before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let slowest = probe_every_api(&server.base_url).await;
    let (with_idle, _) = memory_kib(pid);
    let per_connection = (with_idle.saturating_sub(baseline)) * 1024 / total as u64;
    println!(
        "{total} idle connections opened in {opening:?}: RSS {baseline} KiB before, {with_idle} KiB with them \
         (about {per_connection} bytes each); the slowest request on any API took {slowest:?}"
    );
    // Measured: about 5 KiB per idle connection (a task, hyper's version
    // probe, the socket's wrappers), ~13 MiB for 2,500. 16 KiB each is a
    // generous ceiling that still fails if each held a read buffer of hyper's
    // full size (8 KiB grown to 400 KiB) or anything per-connection grew.
    assert!(
        per_connection < 16 * 1024,
        "{per_connection} bytes per idle connection"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "a request took {slowest:?} while idle connections were open"
    );

    // After the header-read timeout, the server closes every one of them.
    let within = Duration::from_secs(15);
    let started = Instant::now();
    for (i, stream) in connections.iter_mut().enumerate() {
        let left = within.saturating_sub(started.elapsed());
        assert!(
            closed_by_server(stream, left).await,
            "connection {i} of {total} still open {within:?} after the probes"
        );
    }
    println!("all closed {:?} after the probes", started.elapsed());
    assert!(probe_every_api(&server.base_url).await < Duration::from_secs(1));
}
