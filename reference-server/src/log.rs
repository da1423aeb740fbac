//! The async face of the log store: commits off the runtime, and a watch per stream that says "there is more".
//!
//! Live subscribers never poll the store on a timer: they read what is there,
//! then wait on [`Log::watch`] until the stream's newest position moves past
//! what they have read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::store::{
    Committed, LogStore, Position, ReadBatch, ReadLimit, Record, Retention, StoreError,
    StreamBounds, Trimmed, WriteBatch,
};

/// A filter that can move to a blocking thread.
pub type OwnedFilter = Box<dyn Fn(&Record) -> bool + Send + 'static>;

#[derive(Clone)]
pub struct Log {
    store: Arc<dyn LogStore>,
    /// Durable commits wait for fsync, so they run on the blocking pool;
    /// memory commits are quick enough to run in place.
    blocking: bool,
    watchers: Arc<Mutex<HashMap<String, watch::Sender<Position>>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("blocking", &self.blocking)
            .finish_non_exhaustive()
    }
}

impl Log {
    pub fn new(store: Arc<dyn LogStore>, blocking: bool) -> Self {
        Self {
            store,
            blocking,
            watchers: Arc::default(),
        }
    }

    /// The store itself, for quick synchronous reads.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.store
    }

    pub async fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let streams: Vec<String> = batch.streams().into_iter().map(str::to_owned).collect();
        let committed = self.run(move |store| store.commit(batch)).await?;
        for stream in &streams {
            if let Ok(bounds) = self.store.bounds(stream)
                && let Some(last) = bounds.last
            {
                self.notify(stream, last);
            }
        }
        Ok(committed)
    }

    pub async fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: OwnedFilter,
    ) -> Result<ReadBatch, StoreError> {
        let stream = stream.to_owned();
        self.run(move |store| store.read_after(&stream, after, limit, &*filter))
            .await
    }

    /// Applies `retention` to `stream` (see [`LogStore::trim`]).
    pub async fn trim(
        &self,
        stream: &str,
        retention: Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        let stream = stream.to_owned();
        self.run(move |store| store.trim(&stream, &retention, now_micros))
            .await
    }

    pub fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        self.store.bounds(stream)
    }

    /// The position of "now": the newest position ever handed out in
    /// `stream`, also when retention has removed it. A live-only reader starts after it.
    pub fn head(&self, stream: &str) -> Result<Position, StoreError> {
        Ok(self.store.bounds(stream)?.next - 1)
    }

    /// A receiver whose value is the newest position of `stream` known to
    /// have been committed; it changes after every commit that appends to it.
    pub fn watch(&self, stream: &str) -> watch::Receiver<Position> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = watchers.get(stream) {
            return sender.subscribe();
        }
        let last = self
            .store
            .bounds(stream)
            .ok()
            .and_then(|b| b.last)
            .unwrap_or(0);
        let (sender, receiver) = watch::channel(last);
        watchers.insert(stream.to_owned(), sender);
        receiver
    }

    fn notify(&self, stream: &str, last: Position) {
        let watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = watchers.get(stream) {
            // Concurrent commits may notify out of order; the value only moves forward.
            sender.send_if_modified(|current| {
                let newer = last > *current;
                if newer {
                    *current = last;
                }
                newer
            });
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn LogStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if !self.blocking {
            return work(&*self.store);
        }
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&*store))
            .await
            .map_err(|e| StoreError::Engine(format!("storage task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewRecord;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_commit_wakes_watchers_of_its_streams_only() {
        let log = Log::new(Arc::new(MemoryStore::new()), false);
        let mut a = log.watch("a");
        let b = log.watch("b");
        let mut batch = WriteBatch::new();
        batch.append(
            "a",
            NewRecord {
                timestamp_micros: 1,
                payload: vec![],
            },
        );
        log.commit(batch).await.unwrap();
        a.changed().await.unwrap();
        assert_eq!(*a.borrow(), 1);
        assert!(!b.has_changed().unwrap());
        // A watcher created after the commit starts at the newest position.
        assert_eq!(*log.watch("a").borrow(), 1);
    }
}
