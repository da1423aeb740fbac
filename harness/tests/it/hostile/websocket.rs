//! Hostile `subscribeRepos` WebSockets: a CBOR length claim of 2^62 bytes, a message without end, pings only.
//!
//! The server does the opening handshake by hand and then writes raw
//! frames, so it can send what no WebSocket library would: a message of
//! continuation frames that never ends, say.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::server::{self, Request};

const ERROR_HEADER: &str = "atproto/wire/error-header";
const FUTURE_CURSOR: &str = "atproto/cursor/future-cursor";

/// The head of a server frame (unmasked) with `opcode` and a payload of `len` bytes.
fn frame_head(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut head = vec![(u8::from(fin) << 7) | opcode];
    match len {
        0..=125 => head.push(len as u8),
        126..=0xffff => {
            head.push(126);
            head.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            head.push(127);
            head.extend_from_slice(&len.to_be_bytes());
        }
    }
    head
}

/// A server whose `subscribeRepos` upgrades and then sends `frames`.
async fn firehose<B, F>(frames: B) -> String
where
    B: Fn(TcpStream) -> F + Send + Sync + Copy + 'static,
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    server::serve(move |request: Request, mut socket: TcpStream| async move {
        let key = request.header("sec-websocket-key").map(str::to_owned);
        let Some(key) = key.filter(|_| request.is("GET", "/xrpc/com.atproto.sync.subscribeRepos"))
        else {
            return server::not_found(socket).await;
        };
        let accept = derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await?;
        frames(socket).await
    })
    .await
}

async fn run(base: &str) -> super::Run {
    let args = [
        "--api",
        "atproto",
        "--checks",
        ERROR_HEADER,
        "--checks",
        FUTURE_CURSOR,
    ];
    super::check(base, &args).await
}

/// One binary message: a valid header `{t: "#commit", op: 1}`, then a body
/// whose `blocks` byte string claims 2^62 bytes and holds three.
#[tokio::test(flavor = "multi_thread")]
async fn a_cbor_length_claim_of_2_pow_62_is_refused() {
    let base = firehose(|mut socket| async move {
        let mut message = vec![0xa2, 0x61, b't', 0x67];
        message.extend_from_slice(b"#commit");
        message.extend_from_slice(&[0x62, b'o', b'p', 0x01]);
        message.extend_from_slice(&[0xa1, 0x66]);
        message.extend_from_slice(b"blocks");
        message.push(0x5b);
        message.extend_from_slice(&(1u64 << 62).to_be_bytes());
        message.extend_from_slice(b"abc");
        socket
            .write_all(&frame_head(true, 2, message.len() as u64))
            .await?;
        socket.write_all(&message).await?;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    })
    .await;
    let run = run(&base).await;
    let claim = "frame body is not DAG-CBOR: length 4611686018427387904 at byte";
    run.assert(
        1,
        &[(ERROR_HEADER, "fail"), (FUTURE_CURSOR, "fail")],
        &[(ERROR_HEADER, claim), (FUTURE_CURSOR, claim)],
    );
}

/// One binary message of 1 MiB continuation frames, made on the fly, up to
/// 1 GiB: cut at the 3 MiB message limit.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_without_end_is_cut_at_the_message_limit() {
    let base = firehose(|mut socket| async move {
        let piece = vec![0u8; 1 << 20];
        socket.write_all(&frame_head(false, 2, 1 << 20)).await?;
        socket.write_all(&piece).await?;
        for _ in 1..1024 {
            socket.write_all(&frame_head(false, 0, 1 << 20)).await?;
            socket.write_all(&piece).await?;
        }
        socket.write_all(&frame_head(true, 0, 0)).await
    })
    .await;
    let run = run(&base).await;
    let limit = "Message too long";
    run.assert(
        1,
        &[(ERROR_HEADER, "fail"), (FUTURE_CURSOR, "fail")],
        &[(ERROR_HEADER, limit), (FUTURE_CURSOR, limit)],
    );
}

/// A connection that never ends and carries pings only, every 200 ms:
/// pings do not extend the wait for a frame.
#[tokio::test(flavor = "multi_thread")]
async fn pings_forever_time_out() {
    let base = firehose(|mut socket| async move {
        loop {
            socket.write_all(&frame_head(true, 9, 0)).await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let run = run(&base).await;
    run.assert(
        1,
        &[(ERROR_HEADER, "fail"), (FUTURE_CURSOR, "fail")],
        &[
            (ERROR_HEADER, "got no error frame (Silent)"),
            (FUTURE_CURSOR, "no FutureCursor error within 5s"),
        ],
    );
}
