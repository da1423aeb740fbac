//! The store contract, run against both engines, and a model test of the durable engine against the memory one.

use proptest::prelude::*;

use super::durable::{DurableOptions, DurableStore};
use super::memory::MemoryStore;
use super::*;

fn rec(ts: u64, payload: &str) -> NewRecord {
    NewRecord {
        timestamp_micros: ts,
        payload: payload.as_bytes().to_vec(),
    }
}

fn payloads(batch: &ReadBatch) -> Vec<String> {
    batch
        .records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}

fn all(store: &dyn LogStore, stream: &str) -> ReadBatch {
    store
        .read_after(stream, 0, ReadLimit::records(usize::MAX / 128), &|_| true)
        .expect("read")
}

/// Runs `test` against a fresh memory store and a fresh durable store.
fn both(test: impl Fn(&dyn LogStore)) {
    test(&MemoryStore::new());
    let dir = tempfile::tempdir().expect("tempdir");
    test(&DurableStore::open(dir.path(), DurableOptions::default()).expect("open"));
}

#[test]
fn positions_start_at_one_and_are_per_stream() {
    both(|store| {
        assert_eq!(
            store.append("a", vec![rec(1, "x"), rec(2, "y")]).unwrap(),
            [1, 2]
        );
        assert_eq!(store.append("b", vec![rec(3, "z")]).unwrap(), [1]);
        assert_eq!(store.append("a", vec![rec(4, "w")]).unwrap(), [3]);
        let bounds = store.bounds("a").unwrap();
        assert_eq!(
            bounds,
            StreamBounds {
                first: Some(1),
                last: Some(3),
                next: 4
            }
        );
        assert_eq!(
            store.bounds("never").unwrap(),
            StreamBounds {
                first: None,
                last: None,
                next: 1
            }
        );
    });
}

#[test]
fn a_batch_spanning_streams_reports_positions_in_append_order() {
    both(|store| {
        store.append("a", vec![rec(1, "a1")]).unwrap();
        let mut batch = WriteBatch::new();
        batch
            .append("b", rec(2, "b1"))
            .append("a", rec(2, "a2"))
            .append("b", rec(2, "b2"))
            .put("ns", "k", b"v".to_vec())
            .set_cursor("c", 7);
        assert_eq!(batch.streams(), ["b", "a"]);
        assert_eq!(store.commit(batch).unwrap().positions, [1, 2, 2]);
        assert_eq!(payloads(&all(store, "b")), ["b1", "b2"]);
        assert_eq!(store.kv_get("ns", "k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.cursor("c").unwrap(), Some(7));
    });
}

#[test]
fn an_invalid_batch_changes_nothing() {
    both(|store| {
        let mut batch = WriteBatch::new();
        batch.append("good", rec(1, "x")).put("", "k", vec![1]);
        let error = store.commit(batch).unwrap_err();
        assert!(matches!(error, StoreError::InvalidName { .. }), "{error}");
        assert_eq!(all(store, "good").records.len(), 0);
        assert_eq!(store.bounds("good").unwrap().next, 1);
    });
}

#[test]
fn read_after_is_exclusive_filtered_and_bounded() {
    both(|store| {
        let records = (1..=10).map(|i| rec(i, &format!("r{i}"))).collect();
        store.append("s", records).unwrap();
        let even = |r: &Record| r.position.is_multiple_of(2);
        let batch = store
            .read_after("s", 3, ReadLimit::records(2), &even)
            .unwrap();
        assert_eq!(payloads(&batch), ["r4", "r6"]);
        assert_eq!(batch.scanned_to, 6);
        assert!(!batch.reached_end);
        let rest = store
            .read_after("s", batch.scanned_to, ReadLimit::records(100), &even)
            .unwrap();
        assert_eq!(payloads(&rest), ["r8", "r10"]);
        assert!(rest.reached_end);
        // The scan limit bounds the work even when nothing matches.
        let none = store
            .read_after(
                "s",
                0,
                ReadLimit {
                    max_records: 5,
                    max_scanned: 3,
                },
                &|_| false,
            )
            .unwrap();
        assert!(none.records.is_empty());
        assert_eq!(none.scanned_to, 3);
        assert!(!none.reached_end);
        // After the end: nothing, and the position given comes back.
        let past = store
            .read_after("s", 10, ReadLimit::records(5), &|_| true)
            .unwrap();
        assert_eq!(past.scanned_to, 10);
        assert!(past.records.is_empty() && past.reached_end);
        assert_eq!(
            store.get("s", 4).unwrap().map(|r| r.payload.to_vec()),
            Some(b"r4".to_vec())
        );
        assert_eq!(store.get("s", 11).unwrap(), None);
    });
}

#[test]
fn trim_by_count_and_age_keeps_next_position() {
    both(|store| {
        let records = (1..=10).map(|i| rec(i * 100, &format!("r{i}"))).collect();
        store.append("s", records).unwrap();
        let by_count = Retention {
            max_records: Some(7),
            max_age_micros: None,
        };
        let trimmed = store.trim("s", &by_count, 0).unwrap();
        assert_eq!(trimmed.removed, 3);
        assert_eq!(trimmed.bounds.first, Some(4));
        // Age: at now=1000 with max age 450, records older than 550 go (r4, r5).
        let by_age = Retention {
            max_records: None,
            max_age_micros: Some(450),
        };
        let trimmed = store.trim("s", &by_age, 1000).unwrap();
        assert_eq!(trimmed.removed, 2);
        assert_eq!(payloads(&all(store, "s"))[0], "r6");
        // Remove everything: the next position still never goes back.
        let everything = Retention {
            max_records: Some(0),
            max_age_micros: None,
        };
        store.trim("s", &everything, 0).unwrap();
        assert_eq!(
            store.bounds("s").unwrap(),
            StreamBounds {
                first: None,
                last: None,
                next: 11
            }
        );
        assert_eq!(store.append("s", vec![rec(2000, "r11")]).unwrap(), [11]);
    });
}

#[test]
fn kv_scan_stays_inside_its_namespace() {
    both(|store| {
        let mut batch = WriteBatch::new();
        batch
            .put("a", "2", b"two".to_vec())
            .put("a", "1", b"one".to_vec())
            .put("ab", "0", b"other".to_vec())
            .put("b", "0", b"other".to_vec());
        store.commit(batch).unwrap();
        let mut delete = WriteBatch::new();
        delete.delete("a", "2").delete_cursor("nothing");
        store.commit(delete).unwrap();
        assert_eq!(
            store.kv_scan("a").unwrap(),
            [("1".to_owned(), b"one".to_vec())]
        );
        assert_eq!(store.kv_get("a", "2").unwrap(), None);
    });
}

#[test]
fn durable_store_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = DurableStore::open(dir.path(), DurableOptions::default()).unwrap();
        store.append("s", vec![rec(1, "a"), rec(2, "b")]).unwrap();
        let mut batch = WriteBatch::new();
        batch.set_cursor("reader", 1).put("ns", "k", b"v".to_vec());
        store.commit(batch).unwrap();
        store
            .trim(
                "s",
                &Retention {
                    max_records: Some(0),
                    max_age_micros: None,
                },
                0,
            )
            .unwrap();
    }
    let store = DurableStore::open(dir.path(), DurableOptions::default()).unwrap();
    assert_eq!(store.cursor("reader").unwrap(), Some(1));
    assert_eq!(store.kv_get("ns", "k").unwrap(), Some(b"v".to_vec()));
    // Everything was trimmed, and still the sequence continues after restart.
    assert_eq!(store.append("s", vec![rec(3, "c")]).unwrap(), [3]);
}

#[test]
fn a_second_process_cannot_open_the_same_directory_while_it_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let _held = DurableStore::open(dir.path(), DurableOptions::default()).unwrap();
    let error = DurableStore::open(dir.path(), DurableOptions::default()).unwrap_err();
    assert!(error.to_string().contains("already open"), "{error}");
}

#[test]
fn the_reuse_seq_defect_hands_out_positions_again_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let defect = DurableOptions {
        forget_sequence_on_open: true,
    };
    {
        let store = DurableStore::open(dir.path(), defect).unwrap();
        assert_eq!(
            store.append("s", vec![rec(1, "a"), rec(2, "b")]).unwrap(),
            [1, 2]
        );
    }
    let store = DurableStore::open(dir.path(), defect).unwrap();
    assert_eq!(store.append("s", vec![rec(3, "c")]).unwrap(), [1]);
    assert_eq!(payloads(&all(&store, "s")), ["c", "b"]);
}

#[derive(Debug, Clone)]
enum Op {
    Append(u8, Vec<u8>),
    Read(u8, u64, usize),
    Trim(u8, Option<u64>, Option<u64>, u64),
    Put(u8, u8, Vec<u8>),
    Cursor(u8, u64),
}

fn stream_name(i: u8) -> String {
    format!("stream-{}", i % 3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..4)).prop_map(|(s, p)| Op::Append(s, p)),
        2 => (any::<u8>(), 0u64..20, 1usize..6).prop_map(|(s, a, n)| Op::Read(s, a, n)),
        1 => (any::<u8>(), prop::option::of(0u64..8), prop::option::of(0u64..50), 0u64..100)
            .prop_map(|(s, n, age, now)| Op::Trim(s, n, age, now)),
        1 => (any::<u8>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(n, k, v)| Op::Put(n, k, v)),
        1 => (any::<u8>(), any::<u64>()).prop_map(|(c, p)| Op::Cursor(c, p)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The durable engine, reopened at random points, answers every operation
    /// exactly as the memory engine does.
    #[test]
    fn durable_engine_matches_the_memory_model(ops in prop::collection::vec((op(), any::<bool>()), 1..40)) {
        let model = MemoryStore::new();
        let dir = tempfile::tempdir().unwrap();
        let mut durable = DurableStore::open(dir.path(), DurableOptions::default()).unwrap();
        for (step, (op, reopen)) in ops.into_iter().enumerate() {
            let clock = step as u64 * 5;
            match op {
                Op::Append(s, payload) => {
                    let record = NewRecord { timestamp_micros: clock, payload };
                    let expected = model.append(&stream_name(s), vec![record.clone()]).unwrap();
                    prop_assert_eq!(durable.append(&stream_name(s), vec![record]).unwrap(), expected);
                }
                Op::Read(s, after, n) => {
                    let odd = |r: &Record| r.payload.len() % 2 == 1 || r.position.is_multiple_of(3);
                    let limit = ReadLimit { max_records: n, max_scanned: n * 2 };
                    let expected = model.read_after(&stream_name(s), after, limit, &odd).unwrap();
                    let actual = durable.read_after(&stream_name(s), after, limit, &odd).unwrap();
                    prop_assert_eq!(actual, expected);
                }
                Op::Trim(s, max_records, max_age_micros, now) => {
                    let retention = Retention { max_records, max_age_micros };
                    let expected = model.trim(&stream_name(s), &retention, now).unwrap();
                    prop_assert_eq!(durable.trim(&stream_name(s), &retention, now).unwrap(), expected);
                }
                Op::Put(n, k, value) => {
                    let mut batch = WriteBatch::new();
                    batch.put(&format!("ns{}", n % 2), &k.to_string(), value);
                    model.commit(batch.clone()).unwrap();
                    durable.commit(batch).unwrap();
                }
                Op::Cursor(c, position) => {
                    let mut batch = WriteBatch::new();
                    batch.set_cursor(&format!("c{}", c % 2), position);
                    model.commit(batch.clone()).unwrap();
                    durable.commit(batch).unwrap();
                }
            }
            if reopen {
                drop(durable);
                durable = DurableStore::open(dir.path(), DurableOptions::default()).unwrap();
            }
        }
        for s in 0..3u8 {
            let name = stream_name(s);
            prop_assert_eq!(durable.bounds(&name).unwrap(), model.bounds(&name).unwrap());
            prop_assert_eq!(all(&durable, &name), all(&model, &name));
        }
        for n in 0..2 {
            let ns = format!("ns{n}");
            prop_assert_eq!(durable.kv_scan(&ns).unwrap(), model.kv_scan(&ns).unwrap());
            let c = format!("c{n}");
            prop_assert_eq!(durable.cursor(&c).unwrap(), model.cursor(&c).unwrap());
        }
    }
}
