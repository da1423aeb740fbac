//! The group committer of a durable log: one thread commits everything queued in one fsync'd transaction.
//!
//! Writers enqueue from async code and never block on the disk: [`Committer::enqueue`]
//! takes a short mutex, reserves the batch's positions and sends it down a
//! channel. The thread takes whatever is queued, commits it with
//! [`LogStore::commit_many`], adds the group's records to the log's tail,
//! answers each writer and wakes the watchers; batches that arrive while a
//! group is being fsync'd form the next group.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use axum::body::Bytes;
use tokio::sync::oneshot;

use super::tail::Tail;
use super::{Watchers, notify_newest};
use crate::store::{Committed, LogStore, Position, Record, StoreError, WriteBatch, validate_batch};

type Reply = oneshot::Sender<Result<Committed, StoreError>>;

/// A queued batch and where its answer goes.
struct Job {
    batch: WriteBatch,
    reply: Reply,
}

/// The writers' side of the queue. Dropping it ends the thread once the
/// queued work is done.
pub(super) struct Committer {
    shared: Arc<Shared>,
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    store: Arc<dyn LogStore>,
    watchers: Watchers,
    tail: Option<Arc<Tail>>,
    queue: Mutex<Queue>,
}

/// An append kept for the tail until its group is durable and its position known.
struct ForTail {
    batch: usize,
    append: usize,
    stream: String,
    timestamp_micros: u64,
    payload: Bytes,
}

#[derive(Default)]
struct Queue {
    /// Streams with appends enqueued but not yet committed. Once a stream's
    /// last queued append is committed its entry goes, and the store is again
    /// the truth about its next position.
    pending: HashMap<String, Pending>,
    /// Why the log failed, once it has.
    failed: Option<String>,
}

struct Pending {
    /// The position the next enqueued append gets.
    next: Position,
    /// Appends enqueued and not yet committed.
    uncommitted: u64,
}

impl Committer {
    pub(super) fn start(
        store: Arc<dyn LogStore>,
        watchers: Watchers,
        tail: Option<Arc<Tail>>,
    ) -> Self {
        let shared = Arc::new(Shared {
            store,
            watchers,
            tail,
            queue: Mutex::default(),
        });
        let (sender, receiver) = mpsc::channel();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-committer".into())
            .spawn(move || worker.run(&receiver))
            .ok();
        let mut committer = Self {
            shared,
            sender: Some(sender),
            thread,
        };
        if committer.thread.is_none() {
            committer.sender = None;
            committer.shared.lock().failed = Some("the committer thread did not start".into());
        }
        committer
    }

    pub(super) fn enqueue(
        &self,
        batch: WriteBatch,
    ) -> Result<oneshot::Receiver<Result<Committed, StoreError>>, StoreError> {
        validate_batch(&batch)?;
        let mut counts: Vec<(&str, u64)> = Vec::new();
        for (stream, _) in &batch.appends {
            match counts.iter_mut().find(|(s, _)| *s == stream) {
                Some((_, n)) => *n += 1,
                None => counts.push((stream, 1)),
            }
        }
        let mut queue = self.shared.lock();
        queue.check_not_failed()?;
        // Read the next position of every stream not yet pending before
        // changing any, so that a store error leaves the reservations as they were.
        let mut starts = Vec::with_capacity(counts.len());
        for (stream, _) in &counts {
            starts.push(match queue.pending.get(*stream) {
                Some(_) => None,
                None => Some(self.shared.store.bounds(stream)?.next),
            });
        }
        for ((stream, n), start) in counts.into_iter().zip(starts) {
            let pending = queue.pending.entry(stream.to_owned()).or_insert(Pending {
                next: start.unwrap_or(1),
                uncommitted: 0,
            });
            pending.next += n;
            pending.uncommitted += n;
        }
        let (reply, answer) = oneshot::channel();
        // Sending under the queue lock keeps the channel in reservation order.
        let sent = self
            .sender
            .as_ref()
            .is_some_and(|sender| sender.send(Job { batch, reply }).is_ok());
        if !sent {
            let cause = "the committer thread stopped".to_owned();
            queue.failed = Some(cause.clone());
            return Err(StoreError::Failed(cause));
        }
        Ok(answer)
    }

    pub(super) fn next_position(&self, stream: &str) -> Result<Position, StoreError> {
        let queue = self.shared.lock();
        match queue.pending.get(stream) {
            Some(pending) => Ok(pending.next),
            // Nothing is queued for `stream`, so the store knows.
            None => Ok(self.shared.store.bounds(stream)?.next),
        }
    }

    pub(super) fn check_not_failed(&self) -> Result<(), StoreError> {
        self.shared.lock().check_not_failed()
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the queued work; joining
        // it releases the store (and the data directory's lock) before the
        // last `Log` is gone.
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Queue {
    fn check_not_failed(&self) -> Result<(), StoreError> {
        match &self.failed {
            Some(cause) => Err(StoreError::Failed(cause.clone())),
            None => Ok(()),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue's fields are each updated in one step; a panic elsewhere
        // while holding the lock leaves them consistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self, receiver: &mpsc::Receiver<Job>) {
        while let Ok(first) = receiver.recv() {
            let mut jobs = vec![first];
            jobs.extend(receiver.try_iter());
            self.commit_group(jobs);
        }
    }

    fn commit_group(&self, jobs: Vec<Job>) {
        let failed = self.lock().failed.clone();
        if let Some(cause) = failed {
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Failed(cause.clone())));
            }
            return;
        }
        let mut batches = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut streams: Vec<Vec<String>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            streams.push(job.batch.appends.iter().map(|(s, _)| s.clone()).collect());
            batches.push(job.batch);
            replies.push(job.reply);
        }
        let for_tail = self.for_tail(&batches);
        let store = &*self.store;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| store.commit_many(batches)))
            .unwrap_or_else(|_| Err(StoreError::Engine("the storage engine panicked".into())));
        let committed = match result {
            Ok(committed) if committed.len() == replies.len() => committed,
            Ok(_) => {
                self.fail(
                    "the storage engine answered a group with the wrong number of commits".into(),
                    replies,
                );
                return;
            }
            Err(error) => {
                self.fail(error.to_string(), replies);
                return;
            }
        };
        // Durable now: readers may see the records, and must before the
        // writers hear of them or the watchers are woken.
        if let Some(tail) = &self.tail {
            let store_last = |stream: &str| self.store.bounds(stream).ok().and_then(|b| b.last);
            tail.extend(with_positions(for_tail, &committed), store_last);
        }
        {
            let mut queue = self.lock();
            for stream in streams.iter().flatten() {
                let done = queue
                    .pending
                    .get_mut(stream.as_str())
                    .is_some_and(|pending| {
                        pending.uncommitted = pending.uncommitted.saturating_sub(1);
                        pending.uncommitted == 0
                    });
                if done {
                    queue.pending.remove(stream.as_str());
                }
            }
        }
        let all_streams: Vec<String> = streams.into_iter().flatten().collect();
        let all_positions: Vec<Position> = committed
            .iter()
            .flat_map(|c| c.positions.iter().copied())
            .collect();
        for (reply, committed) in replies.into_iter().zip(committed) {
            let _ = reply.send(Ok(committed));
        }
        notify_newest(&self.watchers, &all_streams, &all_positions);
    }

    /// Copies of the appends to watched streams, for the tail. The store takes
    /// the batches, so each such payload is copied once here, instead of once
    /// per reader.
    fn for_tail(&self, batches: &[WriteBatch]) -> Vec<ForTail> {
        if self.tail.is_none() {
            return Vec::new();
        }
        let watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = Vec::new();
        for (batch_index, batch) in batches.iter().enumerate() {
            for (append, (stream, record)) in batch.appends.iter().enumerate() {
                if watchers.contains_key(stream) {
                    kept.push(ForTail {
                        batch: batch_index,
                        append,
                        stream: stream.clone(),
                        timestamp_micros: record.timestamp_micros,
                        payload: Bytes::copy_from_slice(&record.payload),
                    });
                }
            }
        }
        kept
    }

    /// Fails the group's writers and every later write.
    fn fail(&self, cause: String, replies: Vec<Reply>) {
        tracing::error!(%cause, "a group commit failed: the log refuses all further writes");
        self.lock().failed = Some(cause.clone());
        for reply in replies {
            let _ = reply.send(Err(StoreError::Failed(cause.clone())));
        }
    }
}

/// The records `for_tail` kept, at the positions the group's commits gave them.
fn with_positions(for_tail: Vec<ForTail>, committed: &[Committed]) -> Vec<(String, Record)> {
    for_tail
        .into_iter()
        .filter_map(|kept| {
            let position = *committed.get(kept.batch)?.positions.get(kept.append)?;
            let record = Record {
                position,
                timestamp_micros: kept.timestamp_micros,
                payload: kept.payload,
            };
            Some((kept.stream, record))
        })
        .collect()
}
