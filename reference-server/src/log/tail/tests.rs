//! Tests of the log's tail: reads from it equal reads from the store, across trims and limits, and it holds nothing before it is durable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::log::{Log, OwnedFilter, TailLimits};
use crate::store::durable::{DurableOptions, DurableStore};
use crate::store::hooked::{Hooked, Hooks};
use crate::store::{
    Committed, LogStore, NewRecord, Position, ReadLimit, Record, Retention, StoreError, WriteBatch,
};

/// Where a held group waits: before the store has it, or after it is durable
/// but before the committer has added it to the tail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hold {
    Before,
    After,
}

/// A durable store that counts reads of records and can hold group commits.
type Probe = Hooked<ProbeHooks>;

struct ProbeHooks {
    reads: AtomicU64,
    /// While set, each group waits for a message (or the sender's drop).
    hold: Mutex<Option<(Hold, mpsc::Receiver<()>)>>,
    /// Told when a group has reached its hold.
    held: mpsc::Sender<()>,
}

/// The store (kept open by the directory) and the "a group is held" signal.
fn probe() -> (Arc<Probe>, tempfile::TempDir, mpsc::Receiver<()>) {
    let dir = tempfile::tempdir().unwrap();
    let (held, held_rx) = mpsc::channel();
    let store = Hooked {
        inner: Box::new(DurableStore::open(dir.path(), DurableOptions::default()).unwrap()),
        hooks: ProbeHooks {
            reads: AtomicU64::new(0),
            hold: Mutex::new(None),
            held,
        },
    };
    (Arc::new(store), dir, held_rx)
}

impl Probe {
    /// Holds every later group at `hold` until the returned sender sends or is dropped.
    fn hold(&self, hold: Hold) -> mpsc::Sender<()> {
        let (open, gate) = mpsc::channel();
        *self.hooks.hold.lock().unwrap() = Some((hold, gate));
        open
    }

    fn reads(&self) -> u64 {
        self.hooks.reads.load(Ordering::SeqCst)
    }
}

impl ProbeHooks {
    fn wait_at(&self, here: Hold) {
        if let Some((hold, gate)) = &*self.hold.lock().unwrap()
            && *hold == here
        {
            let _ = self.held.send(());
            let _ = gate.recv();
        }
    }
}

impl Hooks for ProbeHooks {
    fn commit_many(
        &self,
        inner: &dyn LogStore,
        batches: Vec<WriteBatch>,
    ) -> Result<Vec<Committed>, StoreError> {
        self.wait_at(Hold::Before);
        let committed = inner.commit_many(batches);
        self.wait_at(Hold::After);
        committed
    }

    fn on_read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

fn log_over(store: &Arc<Probe>, limits: TailLimits) -> Log {
    Log::with_tail(Arc::clone(store) as Arc<dyn LogStore>, true, limits)
}

/// A record whose payload size varies with `i`, so that byte limits bite unevenly.
fn record(i: u64) -> NewRecord {
    NewRecord {
        timestamp_micros: i,
        payload: vec![u8::try_from(i % 251).unwrap(); usize::try_from(1 + i % 7 * 10).unwrap()],
    }
}

/// Commits records `range` to `s`, interleaved with records of the unwatched stream `u`.
async fn commit(log: &Log, range: std::ops::Range<u64>) {
    for i in range {
        let mut batch = WriteBatch::new();
        batch.append("s", record(i)).append("u", record(i));
        log.commit(batch).await.unwrap();
    }
}

fn everything() -> OwnedFilter {
    Box::new(|_| true)
}

type Filter = fn(&Record) -> bool;

/// Every read of `stream` the log can be asked, answered by the log and by the store alone.
async fn assert_reads_equal(log: &Log, store: &Probe, stream: &str) {
    let newest = store.bounds(stream).unwrap().next + 2;
    let limits = [
        ReadLimit::records(1),
        ReadLimit::records(3),
        ReadLimit::records(1000),
        ReadLimit {
            max_records: 100,
            max_scanned: 2,
        },
    ];
    for after in 0..newest {
        for limit in limits {
            let filters: [(&str, Filter); 2] = [
                ("everything", |_| true),
                ("even", |r| r.position.is_multiple_of(2)),
            ];
            for (name, filter) in filters {
                let from_log = log
                    .read_after(stream, after, limit, Box::new(filter))
                    .await
                    .unwrap();
                let from_store = store
                    .inner
                    .read_after(stream, after, limit, &filter)
                    .unwrap();
                assert_eq!(
                    from_log, from_store,
                    "{stream} after {after}, {limit:?}, {name}"
                );
            }
        }
    }
}

#[tokio::test]
async fn reads_from_the_tail_equal_reads_from_the_store() {
    let (store, _dir, _held) = probe();
    let limits = TailLimits {
        max_records: 8,
        max_bytes: 200,
    };
    let log = log_over(&store, limits);
    let _watch = log.watch("s");
    commit(&log, 0..40).await;
    assert_reads_equal(&log, &store, "s").await;
    assert_reads_equal(&log, &store, "u").await;

    // A reader inside the tail reads no store and gets the tail's bytes, shared.
    let before = store.reads();
    let last = store.bounds("s").unwrap().last.unwrap();
    let first = log.read_after("s", last - 2, ReadLimit::records(10), everything());
    let again = log.read_after("s", last - 2, ReadLimit::records(10), everything());
    let (first, again) = (first.await.unwrap(), again.await.unwrap());
    assert_eq!(first.records.len(), 2);
    assert_eq!(
        store.reads(),
        before,
        "a read inside the tail went to the store"
    );
    let shared = |(a, b): (&Record, &Record)| a.payload.as_ptr() == b.payload.as_ptr();
    assert!(
        first.records.iter().zip(&again.records).all(shared),
        "a payload was copied"
    );
    // A reader behind the tail reads the store; a stream nobody watches has no tail.
    log.read_after("s", 0, ReadLimit::records(10), everything())
        .await
        .unwrap();
    log.read_after("u", last - 2, ReadLimit::records(10), everything())
        .await
        .unwrap();
    assert_eq!(store.reads(), before + 2);
}

#[tokio::test]
async fn a_reader_that_falls_behind_the_tail_continues_from_the_store() {
    let (store, _dir, _held) = probe();
    let log = log_over(
        &store,
        TailLimits {
            max_records: 5,
            max_bytes: usize::MAX,
        },
    );
    let _watch = log.watch("s");
    commit(&log, 0..3).await;
    // The reader follows in steps of 2 while the writer adds 3 per step, so
    // it starts inside the tail and is soon behind it.
    let mut read = Vec::new();
    let mut position = 0;
    let mut store_reads = Vec::new();
    for step in 0..40 {
        let before = store.reads();
        let batch = log
            .read_after("s", position, ReadLimit::records(2), everything())
            .await
            .unwrap();
        store_reads.push(store.reads() - before);
        position = batch.scanned_to;
        read.extend(batch.records);
        if step < 12 {
            commit(&log, 3 + step * 3..6 + step * 3).await;
        }
    }
    let all = store
        .inner
        .read_after("s", 0, ReadLimit::records(1000), &|_| true)
        .unwrap();
    assert_eq!(read, all.records);
    assert_eq!(store_reads[0], 0, "the first read was inside the tail");
    assert!(
        store_reads.contains(&1),
        "the reader never fell behind the tail"
    );
    assert_eq!(
        store_reads.last(),
        Some(&0),
        "the reader caught up with the tail"
    );
}

#[tokio::test]
async fn trimmed_records_leave_the_tail_with_the_store() {
    let (store, _dir, _held) = probe();
    let log = log_over(&store, TailLimits::default());
    let _watch = log.watch("s");
    commit(&log, 0..20).await;
    let keep = |n| Retention {
        max_age_micros: None,
        max_records: Some(n),
    };
    let trimmed = log.trim("s", keep(5), 0).await.unwrap();
    assert_eq!(trimmed.bounds.first, Some(16));
    assert_reads_equal(&log, &store, "s").await;
    // By age: the records with timestamps before 18 go.
    let by_age = Retention {
        max_age_micros: Some(2),
        max_records: None,
    };
    log.trim("s", by_age, 20).await.unwrap();
    assert_eq!(store.bounds("s").unwrap().first, Some(19));
    assert_reads_equal(&log, &store, "s").await;
    // Emptied, then written again: the tail starts over after the gap.
    log.trim("s", keep(0), 0).await.unwrap();
    assert_reads_equal(&log, &store, "s").await;
    commit(&log, 20..25).await;
    assert_reads_equal(&log, &store, "s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trim_while_a_group_is_on_its_way_to_the_tail_holds() {
    let (store, _dir, held) = probe();
    let log = log_over(&store, TailLimits::default());
    let _watch = log.watch("s");
    commit(&log, 0..4).await;
    // The next group is durable, but not yet in the tail, when retention
    // removes everything; it must not come back through the tail.
    let open = store.hold(Hold::After);
    let mut batch = WriteBatch::new();
    batch.append("s", record(4)).append("s", record(5));
    let pending = log.enqueue(batch).unwrap();
    held.recv().unwrap();
    let empty = Retention {
        max_age_micros: None,
        max_records: Some(0),
    };
    log.trim("s", empty, 0).await.unwrap();
    drop(open);
    assert_eq!(pending.durable().await.unwrap().positions, [5, 6]);
    assert_eq!(store.bounds("s").unwrap().first, None);
    assert_reads_equal(&log, &store, "s").await;
    commit(&log, 6..9).await;
    assert_reads_equal(&log, &store, "s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_in_the_tail_before_its_group_is_durable() {
    let (store, _dir, held) = probe();
    let log = log_over(&store, TailLimits::default());
    let mut watch = log.watch("s");
    commit(&log, 0..1).await;
    // The writer's answer comes before the watchers are woken.
    watch.wait_for(|newest| *newest == 1).await.unwrap();
    watch.borrow_and_update();

    for hold in [Hold::Before, Hold::After] {
        let open = store.hold(hold);
        let mut batch = WriteBatch::new();
        batch.append("s", record(1));
        let pending = log.enqueue(batch).unwrap();
        held.recv().unwrap();
        let reads = store.reads();
        let read = log
            .read_after("s", 0, ReadLimit::records(10), everything())
            .await
            .unwrap();
        let positions: Vec<Position> = read.records.iter().map(|r| r.position).collect();
        let newest = positions.last().copied().unwrap();
        assert_eq!(read.scanned_to, newest);
        assert!(read.reached_end);
        assert_eq!(store.reads(), reads, "answered by the tail");
        assert!(!watch.has_changed().unwrap(), "announced before durable");

        drop(open);
        *store.hooks.hold.lock().unwrap() = None;
        let position = pending.durable().await.unwrap().positions[0];
        assert_eq!(position, newest + 1, "the held group was already visible");
        // Once the writer has its answer, the record is in the tail.
        let read = log
            .read_after("s", newest, ReadLimit::records(10), everything())
            .await
            .unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(store.reads(), reads, "answered by the tail");
        watch.changed().await.unwrap();
        assert_eq!(*watch.borrow_and_update(), position);
    }
}

#[tokio::test]
async fn a_store_with_older_records_beyond_a_new_group_gets_no_tail() {
    // What `reuse-seq-after-restart` leaves: positions handed out again below
    // records that are still stored. The log must read those as the store does.
    let dir = tempfile::tempdir().unwrap();
    let forgetful = DurableOptions {
        forget_sequence_on_open: true,
    };
    {
        let store = DurableStore::open(dir.path(), forgetful).unwrap();
        let log = Log::new(Arc::new(store), true);
        commit(&log, 0..10).await;
    }
    let store = Arc::new(DurableStore::open(dir.path(), forgetful).unwrap());
    let log = Log::new(Arc::clone(&store) as Arc<dyn LogStore>, true);
    let _watch = log.watch("s");
    commit(&log, 100..103).await;
    for after in 0..12 {
        let limit = ReadLimit::records(100);
        let from_log = log
            .read_after("s", after, limit, everything())
            .await
            .unwrap();
        let from_store = store.read_after("s", after, limit, &|_| true).unwrap();
        assert_eq!(from_log, from_store, "after {after}");
    }
}

#[tokio::test]
async fn a_log_without_a_tail_reads_the_store() {
    let (store, _dir, _held) = probe();
    let log = log_over(&store, TailLimits::NONE);
    let _watch = log.watch("s");
    commit(&log, 0..3).await;
    let before = store.reads();
    assert_reads_equal(&log, &store, "s").await;
    assert!(store.reads() > before);
}
