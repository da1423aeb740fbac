//! A hand-written HTTP/1.1 server on a loopback port: one request per connection, answered by the test's handler.
//!
//! Hand-written so the hostile servers control every byte they send and
//! when. Each answer says `connection: close`, so the client never reuses a
//! connection the handler may leave in any state. The server's tasks live on
//! the test's runtime and stop with it.

use std::future::Future;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most of a request head or body the server reads.
const MAX_REQUEST: usize = 1 << 20;

/// A request's line, headers and body.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path with its query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the path (without its query) starts with `prefix`.
    pub fn is(&self, method: &str, prefix: &str) -> bool {
        self.method == method && self.path.starts_with(prefix)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Serves every connection with `handle` (given the request and the socket
/// to answer on) until the test ends; returns the base URL.
pub async fn serve<H, F>(handle: H) -> String
where
    H: Fn(Request, TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::sync::Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handle = std::sync::Arc::clone(&handle);
            tokio::spawn(async move {
                if let Ok(Some(request)) = read_request(&mut socket).await {
                    // The client leaving mid-answer is how most answers end.
                    let _ = handle(request, socket).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Serves connections without ever reading or answering: each socket is held open until the test ends.
pub async fn serve_silence() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// Reads one request: the head up to its blank line, then `content-length` bytes of body.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 || buffer.len() > MAX_REQUEST {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// A response head with `status` (`200 OK`) and `content_type`, for a body
/// that ends when the connection does.
pub fn head(status: &str, content_type: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    )
}

/// Answers a whole JSON body.
pub async fn json(mut socket: TcpStream, status: &str, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}

/// The answer of a server that is not a reference server to the harness's
/// probe and to anything else it does not serve.
pub async fn not_found(socket: TcpStream) -> std::io::Result<()> {
    json(
        socket,
        "404 Not Found",
        &serde_json::json!({"error": {"code": "not_found", "message": "no such route"}}),
    )
    .await
}

/// Writes `piece` again and again, as fast as the client reads, until
/// `total` bytes went out or the client leaves; never holds more than `piece`.
pub async fn repeat(socket: &mut TcpStream, piece: &[u8], total: u64) -> std::io::Result<()> {
    let mut sent = 0u64;
    while sent < total {
        socket.write_all(piece).await?;
        sent += piece.len() as u64;
    }
    Ok(())
}
