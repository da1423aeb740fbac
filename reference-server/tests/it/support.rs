//! Starting the server binary as a child process and talking to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const CONTROL_TOKEN: &str = "control_test_token";

/// The `reference-server` binary cargo built for these tests.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reference-server"))
}

/// A server child process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub base_url: String,
    /// What the server printed on stdout up to the ready line and just after it.
    pub banner: Vec<String>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` plus `--listen 127.0.0.1:0`, and waits for
/// its `listening on http://…` line (10 s at most).
pub fn spawn(args: &[&str]) -> ServerProcess {
    let mut child = binary()
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn reference-server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Keep draining after the receiver is gone, so a full pipe never blocks the server.
            let _ = tx.send(line);
        }
    });
    let mut banner = Vec::new();
    let base_url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server printed its listening line within 10 s");
        banner.push(line.clone());
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    // The credentials follow the ready line; collect what is already there.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        banner.push(line);
    }
    ServerProcess {
        child,
        base_url,
        banner,
    }
}

pub fn spawn_durable(dir: &Path, extra: &[&str]) -> ServerProcess {
    let dir = dir.to_str().expect("utf-8 temp path");
    let mut args = vec!["--data-dir", dir];
    args.extend_from_slice(extra);
    spawn(&args)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Reads a whole scratch stream through the control API.
pub async fn read_scratch(base_url: &str, stream: &str) -> Vec<(u64, serde_json::Value)> {
    let client = client();
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let page: serde_json::Value = client
            .get(format!("{base_url}/_control/log/{stream}?after={after}"))
            .bearer_auth(CONTROL_TOKEN)
            .send()
            .await
            .expect("read scratch")
            .error_for_status()
            .expect("read scratch status")
            .json()
            .await
            .expect("read scratch json");
        for record in page["records"].as_array().expect("records") {
            let position = record["position"].as_u64().expect("position");
            out.push((position, record["payload"].clone()));
        }
        after = page["scanned_to"].as_u64().expect("scanned_to");
        if page["reached_end"] == true {
            return out;
        }
    }
}

/// Reads server-sent events from a streaming response, with a timeout per read.
pub struct SseReader {
    response: reqwest::Response,
    parser: wire::sse::SseParser,
    pending: std::collections::VecDeque<wire::sse::SseItem>,
    /// The body ended (or failed); nothing more will come.
    pub ended: bool,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            parser: wire::sse::SseParser::new(wire::sse::SseLimits::default()),
            pending: std::collections::VecDeque::new(),
            ended: false,
        }
    }

    pub fn response(&self) -> &reqwest::Response {
        &self.response
    }

    /// The next item, or `None` if none arrives within `timeout` or the body ended.
    pub async fn next_item(&mut self, timeout: Duration) -> Option<wire::sse::SseItem> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            while let Some(item) = self.parser.next_item().expect("well-formed SSE") {
                self.pending.push_back(item);
            }
            if !self.pending.is_empty() {
                continue;
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => self.parser.push(&chunk),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    /// The next event (comments and retries skipped), or `None`.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<wire::sse::SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_item(left).await? {
                wire::sse::SseItem::Event(event) => return Some(event),
                _ => continue,
            }
        }
    }

    /// Exactly `n` events, failing the test if they do not all arrive within `timeout`.
    pub async fn events(&mut self, n: usize, timeout: Duration) -> Vec<wire::sse::SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some(event) => events.push(event),
                None => panic!(
                    "only {} of {n} events arrived within {timeout:?}",
                    events.len()
                ),
            }
        }
        events
    }

    /// Asserts that no event arrives within `quiet` (comments are allowed).
    pub async fn expect_no_event(&mut self, quiet: Duration) {
        if let Some(event) = self.next_event(quiet).await {
            panic!("unexpected event: {event:?}");
        }
    }
}
