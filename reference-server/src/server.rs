//! Opening the store, binding the listener, serving HTTP/1.1 and h2c on it, and shutting down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::Listener;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{AppState, app};
use crate::config::{Config, Storage};
use crate::conn::GuardedListener;
use crate::defects::Defect;
use crate::log::Log;
use crate::store::LogStore;
use crate::store::durable::{DurableOptions, DurableStore};
use crate::store::memory::MemoryStore;

/// Opens the store the configuration names.
pub fn open_log(config: &Config) -> anyhow::Result<Log> {
    match &config.storage {
        Storage::Memory => Ok(Log::new(Arc::new(MemoryStore::new()), false)),
        Storage::Durable(dir) => {
            let options = DurableOptions {
                forget_sequence_on_open: config.defects.contains(Defect::ReuseSeqAfterRestart),
            };
            let store: Arc<dyn LogStore> = Arc::new(
                DurableStore::open(dir, options)
                    .with_context(|| format!("opening the data directory {}", dir.display()))?,
            );
            Ok(Log::new(store, true))
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then gives open
/// connections `config.shutdown_grace` to finish before returning anyway.
///
/// One listener speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c): the
/// connection's first bytes tell which.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let grace = state.config.shutdown_grace;
    // Fire the shared token when the caller's signal arrives, so that streams end too.
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => trigger.cancel(),
            () = trigger.cancelled() => {}
        }
    });
    // Under `no-slow-consumer-cut`, the guard waits for a decade instead.
    let stall_timeout = if state.config.defects.contains(Defect::NoSlowConsumerCut) {
        std::time::Duration::from_secs(10 * 365 * 24 * 3600)
    } else {
        state.config.subscribers.stall_timeout
    };
    let header_read_timeout = state.config.header_read_timeout;
    let listener = GuardedListener {
        inner: listener,
        stall_timeout,
        header_read_timeout,
        hub: Arc::clone(&state.hub),
    };
    let server = serve_connections(listener, app(state), header_read_timeout, token.clone());
    tokio::select! {
        () = server => Ok(()),
        () = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "connections still open after the shutdown grace period; exiting anyway");
            Ok(())
        }
    }
}

/// What hyper may buffer per HTTP/1 connection, each way. Its default
/// (~400 KiB) is what a subscriber that stops reading pins until the stall
/// timeout cuts it: a thousand of them held ~650 MB. Request heads larger
/// than this get `431`.
const HTTP1_MAX_BUF: usize = 64 * 1024;

/// Accepts connections until `stop` fires, serves each in a task of its own,
/// then waits for them all to end (each is told to finish gracefully).
///
/// This is `axum::serve` with hyper's builders in reach: axum's own has no
/// timer, so hyper's HTTP/1 header-read timeout would never fire.
async fn serve_connections(
    mut listener: GuardedListener,
    router: axum::Router,
    header_read_timeout: Duration,
    stop: CancellationToken,
) {
    let builders = Arc::new(Builders::new(header_read_timeout));
    // Every connection task holds a receiver; the sender's `closed()` is "all ended".
    let (all_closed, connection) = watch::channel(());
    loop {
        let io = tokio::select! {
            (io, _) = Listener::accept(&mut listener) => io,
            () = stop.cancelled() => break,
        };
        let builders = Arc::clone(&builders);
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        let connection = connection.clone();
        tokio::spawn(async move {
            // A connection that has sent nothing yet is simply dropped at shutdown.
            let sniffed = tokio::select! {
                sniffed = sniff(&io, header_read_timeout) => sniffed,
                () = stop.cancelled() => Sniffed::Nothing,
            };
            let result = match sniffed {
                Sniffed::Http1 => {
                    let conn = builders.http1.serve_connection(TokioIo::new(io), service);
                    drive(conn.with_upgrades(), &stop, |conn| conn.graceful_shutdown()).await
                }
                Sniffed::Unsure => {
                    // Boxed: hyper-util's connection is large, and rare here;
                    // unboxed it would size every connection's task.
                    let conn = builders
                        .auto
                        .serve_connection_with_upgrades(TokioIo::new(io), service);
                    Box::pin(drive(conn, &stop, |conn| conn.graceful_shutdown())).await
                }
                Sniffed::Nothing => Ok(()),
            };
            if let Err(error) = result {
                tracing::trace!(%error, "connection ended with an error");
            }
            drop(connection);
        });
    }
    drop(connection);
    all_closed.closed().await;
}

/// What may be buffered and waited for on a connection, per protocol.
struct Builders {
    /// HTTP/1.1 when the first bytes already say so.
    http1: hyper::server::conn::http1::Builder,
    /// HTTP/1.1 or h2c, told apart by reading the first 24 bytes.
    auto: Builder<TokioExecutor>,
}

impl Builders {
    fn new(header_read_timeout: Duration) -> Builders {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_buf_size(HTTP1_MAX_BUF);
        let mut auto = Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_buf_size(HTTP1_MAX_BUF);
        // WebSockets over HTTP/2 need the extended CONNECT protocol.
        auto.http2().enable_connect_protocol();
        Builders { http1, auto }
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4), which an h2c client sends first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's first bytes, peeked and left unread, say.
enum Sniffed {
    /// They are not the h2c preface's.
    Http1,
    /// The preface, or a beginning of it: hyper-util reads on and tells.
    Unsure,
    /// The peer closed or sent nothing within the header-read timeout, or
    /// the server is stopping.
    Nothing,
}

/// Peeks at a new connection's first bytes. hyper-util's detection reads
/// them off the socket and hands them back to hyper as a separate first
/// read, which makes hyper grow its 8 KiB read buffer to 16 KiB on every
/// connection; a request that has begun with anything but the preface is
/// served by hyper's HTTP/1 connection directly, its buffer untouched.
async fn sniff(io: &crate::conn::StallGuard<tokio::net::TcpStream>, wait: Duration) -> Sniffed {
    let mut first = [0u8; H2_PREFACE.len()];
    match tokio::time::timeout(wait, io.get_ref().peek(&mut first)).await {
        Ok(Ok(0) | Err(_)) | Err(_) => Sniffed::Nothing,
        Ok(Ok(n)) if first[..n] != H2_PREFACE[..n] => Sniffed::Http1,
        Ok(Ok(_)) => Sniffed::Unsure,
    }
}

/// Runs a connection to its end; once `stop` fires it is told to finish gracefully.
async fn drive<C, E>(
    conn: C,
    stop: &CancellationToken,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) -> Result<(), String>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
    };
    result.map_err(|error| error.to_string())
}

/// A server running on the current tokio runtime.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub state: AppState,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `http://HOST:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Asks the server to stop and waits until it has.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.task.await.context("server task panicked")??;
        Ok(())
    }
}

/// Opens the store, binds `config.listen` (port 0 picks a free port) and serves in a task.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let log = open_log(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local_addr = listener.local_addr()?;
    let state = AppState::new(config, log, CancellationToken::new())?;
    let task = tokio::spawn(serve(listener, state.clone(), std::future::pending()));
    Ok(Running {
        local_addr,
        state,
        task,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn termination_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
