//! The async face of the log store: commits grouped off the runtime, and a watch per stream that says "there is more".
//!
//! Live subscribers never poll the store on a timer: they read what is there,
//! then wait on [`Log::watch`] until the stream's newest position moves past
//! what they have read.
//!
//! A durable log has one committer thread (see [`committer`]): writers
//! [`Log::enqueue`] a batch and await [`Enqueued::durable`]; the committer
//! applies everything queued in one fsync'd transaction, answers each writer
//! with its own positions, then wakes the watchers. So a record is readable
//! and announced only once it is durable, and concurrent writers share an
//! fsync instead of paying one each. A writer that serialises its own appends
//! to a stream learns the positions they will get from [`Log::next_position`]
//! before they are durable, and need not hold its lock while the disk works.
//!
//! Live readers of a durable log are served from its [`tail`]: the newest
//! durable records of each watched stream, in memory, their payloads shared
//! by every reader instead of read from the store and copied for each one.
//! The committer fills it after a group is durable and before it answers or
//! wakes anyone; a reader behind it reads the store.
//!
//! If a group fails in the engine, the writers of that group may already have
//! moved their in-memory state on (a Lamport clock, a repository head), so the
//! log fails for good: every later write gets [`StoreError::Failed`], and the
//! server must be restarted to reload its state from what is durable.
//!
//! # Layout
//!
//! - [`committer`]: the queue and the thread that commits it in groups.
//! - [`tail`]: the newest records of each watched stream, in memory.

mod committer;
mod tail;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};

use self::committer::Committer;
use self::tail::Tail;
pub use self::tail::TailLimits;
use crate::store::{
    Committed, LogStore, Position, ReadBatch, ReadLimit, Record, Retention, StoreError,
    StreamBounds, Trimmed, WriteBatch,
};

/// A filter that can move to a blocking thread.
pub type OwnedFilter = Box<dyn Fn(&Record) -> bool + Send + 'static>;

/// One watch per stream that has a subscriber.
type Watchers = Arc<Mutex<HashMap<String, watch::Sender<Position>>>>;

#[derive(Clone)]
pub struct Log {
    store: Arc<dyn LogStore>,
    /// Present for a durable store, whose commits wait for fsync; memory
    /// commits are quick enough to run in place.
    committer: Option<Arc<Committer>>,
    /// Present with the committer (unless its limits are zero): memory
    /// stores share their payloads already and need no second copy.
    tail: Option<Arc<Tail>>,
    watchers: Watchers,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("grouped", &self.committer.is_some())
            .finish_non_exhaustive()
    }
}

/// A batch handed to the log; [`Enqueued::durable`] waits for its commit.
#[must_use = "a batch is acknowledged only once `durable` returns"]
#[derive(Debug)]
pub struct Enqueued(Outcome);

#[derive(Debug)]
enum Outcome {
    /// Committed in place (memory store).
    Done(Result<Committed, StoreError>),
    /// Queued for the committer, which answers here.
    Queued(oneshot::Receiver<Result<Committed, StoreError>>),
}

impl Enqueued {
    /// The batch's positions, once it is durable (for a durable store) and readable.
    pub async fn durable(self) -> Result<Committed, StoreError> {
        match self.0 {
            Outcome::Done(result) => result,
            Outcome::Queued(reply) => reply
                .await
                .unwrap_or_else(|_| Err(StoreError::Failed("the committer stopped".into()))),
        }
    }
}

impl Log {
    /// A log over `store`. `durable` stores get a committer thread that groups
    /// commits and runs reads on the blocking pool, and a tail with the
    /// default limits; others commit in place.
    pub fn new(store: Arc<dyn LogStore>, durable: bool) -> Self {
        Self::with_tail(store, durable, TailLimits::default())
    }

    /// [`Log::new`] with the tail of a durable log bounded by `limits`
    /// ([`TailLimits::NONE`]: no tail, every read goes to the store).
    pub fn with_tail(store: Arc<dyn LogStore>, durable: bool, limits: TailLimits) -> Self {
        let watchers = Watchers::default();
        let tail = (durable && limits.max_records > 0).then(|| Arc::new(Tail::new(limits)));
        let committer = durable.then(|| {
            Arc::new(Committer::start(
                Arc::clone(&store),
                Arc::clone(&watchers),
                tail.clone(),
            ))
        });
        Self {
            store,
            committer,
            tail,
            watchers,
        }
    }

    /// Commits `batch` on this thread, past the committer: for the APIs'
    /// start-up, which runs before the server serves, so nothing is queued
    /// and nothing follows the log (no stream has a tail yet).
    pub fn commit_at_start(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let streams: Vec<String> = batch.appends.iter().map(|(s, _)| s.clone()).collect();
        let committed = self.store.commit(batch)?;
        notify_newest(&self.watchers, &streams, &committed.positions);
        Ok(committed)
    }

    /// The record at `position` of `stream`, if the store still holds it.
    pub fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError> {
        self.store.get(stream, position)
    }

    /// The value under `key` in `namespace`: what the APIs keep beside their streams.
    pub fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.kv_get(namespace, key)
    }

    /// Every key and value of `namespace`, in key order.
    pub fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.store.kv_scan(namespace)
    }

    /// The saved position of the named cursor.
    pub fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError> {
        self.store.cursor(name)
    }

    /// Commits `batch` and waits until it is durable.
    pub async fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        self.enqueue(batch)?.durable().await
    }

    /// Queues `batch` behind every batch enqueued before it and returns
    /// without waiting for the disk. A batch that is not valid is refused
    /// here, alone. Appends get positions in enqueue order, so a caller that
    /// enqueues under its own lock can release the lock before awaiting
    /// [`Enqueued::durable`].
    pub fn enqueue(&self, batch: WriteBatch) -> Result<Enqueued, StoreError> {
        if let Some(committer) = &self.committer {
            return committer
                .enqueue(batch)
                .map(|r| Enqueued(Outcome::Queued(r)));
        }
        let streams: Vec<String> = batch.appends.iter().map(|(s, _)| s.clone()).collect();
        let result = self.store.commit(batch);
        if let Ok(committed) = &result {
            notify_newest(&self.watchers, &streams, &committed.positions);
        }
        Ok(Enqueued(Outcome::Done(result)))
    }

    /// The position the next append to `stream` will get, counting appends
    /// that are enqueued but not yet durable. Stable only while the caller
    /// keeps other writers of `stream` out.
    pub fn next_position(&self, stream: &str) -> Result<Position, StoreError> {
        match &self.committer {
            Some(committer) => committer.next_position(stream),
            None => Ok(self.store.bounds(stream)?.next),
        }
    }

    /// Reads records of `stream` after `after` (see [`LogStore::read_after`]):
    /// from the tail when `after` lies inside it, without waiting, else from the store.
    pub async fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: OwnedFilter,
    ) -> Result<ReadBatch, StoreError> {
        if let Some(read) = self
            .tail
            .as_ref()
            .and_then(|tail| tail.read_after(stream, after, limit, &*filter))
        {
            return Ok(read);
        }
        let stream = stream.to_owned();
        self.run(move |store| store.read_after(&stream, after, limit, &*filter))
            .await
    }

    /// Applies `retention` to `stream` (see [`LogStore::trim`]); refused once the log has failed.
    /// What the store removed has left the tail too when this returns.
    pub async fn trim(
        &self,
        stream: &str,
        retention: Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        if let Some(committer) = &self.committer {
            committer.check_not_failed()?;
        }
        let name = stream.to_owned();
        let result = self
            .run(move |store| store.trim(&name, &retention, now_micros))
            .await;
        if let Some(tail) = &self.tail {
            match &result {
                // The store holds nothing before its first record, or before
                // `next` when retention emptied it.
                Ok(trimmed) => {
                    let bounds = trimmed.bounds;
                    tail.trim(stream, bounds.first.unwrap_or(bounds.next));
                }
                // The trim may have removed records before it failed.
                Err(_) => tail.forget(stream),
            }
        }
        result
    }

    /// The stream's bounds in the store: durable records only.
    pub fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        self.store.bounds(stream)
    }

    /// The position of "now": the newest durable position ever handed out in
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

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn LogStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.committer.is_none() {
            return work(&*self.store);
        }
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&*store))
            .await
            .map_err(|e| StoreError::Engine(format!("storage task failed: {e}")))?
    }
}

/// Wakes the watchers of the streams appended to: `streams` names the stream
/// of each append and `positions` the position it got.
fn notify_newest(watchers: &Watchers, streams: &[String], positions: &[Position]) {
    let mut newest: HashMap<&str, Position> = HashMap::new();
    for (stream, position) in streams.iter().zip(positions) {
        let entry = newest.entry(stream.as_str()).or_default();
        *entry = (*entry).max(*position);
    }
    if newest.is_empty() {
        return;
    }
    let watchers = watchers.lock().unwrap_or_else(|p| p.into_inner());
    for (stream, last) in newest {
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
}
