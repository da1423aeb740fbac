//! A small Fibric server of the test's own: an SSE envelope stream and a `POST /publish` write path, no control API.
//!
//! It is not the reference server and shares no code with it: a hand-written
//! HTTP/1.1 loop over tokio. `GET /v1/events/stream` answers every envelope
//! published after the subscription (or after `Last-Event-ID`), close-delimited;
//! `POST /publish` takes `{"envelopes": [...]}`, numbers each, and answers
//! `{"event_ids": [...]}` once they are in the log. Anything else is 404.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// What the server holds: every envelope in order, and how many publish requests carried them.
#[derive(Debug, Default)]
pub struct Log {
    pub envelopes: Vec<Value>,
    pub requests: u64,
}

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct FibricServer {
    pub url: String,
    pub log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FibricServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the server on a free loopback port.
pub async fn start() -> FibricServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Log::default()));
    let (published, _) = broadcast::channel::<(usize, Value)>(1 << 16);
    let shared = Arc::clone(&log);
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (log, published) = (Arc::clone(&shared), published.clone());
            tokio::spawn(async move {
                let _ = serve(socket, log, published).await;
            });
        }
    });
    FibricServer { url, log, task }
}

/// One request head: method, target and the headers that matter here.
struct Head {
    method: String,
    target: String,
    length: usize,
    last_event_id: Option<usize>,
}

/// Reads one request head, or `None` at the connection's end.
async fn head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let mut head = Head {
        method: method.to_owned(),
        target: target.to_owned(),
        length: 0,
        last_event_id: None,
    };
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            return Ok(Some(head));
        };
        match name.to_ascii_lowercase().as_str() {
            "content-length" => head.length = value.trim().parse().unwrap_or(0),
            "last-event-id" => head.last_event_id = value.trim().parse().ok(),
            _ => {}
        }
    }
}

/// Serves one connection: publishes in turn, or one stream until the client goes.
async fn serve(
    socket: TcpStream,
    log: Arc<Mutex<Log>>,
    published: broadcast::Sender<(usize, Value)>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(socket);
    while let Some(head) = head(&mut reader).await? {
        let mut body = vec![0; head.length];
        reader.read_exact(&mut body).await?;
        match (head.method.as_str(), head.target.split('?').next()) {
            ("POST", Some("/publish")) => {
                let answer = publish(&log, &published, &body);
                let text = answer.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
                    text.len()
                );
                reader.get_mut().write_all(response.as_bytes()).await?;
            }
            ("GET", Some("/v1/events/stream")) => {
                return stream(reader.into_inner(), &log, &published, head.last_event_id).await;
            }
            _ => {
                let response = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                reader.get_mut().write_all(response.as_bytes()).await?;
            }
        }
    }
    Ok(())
}

/// Appends a publish's envelopes to the log, in one step, and hands them to the streams.
fn publish(log: &Mutex<Log>, published: &broadcast::Sender<(usize, Value)>, body: &[u8]) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let mut log = log.lock().unwrap();
    log.requests += 1;
    let mut ids = Vec::new();
    for envelope in body["envelopes"].as_array().cloned().unwrap_or_default() {
        let seq = log.envelopes.len() + 1;
        log.envelopes.push(envelope.clone());
        let _ = published.send((seq, envelope));
        ids.push(format!("ev_{seq}"));
    }
    json!({"event_ids": ids})
}

/// An SSE stream of the envelopes after `after`, then of each one published.
async fn stream(
    mut socket: TcpStream,
    log: &Mutex<Log>,
    published: &broadcast::Sender<(usize, Value)>,
    after: Option<usize>,
) -> std::io::Result<()> {
    let (backlog, mut live) = {
        let log = log.lock().unwrap();
        let from = after.unwrap_or(log.envelopes.len());
        let backlog: Vec<(usize, Value)> = (from..log.envelopes.len())
            .map(|i| (i + 1, log.envelopes[i].clone()))
            .collect();
        (backlog, published.subscribe())
    };
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n: ok\n\n";
    socket.write_all(head.as_bytes()).await?;
    let mut last = 0;
    for (seq, envelope) in backlog {
        socket.write_all(event(seq, &envelope).as_bytes()).await?;
        last = seq;
    }
    loop {
        match live.recv().await {
            Ok((seq, envelope)) if seq > last => {
                socket.write_all(event(seq, &envelope).as_bytes()).await?;
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
}

/// One SSE event.
fn event(seq: usize, envelope: &Value) -> String {
    format!("id: {seq}\nevent: envelope\ndata: {envelope}\n\n")
}
