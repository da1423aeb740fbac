//! Tests of the log: watches, group commit over a durable store, and a failing group.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::*;
use crate::store::NewRecord;
use crate::store::durable::{DurableOptions, DurableStore};
use crate::store::hooked::{Hooked, Hooks};
use crate::store::memory::MemoryStore;

fn one(stream: &str, payload: &[u8]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.append(
        stream,
        NewRecord {
            timestamp_micros: 1,
            payload: payload.to_vec(),
        },
    );
    batch
}

fn everything() -> OwnedFilter {
    Box::new(|_| true)
}

#[tokio::test]
async fn a_commit_wakes_watchers_of_its_streams_only() {
    let log = Log::new(Arc::new(MemoryStore::new()), false);
    let mut a = log.watch("a");
    let b = log.watch("b");
    log.commit(one("a", b"")).await.unwrap();
    a.changed().await.unwrap();
    assert_eq!(*a.borrow(), 1);
    assert!(!b.has_changed().unwrap());
    // A watcher created after the commit starts at the newest position.
    assert_eq!(*log.watch("a").borrow(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_commits_share_fsyncs_and_get_positions_in_enqueue_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DurableStore::open(dir.path(), DurableOptions::default()).unwrap());
    let log = Log::new(Arc::clone(&store) as Arc<dyn LogStore>, true);

    // 64 writers enqueue one after the other, then all wait together.
    let before = store.write_transactions();
    let mut expected = Vec::new();
    let mut waiting = Vec::new();
    for i in 0..64u8 {
        expected.push(log.next_position("s").unwrap());
        waiting.push(tokio::spawn(log.enqueue(one("s", &[i])).unwrap().durable()));
    }
    let mut positions = Vec::new();
    for task in waiting {
        positions.extend(task.await.unwrap().unwrap().positions);
    }
    let groups = store.write_transactions() - before;
    assert_eq!(positions, (1..=64).collect::<Vec<_>>());
    assert_eq!(
        positions, expected,
        "next_position predicted every position"
    );
    assert!(
        groups <= 16,
        "64 enqueued commits took {groups} transactions"
    );

    // 64 concurrent tasks each commit and wait.
    let before = store.write_transactions();
    let tasks: Vec<_> = (0..64u8)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.commit(one("s", &[i])).await })
        })
        .collect();
    let mut positions = Vec::new();
    for task in tasks {
        positions.extend(task.await.unwrap().unwrap().positions);
    }
    let groups = store.write_transactions() - before;
    positions.sort_unstable();
    assert_eq!(positions, (65..=128).collect::<Vec<_>>());
    assert!(
        groups <= 16,
        "64 concurrent commits took {groups} transactions"
    );

    // Every record is stored at its position with its own payload.
    let read = log
        .read_after("s", 0, ReadLimit::records(200), everything())
        .await
        .unwrap();
    let stored: Vec<(Position, Vec<u8>)> = read
        .records
        .into_iter()
        .map(|r| (r.position, r.payload.to_vec()))
        .collect();
    assert_eq!(stored.len(), 128);
    for ((position, payload), i) in stored[..64].iter().zip(0u8..) {
        assert_eq!(
            (*position, payload.as_slice()),
            (u64::from(i) + 1, &[i][..])
        );
    }
    // The concurrent writers got positions in some order, each its own.
    let mut payloads: Vec<u8> = stored[64..].iter().map(|(_, p)| p[0]).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, (0..64).collect::<Vec<u8>>());
    assert_eq!(log.next_position("s").unwrap(), 129);
}

/// A memory store whose group commits wait for a gate and can be made to fail.
type GatedStore = Hooked<Gate>;

#[derive(Default)]
struct Gate {
    /// While set, each group waits for a message (or the sender's drop).
    gate: Mutex<Option<mpsc::Receiver<()>>>,
    /// Told when a group has entered `commit_many`.
    entered: Mutex<Option<mpsc::Sender<()>>>,
    fail: AtomicBool,
    groups: AtomicU64,
}

/// The store, the gate's key and the "a group is committing" signal.
fn gated_store() -> (Arc<GatedStore>, mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (open, gate) = mpsc::channel();
    let (entered_tx, entered) = mpsc::channel();
    let store = Hooked {
        inner: Box::new(MemoryStore::default()),
        hooks: Gate {
            gate: Mutex::new(Some(gate)),
            entered: Mutex::new(Some(entered_tx)),
            ..Gate::default()
        },
    };
    (Arc::new(store), open, entered)
}

impl Hooks for Gate {
    fn commit_many(
        &self,
        inner: &dyn LogStore,
        batches: Vec<WriteBatch>,
    ) -> Result<Vec<Committed>, StoreError> {
        self.groups.fetch_add(1, Ordering::SeqCst);
        if let Some(entered) = &*self.entered.lock().unwrap() {
            let _ = entered.send(());
        }
        if let Some(gate) = &*self.gate.lock().unwrap() {
            let _ = gate.recv();
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Engine("the disk is on fire".into()));
        }
        inner.commit_many(batches)
    }
}

#[tokio::test]
async fn nothing_queued_is_readable_or_announced_before_its_group_commits() {
    let (store, open, entered) = gated_store();
    let log = Log::new(Arc::clone(&store) as Arc<dyn LogStore>, true);
    let mut watcher = log.watch("s");

    let first = log.enqueue(one("s", b"a")).unwrap();
    // The committer is now inside the group's commit, held at the gate.
    entered.recv().unwrap();
    let second = log.enqueue(one("s", b"b")).unwrap();
    assert_eq!(
        log.next_position("s").unwrap(),
        3,
        "both appends are counted"
    );
    assert!(!watcher.has_changed().unwrap());
    let read = log
        .read_after("s", 0, ReadLimit::records(10), everything())
        .await
        .unwrap();
    assert!(read.records.is_empty(), "read a queued record: {read:?}");
    assert_eq!(log.head("s").unwrap(), 0);

    // Let the first group commit; the second may only appear after its own.
    open.send(()).unwrap();
    assert_eq!(first.durable().await.unwrap().positions, vec![1]);
    watcher.changed().await.unwrap();
    assert_eq!(*watcher.borrow_and_update(), 1);
    let read = log
        .read_after("s", 0, ReadLimit::records(10), everything())
        .await
        .unwrap();
    assert_eq!(read.records.len(), 1);

    drop(open);
    assert_eq!(second.durable().await.unwrap().positions, vec![2]);
    watcher.changed().await.unwrap();
    assert_eq!(*watcher.borrow(), 2);
    assert_eq!(store.hooks.groups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_group_fails_its_writers_and_every_later_write() {
    let (store, open, entered) = gated_store();
    let log = Log::new(Arc::clone(&store) as Arc<dyn LogStore>, true);
    open.send(()).unwrap();
    assert_eq!(log.commit(one("s", b"kept")).await.unwrap().positions, [1]);
    entered.recv().unwrap();

    store.hooks.fail.store(true, Ordering::SeqCst);
    let failing = log.enqueue(one("s", b"lost")).unwrap();
    entered.recv().unwrap();
    let behind = log.enqueue(one("s", b"behind")).unwrap();
    drop(open);

    for enqueued in [failing, behind] {
        let error = enqueued.durable().await.unwrap_err();
        assert!(matches!(error, StoreError::Failed(_)), "{error:?}");
        assert!(error.to_string().contains("the disk is on fire"), "{error}");
    }
    // Later writes fail at once, saying what to do, and never reach the store.
    store.hooks.fail.store(false, Ordering::SeqCst);
    let groups = store.hooks.groups.load(Ordering::SeqCst);
    let error = log.commit(one("s", b"later")).await.unwrap_err();
    assert!(error.to_string().contains("restart the server"), "{error}");
    assert!(matches!(
        log.enqueue(one("t", b"x")),
        Err(StoreError::Failed(_))
    ));
    assert!(matches!(
        log.trim("s", Retention::default(), 0).await,
        Err(StoreError::Failed(_))
    ));
    assert_eq!(store.hooks.groups.load(Ordering::SeqCst), groups);
    assert_eq!(log.head("s").unwrap(), 1, "only the first commit is stored");
}

#[tokio::test]
async fn an_invalid_batch_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DurableStore::open(dir.path(), DurableOptions::default()).unwrap());
    let log = Log::new(store, true);
    let error = log.enqueue(one("", b"x")).unwrap_err();
    assert!(matches!(error, StoreError::InvalidName { .. }), "{error:?}");
    assert_eq!(log.commit(one("s", b"y")).await.unwrap().positions, vec![1]);
}
