//! The subscriber hub: how many streams are open, how many were cut for not reading, and the switches that end them.
//!
//! Every live stream ends when one of its tokens fires. Tokens nest: the
//! server's shutdown token is the parent of one token per API, which is the
//! parent of narrower ones (a Pulse named stream); cancelling a parent ends
//! every stream below it. `POST /_control/disconnect` cancels an API's token
//! and puts a fresh one in its place, which is how a test makes clients
//! reconnect, as a deploy would.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct Hub {
    open: AtomicU64,
    opened: AtomicU64,
    stall_disconnects: AtomicU64,
    forced_disconnects: AtomicU64,
    tokens: Mutex<HashMap<&'static str, CancellationToken>>,
    root: CancellationToken,
}

/// The hub's counters, as `GET /_control/stats` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HubStats {
    /// Streams open now.
    pub open_streams: u64,
    /// Streams opened since start.
    pub opened_streams: u64,
    /// Connections closed because the peer stopped reading.
    pub stall_disconnects: u64,
    /// Streams ended through `POST /_control/disconnect`.
    pub forced_disconnects: u64,
}

impl Hub {
    /// A hub whose tokens all descend from `root` (the shutdown token).
    pub fn new(root: CancellationToken) -> Self {
        Self {
            root,
            ..Self::default()
        }
    }

    /// The current token of `api`; streams opened now end when it fires.
    pub fn token(&self, api: &'static str) -> CancellationToken {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .entry(api)
            .or_insert_with(|| self.root.child_token())
            .clone()
    }

    /// Ends every open stream of `api`; streams opened afterwards get a fresh token.
    pub fn disconnect(&self, api: &'static str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = tokens.insert(api, self.root.child_token()) {
            token.cancel();
        }
    }

    /// Whether the server is shutting down (rather than one API's streams being ended).
    pub fn shutting_down(&self) -> bool {
        self.root.is_cancelled()
    }

    pub fn count_forced_disconnect(&self) {
        self.forced_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers an open stream until the guard is dropped.
    pub fn open_stream(self: &std::sync::Arc<Self>) -> StreamGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.opened.fetch_add(1, Ordering::Relaxed);
        StreamGuard {
            hub: std::sync::Arc::clone(self),
        }
    }

    pub fn count_stall_disconnect(&self) {
        self.stall_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> HubStats {
        HubStats {
            open_streams: self.open.load(Ordering::Relaxed),
            opened_streams: self.opened.load(Ordering::Relaxed),
            stall_disconnects: self.stall_disconnects.load(Ordering::Relaxed),
            forced_disconnects: self.forced_disconnects.load(Ordering::Relaxed),
        }
    }
}

/// Counts one open stream; dropping it (the stream ended) uncounts it.
#[derive(Debug)]
pub struct StreamGuard {
    hub: std::sync::Arc<Hub>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::Relaxed);
    }
}
