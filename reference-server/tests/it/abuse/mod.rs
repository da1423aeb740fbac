//! The server under abuse: bodies over the limit, hostile nesting, idle connections, subscribers that never read.
//!
//! What each case promises: no panic, memory bounded, other clients served
//! promptly, and a clear 4xx in the API's own error shape. Memory is read
//! from `/proc/<pid>/status` of a server started as a child process, so the
//! figures are the server's alone.

mod bodies;
mod idle;
mod stalled;
mod stalled_ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reference_server::app::AppState;
use reference_server::config::Config;
use reference_server::log::Log;
use reference_server::store::memory::MemoryStore;
use reference_server::store::{
    Committed, LogStore, Position, ReadBatch, ReadLimit, Record, RecordFilter, Retention,
    StoreError, StreamBounds, Trimmed, WriteBatch,
};

/// A memory store that counts commits, so a test can tell that refused
/// requests changed nothing at all: no record, no cursor, no key.
#[derive(Debug)]
pub struct CountingStore {
    inner: MemoryStore,
    commits: Arc<AtomicU64>,
}

impl LogStore for CountingStore {
    fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(batch)
    }

    fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Result<ReadBatch, StoreError> {
        self.inner.read_after(stream, after, limit, filter)
    }

    fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError> {
        self.inner.get(stream, position)
    }

    fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        self.inner.bounds(stream)
    }

    fn trim(
        &self,
        stream: &str,
        retention: &Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        self.inner.trim(stream, retention, now_micros)
    }

    fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError> {
        self.inner.cursor(name)
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.kv_get(namespace, key)
    }

    fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.kv_scan(namespace)
    }
}

/// An in-process server over a [`CountingStore`].
pub struct Counted {
    pub base: String,
    pub state: AppState,
    commits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Counted {
    pub async fn start(config: Config) -> Self {
        let commits = Arc::new(AtomicU64::new(0));
        let store = CountingStore {
            inner: MemoryStore::new(),
            commits: Arc::clone(&commits),
        };
        let log = Log::new(Arc::new(store), false);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let state = AppState::new(config, log, Default::default()).expect("state");
        let task = tokio::spawn(reference_server::server::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        Self {
            base,
            state,
            commits,
            task,
        }
    }

    /// Commits so far, setup included.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        self.task
            .await
            .expect("the server task did not panic")
            .expect("the server ended cleanly");
    }
}

/// A child process's resident memory now and at its peak, in KiB, from `/proc/<pid>/status`.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Raises this process's soft limit on open files to `wanted` (children
/// inherit it). The hard limit must allow it: that is the test's
/// `testenv::open_files` need, and the test fails, saying so, when it does not.
#[track_caller]
pub fn raise_open_files(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    testenv::open_files(wanted);
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard)
            .unwrap_or_else(|e| panic!("raising the open-file limit to {wanted}: {e}"));
    }
}

/// The reference server as a child process, `--memory`, with `config` as its
/// TOML file (in a temporary folder that lives as long as the returned guard).
pub fn spawn_with_config(config: &str) -> (tempfile::TempDir, crate::support::ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, config).unwrap();
    let server = crate::support::spawn(&["--memory", "--config", path.to_str().unwrap()]);
    (dir, server)
}

/// A connection that sends `request` and then never reads, on a socket with a
/// 4 KiB receive buffer so that the server's writes stall soon.
pub async fn never_reading(address: std::net::SocketAddr, request: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).expect("connect");
    socket.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// The server's subscriber counters (`open_streams`, `stall_disconnects`, …).
pub async fn subscriber_stats(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let body: serde_json::Value = http
        .get(format!("{base}/_control/stats"))
        .bearer_auth(crate::support::CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["subscribers"].clone()
}
