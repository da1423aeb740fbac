//! Hostile Actyx NDJSON feeds: an endless line, and a valid feed of blank lines only.
//!
//! The server logs the harness in and acknowledges its publishes like a
//! node would; every feed (`subscribe`, `subscribe_monotonic`, `query`)
//! answers 200 `application/x-ndjson` and then the hostile body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::server::{self, Request};

const CAUGHT_UP: &str = "actyx/monotonic/caught-up";
const KEEP_ALIVE: &str = "actyx/wire/keep-alive";

/// The answer to `events/publish`: one acknowledgement per event, offsets counting up.
fn published(request: &Request) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let events = request.json()["data"].as_array().map_or(0, Vec::len);
    let data: Vec<Value> = (0..events)
        .map(|_| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            json!({"lamport": n, "stream": "hostile.node-0", "offset": n, "timestamp": 1_700_000_000_000_000u64 + n})
        })
        .collect();
    json!({ "data": data })
}

/// An Actyx server whose feeds answer with `body`.
async fn actyx<B, F>(body: B) -> String
where
    B: Fn(TcpStream) -> F + Send + Sync + Copy + 'static,
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    server::serve(move |request: Request, mut socket: TcpStream| async move {
        if request.is("POST", "/api/v2/auth") {
            return server::json(socket, "200 OK", &json!({"token": "hostile-token"})).await;
        }
        if request.is("POST", "/api/v2/events/publish") {
            return server::json(socket, "200 OK", &published(&request)).await;
        }
        if request.is("POST", "/api/v2/events/") {
            let head = server::head("200 OK", "application/x-ndjson");
            socket.write_all(head.as_bytes()).await?;
            return body(socket).await;
        }
        server::not_found(socket).await
    })
    .await
}

async fn run(base: &str) -> super::Run {
    let args = [
        "--api", "actyx", "--checks", CAUGHT_UP, "--checks", KEEP_ALIVE,
    ];
    super::check(base, &args).await
}

/// One line, no line end, as fast as the harness reads: cut at the 1 MiB line limit.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_json_line_is_cut_at_the_line_limit() {
    let base = actyx(|mut socket| async move {
        server::repeat(&mut socket, &[b'x'; 1 << 16], u64::MAX).await
    })
    .await;
    let run = run(&base).await;
    let limit = "JSON line longer than the limit of 1048576 bytes";
    run.assert(
        1,
        &[(CAUGHT_UP, "fail"), (KEEP_ALIVE, "non-strict")],
        &[(CAUGHT_UP, limit), (KEEP_ALIVE, limit)],
    );
}

/// A valid feed that never ends and never carries an event: an offsets
/// line, then a blank line every 100 ms. The keep-alive check passes; the
/// live event the other check waits for times out.
#[tokio::test(flavor = "multi_thread")]
async fn blank_lines_forever_time_out() {
    let base = actyx(|mut socket| async move {
        socket
            .write_all(b"{\"type\":\"offsets\",\"offsets\":{}}\n")
            .await?;
        loop {
            socket.write_all(b"\n").await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let run = run(&base).await;
    run.assert(
        1,
        &[(CAUGHT_UP, "fail"), (KEEP_ALIVE, "pass")],
        &[(
            CAUGHT_UP,
            "never arrived within 5s (the feed is still open)",
        )],
    );
}
