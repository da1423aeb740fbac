//! The fault proxy: a TCP proxy that cuts, stalls, delays or throttles connections on a deterministic schedule.
//!
//! It runs in-process for checks (every fault goes into the case's
//! transcript) and on its own as `harness proxy` for client authors.
//! Faults apply to what the server sends the client; the client's bytes pass
//! through untouched until a cut or stall.
//!
//! # Layout
//!
//! - [`schedule`]: the schedule language (`conn 1: after 3 frames + 5 bytes, rst`).
//! - [`framing`]: where frames are in a connection's downstream bytes.

pub mod framing;
pub mod schedule;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use scenarios::transcript::Observed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::record::Recorder;
use framing::{Framing, Scanner};
use schedule::{ConnPlan, Cut, CutAction, Schedule};

/// Where the proxy reports what it did: the case's recorder, or the terminal.
#[derive(Debug, Clone)]
pub enum FaultLog {
    Recorder(Recorder),
    Stderr,
}

impl FaultLog {
    fn fault(&self, description: String) {
        match self {
            FaultLog::Recorder(recorder) => recorder.record(0, Observed::Fault { description }),
            FaultLog::Stderr => eprintln!("proxy: {description}"),
        }
    }
}

/// A running proxy; dropping it stops it and closes every connection.
#[derive(Debug)]
pub struct Proxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts a proxy on `listen` in front of `upstream` (`host:port`).
pub async fn start(
    listen: SocketAddr,
    upstream: String,
    schedule: Schedule,
    framing: Framing,
    log: FaultLog,
) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let schedule = Arc::new(schedule);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        let mut n = 0u32;
        loop {
            let Ok((client, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            n += 1;
            let plan = schedule.plan_for(n);
            let upstream = upstream.clone();
            let log = log.clone();
            connections.spawn(async move {
                if let Err(error) = serve(n, client, &upstream, plan, framing, &log).await {
                    log.fault(format!("conn {n}: proxy error: {error}"));
                }
            });
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
    });
    Ok(Proxy { addr, task })
}

async fn serve(
    n: u32,
    client: TcpStream,
    upstream: &str,
    plan: ConnPlan,
    framing: Framing,
    log: &FaultLog,
) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let server = TcpStream::connect(upstream).await?;
    let _ = server.set_nodelay(true);
    let (mut client_read, client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    // Upstream: the client's bytes go through as they are.
    let up = tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if server_write.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    });
    let result = downstream(n, server_read, client_write, plan, framing, log).await;
    up.abort();
    result
}

/// What the downstream reader hands the writer: bytes and when they arrived, or the cut.
enum Piece {
    Bytes(Instant, Vec<u8>),
    Cut(CutAction, String),
    End,
}

async fn downstream(
    n: u32,
    server_read: tokio::net::tcp::OwnedReadHalf,
    mut client_write: tokio::net::tcp::OwnedWriteHalf,
    plan: ConnPlan,
    framing: Framing,
    log: &FaultLog,
) -> std::io::Result<()> {
    // A reader task scans and timestamps; the writer delays and throttles, so
    // added latency shifts every byte by the same amount without costing throughput.
    let (tx, mut rx) = mpsc::channel::<Piece>(256);
    let reader = tokio::spawn(scan(n, server_read, tx, plan.cut, framing));
    let started = Instant::now();
    let mut sent = 0u64;
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Bytes(arrived, bytes) => {
                if let Some(latency) = plan.latency {
                    tokio::time::sleep_until(arrived + latency).await;
                }
                if let Some(rate) = plan.throttle_bytes_per_sec {
                    // Never get ahead of the rate: byte k may leave at k / rate.
                    let due = started
                        + Duration::from_secs_f64((sent + bytes.len() as u64) as f64 / rate as f64);
                    tokio::time::sleep_until(due).await;
                }
                if client_write.write_all(&bytes).await.is_err() {
                    break;
                }
                sent += bytes.len() as u64;
            }
            Piece::Cut(action, description) => {
                log.fault(description);
                end_client(&mut client_write, action).await;
                break;
            }
            Piece::End => {
                let _ = client_write.shutdown().await;
                break;
            }
        }
    }
    reader.abort();
    Ok(())
}

/// Reads the server's bytes, timestamps them and finds the planned cut, if any.
async fn scan(
    n: u32,
    mut server_read: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::Sender<Piece>,
    cut: Option<Cut>,
    framing: Framing,
) {
    let mut scanner = Scanner::new(framing);
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = tx.send(Piece::End).await;
                return;
            }
            Ok(read) => read,
        };
        let now = Instant::now();
        let chunk = &buffer[..read];
        match cut.and_then(|c| scanner.feed(chunk, Some(c.at)).map(|k| (c, k))) {
            Some((cut, keep)) => {
                if keep > 0 {
                    let _ = tx.send(Piece::Bytes(now, chunk[..keep].to_vec())).await;
                }
                let description = format!(
                    "conn {n}: {} ({} frames complete), {}",
                    cut.at,
                    scanner.frames(),
                    cut.action
                );
                let _ = tx.send(Piece::Cut(cut.action, description)).await;
                return;
            }
            None => {
                if cut.is_none() {
                    scanner.feed(chunk, None);
                }
                if tx.send(Piece::Bytes(now, chunk.to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Ends the client's side the way the cut says.
async fn end_client(client_write: &mut tokio::net::tcp::OwnedWriteHalf, action: CutAction) {
    match action {
        CutAction::Fin => {
            let _ = client_write.shutdown().await;
        }
        CutAction::Rst => {
            // With a zero linger, closing the socket sends a reset.
            let stream: &TcpStream = client_write.as_ref();
            let _ = stream.set_zero_linger();
        }
        CutAction::Stall => {
            // Hold the sockets open and forward nothing more, until
            // the client gives up or the proxy is dropped.
            std::future::pending::<()>().await;
        }
    }
}
