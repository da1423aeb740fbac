//! Hostile node blocks: each is refused with a typed error naming the block, never a panic.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wire::cbor::{Value, encode};
use wire::cid::Cid;
use wire::mst::{MstError, Undo, height};

use super::{run, value};

/// Blocks by CID, built by hand.
#[derive(Default)]
struct Store(BTreeMap<Cid, Vec<u8>>);

impl Store {
    fn put(&mut self, node: &Value) -> Cid {
        let bytes = encode(node);
        let cid = Cid::for_dag_cbor(&bytes);
        self.0.insert(cid, bytes);
        cid
    }
}

fn link(cid: Option<Cid>) -> Value {
    cid.map_or(Value::Null, Value::Link)
}

/// An entry written by hand: shared prefix `p`, suffix `k`, subtree `t`.
fn entry(p: i64, k: &str, t: Option<Cid>) -> Value {
    Value::map([
        ("k", Value::Bytes(k.as_bytes().to_vec())),
        ("p", Value::Integer(p)),
        ("t", link(t)),
        ("v", Value::Link(value(0))),
    ])
}

/// Entries for `keys` in the given order, each written with its whole shared prefix.
fn compressed(keys: &[&str]) -> Vec<Value> {
    let mut previous = "";
    let mut out = Vec::new();
    for key in keys {
        let p = previous
            .bytes()
            .zip(key.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        out.push(entry(p as i64, &key[p..], None));
        previous = key;
    }
    out
}

/// The first key of height `h` that `pick` accepts.
fn find_key(h: u32, pick: impl Fn(&str) -> bool) -> String {
    (0..)
        .map(|n| key_of_height(h, n))
        .find(|k| pick(k))
        .expect("keys of every small height exist")
}

fn node(l: Option<Cid>, e: Vec<Value>) -> Value {
    Value::map([("e", Value::Array(e)), ("l", link(l))])
}

/// The `n`th key of the form `k/<i>` whose height is `h`, in increasing order for fixed `h`.
fn key_of_height(h: u32, n: usize) -> String {
    (0..)
        .map(|i| format!("k/{i:06}"))
        .filter(|k| height(k.as_bytes()) == h)
        .nth(n)
        .expect("keys of every small height exist")
}

/// Asserts that undoing `ops` from `root` is refused because of the block `culprit`.
fn assert_bad(store: &Store, root: Cid, ops: &[Undo<'_>], culprit: Cid, why: &str) {
    match run(root, &store.0, ops) {
        Err(MstError::BadBlock { cid, reason }) => {
            assert_eq!(cid, culprit, "{why}: blamed the wrong block ({reason})");
            assert!(reason.contains(why), "{why}: the reason was {reason:?}");
        }
        other => panic!("{why}: expected a bad block, got {other:?}"),
    }
}

fn create(key: &str) -> [Undo<'_>; 1] {
    [Undo::Create { key, cid: value(0) }]
}

#[test]
fn blocks_that_are_not_nodes() {
    let mut store = Store::default();
    let op = create("k/000000");
    let not_a_map = store.put(&Value::Integer(1));
    assert_bad(&store, not_a_map, &op, not_a_map, "not a map");
    let extra = store.put(&Value::map([
        ("e", Value::Array(Vec::new())),
        ("l", Value::Null),
        ("x", Value::Null),
    ]));
    assert_bad(&store, extra, &op, extra, "has fields");
    let no_t = Value::map([
        ("k", Value::Bytes(b"k/000000".to_vec())),
        ("p", Value::Integer(0)),
        ("v", Value::Link(value(0))),
    ]);
    let no_t = store.put(&node(None, vec![no_t]));
    assert_bad(&store, no_t, &op, no_t, "has fields");
    let negative = store.put(&node(None, vec![entry(-1, "k/000000", None)]));
    assert_bad(&store, negative, &op, negative, "non-negative");

    // Bytes that are not DAG-CBOR, under their own CID.
    let garbage = vec![0xff, 0x00];
    let garbage_cid = Cid::for_dag_cbor(&garbage);
    store.0.insert(garbage_cid, garbage);
    assert_bad(&store, garbage_cid, &op, garbage_cid, "not DAG-CBOR");

    // A good node filed under another CID, and a raw CID.
    let empty = encode(&node(None, Vec::new()));
    let liar = Cid::for_dag_cbor(b"something else");
    store.0.insert(liar, empty.clone());
    assert_bad(&store, liar, &op, liar, "does not hash");
    let raw = Cid::for_raw(&empty);
    store.0.insert(raw, empty);
    assert_bad(&store, raw, &op, raw, "not dag-cbor");

    // Missing the root is an incomplete proof.
    let absent = Cid::for_dag_cbor(b"nowhere");
    assert_eq!(
        run(absent, &store.0, &op),
        Err(MstError::MissingBlock(absent))
    );
}

#[test]
fn entries_that_break_the_node_rules() {
    let mut store = Store::default();
    let (a, b) = (key_of_height(0, 0), key_of_height(0, 1));
    let op = create(&a);
    let swapped = store.put(&node(None, compressed(&[&b, &a])));
    assert_bad(&store, swapped, &op, swapped, "out of order");
    let repeated = store.put(&node(None, vec![entry(0, &a, None), entry(8, "", None)]));
    assert_bad(&store, repeated, &op, repeated, "out of order");
    let too_long = store.put(&node(None, vec![entry(0, &a, None), entry(9, "x", None)]));
    assert_bad(
        &store,
        too_long,
        &op,
        too_long,
        "longer than the previous key",
    );
    let first = store.put(&node(None, vec![entry(1, &a, None)]));
    assert_bad(&store, first, &op, first, "longer than the previous key");
    // Writing `b` whole repeats the prefix it shares with `a`.
    let loose = store.put(&node(None, vec![entry(0, &a, None), entry(0, &b, None)]));
    assert_bad(&store, loose, &op, loose, "not the whole shared prefix");
    let high = key_of_height(1, 0);
    let (lo, hi) = if a < high { (&a, &high) } else { (&high, &a) };
    let mixed = store.put(&node(None, compressed(&[lo, hi])));
    assert_bad(&store, mixed, &op, mixed, "different heights");
    let long = "x".repeat(2000);
    let long = store.put(&node(None, vec![entry(0, &long, None)]));
    assert_bad(&store, long, &op, long, "key longer than");
}

#[test]
fn nodes_in_the_wrong_place() {
    let mut store = Store::default();
    let leaf = key_of_height(0, 0);
    let op = create(&leaf);
    let low = store.put(&node(None, vec![entry(0, &leaf, None)]));

    // A layer-0 root with a subtree, and a root with nothing but a subtree.
    let below_zero = store.put(&node(Some(low), vec![entry(0, &key_of_height(0, 1), None)]));
    assert_bad(&store, below_zero, &op, below_zero, "below layer 0");
    let hollow = store.put(&node(Some(low), Vec::new()));
    assert_bad(&store, hollow, &op, hollow, "only a subtree");

    // A layer-2 root whose child holds layer-0 keys: the layer-1 node is skipped.
    let top = key_of_height(2, 5);
    let key = find_key(0, |k| k < top.as_str());
    let child = store.put(&node(None, vec![entry(0, &key, None)]));
    let root = store.put(&node(Some(child), vec![entry(0, &top, None)]));
    assert_bad(&store, root, &create(&key), child, "height 0 on layer 1");

    // A child whose keys lie on the wrong side of its parent's key.
    let mid = key_of_height(1, 3);
    let right_of_mid = find_key(0, |k| k > mid.as_str());
    let before_mid = find_key(0, |k| k < mid.as_str());
    let misplaced = store.put(&node(None, vec![entry(0, &right_of_mid, None)]));
    let root = store.put(&node(Some(misplaced), vec![entry(0, &mid, None)]));
    // The op looks left of `mid`, where the misplaced child is linked.
    assert_bad(
        &store,
        root,
        &create(&before_mid),
        misplaced,
        "outside the range",
    );
    // An empty node below the root.
    let empty = store.put(&node(None, Vec::new()));
    let root = store.put(&node(Some(empty), vec![entry(0, &mid, None)]));
    assert_bad(
        &store,
        root,
        &create(&before_mid),
        empty,
        "empty node below the root",
    );
}

#[test]
fn a_node_linked_from_two_places() {
    // Removing the root's only key merges its two subtrees, which are the same node.
    let mut store = Store::default();
    let mid = key_of_height(1, 3);
    let below = find_key(0, |k| k < mid.as_str());
    let shared = store.put(&node(None, vec![entry(0, &below, None)]));
    let root = store.put(&node(Some(shared), vec![entry(0, &mid, Some(shared))]));
    // The second placement is refused, whichever check sees it first.
    match run(root, &store.0, &create(&mid)) {
        Err(MstError::BadBlock { cid, .. }) => assert_eq!(cid, shared),
        other => panic!("expected a bad block, got {other:?}"),
    }
}

#[test]
fn an_op_key_too_long_for_a_node_is_refused() {
    let (root, blocks) = wire::mst::build_root([("k/000000", value(0))]);
    let long = "k/".repeat(wire::mst::MAX_KEY_LEN);
    let op = [Undo::Delete {
        key: &long,
        prev: value(0),
    }];
    let error = run(root, &blocks, &op).unwrap_err();
    assert_eq!(error.kind(), "op-mismatch", "{error}");
}

proptest! {
    #[test]
    fn arbitrary_root_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let cid = Cid::for_dag_cbor(&bytes);
        let blocks = BTreeMap::from([(cid, bytes)]);
        let ops = [
            Undo::Delete { key: "k/000001", prev: value(0) },
            Undo::Create { key: "k/000000", cid: value(0) },
        ];
        if let Err(e) = run(cid, &blocks, &ops) {
            prop_assert!(matches!(e.kind(), "bad-block" | "op-mismatch"), "{}", e);
        }
    }

    #[test]
    fn arbitrary_cbor_nodes_never_panic(
        keys in proptest::collection::vec(("[a-c]{0,3}", 0i64..4, any::<bool>()), 0..6),
        left in any::<bool>(),
    ) {
        // Structurally plausible nodes whose prefixes, order and links are random.
        let mut store = Store::default();
        let child = store.put(&node(None, vec![entry(0, "zz", None)]));
        let pick = |b: bool| b.then_some(child);
        let e = keys.iter().map(|(k, p, t)| entry(*p, k, pick(*t))).collect();
        let root = store.put(&node(pick(left), e));
        for op in [create("b"), [Undo::Delete { key: "bb", prev: value(0) }]] {
            if let Err(e) = run(root, &store.0, &op) {
                prop_assert_ne!(e.kind(), "missing-block", "{}", e);
            }
        }
    }
}
