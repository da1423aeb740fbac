//! Hostile Fibric SSE streams: an endless line, a 1 GiB `data:` field, a byte a second, comments only.
//!
//! The server is not a reference server, so the checks publish through a
//! `--producer` that acknowledges everything; the envelopes never reach the
//! stream, whose body is the hostile part.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::server::{self, Request};

/// A producer that answers every request with `{}`.
const PRODUCER: &str = "while read -r line; do echo '{}'; done";

const FRAME_SHAPE: &str = "fibric/wire/frame-shape";
const KEEP_ALIVE: &str = "fibric/wire/keep-alive";
const CONTENT_TYPE: &str = "fibric/wire/content-type";
const STARTS_AT_NOW: &str = "fibric/stream/starts-at-now";

/// A Fibric server whose stream answers 200 `text/event-stream` and then `body`.
async fn fibric<B, F>(body: B) -> String
where
    B: Fn(TcpStream) -> F + Send + Sync + Copy + 'static,
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    server::serve(move |request: Request, mut socket: TcpStream| async move {
        if !request.is("GET", "/v1/events/stream") {
            return server::not_found(socket).await;
        }
        let head = server::head("200 OK", "text/event-stream");
        socket.write_all(head.as_bytes()).await?;
        body(socket).await
    })
    .await
}

async fn run(base: &str, checks: &[&str]) -> super::Run {
    let mut args = vec!["--api", "fibric", "--producer", PRODUCER];
    for check in checks {
        args.extend(["--checks", check]);
    }
    super::check(base, &args).await
}

/// One line, no line end, as fast as the harness reads: cut at the 4 MiB line limit.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_sse_line_is_cut_at_the_line_limit() {
    let base = fibric(|mut socket| async move {
        server::repeat(&mut socket, &[b'x'; 1 << 16], u64::MAX).await
    })
    .await;
    let run = run(&base, &[CONTENT_TYPE, FRAME_SHAPE, KEEP_ALIVE]).await;
    let limit = "SSE line longer than the limit of 4194304 bytes";
    run.assert(
        1,
        &[
            (CONTENT_TYPE, "pass"),
            (FRAME_SHAPE, "fail"),
            (KEEP_ALIVE, "fail"),
        ],
        &[(FRAME_SHAPE, limit), (KEEP_ALIVE, limit)],
    );
}

/// One event whose `data:` field is 1 GiB, in 64 KiB lines made on the fly:
/// cut at the 8 MiB event limit.
#[tokio::test(flavor = "multi_thread")]
async fn a_gigabyte_data_field_is_cut_at_the_event_limit() {
    let base = fibric(|mut socket| async move {
        let mut line = b"data: ".to_vec();
        line.resize((1 << 16) - 1, b'x');
        line.push(b'\n');
        socket.write_all(b"event: envelope\n").await?;
        server::repeat(&mut socket, &line, 1 << 30).await?;
        socket.write_all(b"\n").await
    })
    .await;
    let run = run(&base, &[FRAME_SHAPE, KEEP_ALIVE]).await;
    let limit = "SSE event data larger than the limit of 8388608 bytes";
    run.assert(
        1,
        &[(FRAME_SHAPE, "fail"), (KEEP_ALIVE, "fail")],
        &[(FRAME_SHAPE, limit), (KEEP_ALIVE, limit)],
    );
}

/// Slowloris: a valid frame, a byte a second. Every read has a deadline that
/// trickling bytes do not extend.
#[tokio::test(flavor = "multi_thread")]
async fn a_byte_a_second_times_out() {
    let base = fibric(|mut socket| async move {
        let frame =
            b"id: ev_1\nevent: envelope\ndata: {\"event_id\": \"ev_1\"}\n\n: keep-alive\n\n";
        for byte in frame.iter().cycle() {
            socket.write_all(&[*byte]).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    })
    .await;
    let run = run(&base, &[FRAME_SHAPE, KEEP_ALIVE]).await;
    run.assert(
        1,
        &[(FRAME_SHAPE, "fail"), (KEEP_ALIVE, "fail")],
        &[
            (
                FRAME_SHAPE,
                "the published envelope never arrived within 5s",
            ),
            (KEEP_ALIVE, "an idle stream got no comment frame in 3s"),
        ],
    );
}

/// A valid stream that never ends and never carries an event: comments
/// every 100 ms. The keep-alive check passes; the others time out.
#[tokio::test(flavor = "multi_thread")]
async fn comments_forever_time_out() {
    let base = fibric(|mut socket| async move {
        loop {
            socket.write_all(b": keep-alive\n\n").await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let run = run(&base, &[FRAME_SHAPE, KEEP_ALIVE, STARTS_AT_NOW]).await;
    run.assert(
        1,
        &[
            (FRAME_SHAPE, "fail"),
            (KEEP_ALIVE, "pass"),
            (STARTS_AT_NOW, "fail"),
        ],
        &[
            (
                FRAME_SHAPE,
                "the published envelope never arrived within 5s",
            ),
            (STARTS_AT_NOW, "never arrived before the case gave up"),
        ],
    );
}
