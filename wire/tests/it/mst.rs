//! The MST undo: the atproto interop vectors (key heights, commit proofs) and properties of random commits; hostile blocks in `mst/hostile.rs`.

mod hostile;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::{Config, TestRunner};
use wire::cid::Cid;
use wire::mst::{MstError, Undo, build_root, height, invert};

/// A file of the interop vectors (a test that calls this fails when they are absent).
fn vector(path: &str) -> PathBuf {
    testenv::vectors().join(path)
}

fn read_json(path: &str) -> serde_json::Value {
    let file = vector(path);
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn example_keys() -> Vec<String> {
    let file = vector("mst/example_keys.txt");
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let keys: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!keys.is_empty(), "{} holds no keys", file.display());
    keys
}

pub(crate) fn run(
    root: Cid,
    blocks: &BTreeMap<Cid, Vec<u8>>,
    ops: &[Undo<'_>],
) -> Result<Cid, MstError> {
    invert(root, &|cid: &Cid| blocks.get(cid).map(Vec::as_slice), ops)
}

/// A value CID that differs per `seed`.
pub(crate) fn value(seed: u32) -> Cid {
    Cid::for_dag_cbor(&seed.to_be_bytes())
}

fn root_of(entries: &BTreeMap<String, Cid>) -> (Cid, BTreeMap<Cid, Vec<u8>>) {
    build_root(entries.iter().map(|(k, v)| (k.as_str(), *v)))
}

#[test]
fn key_heights_match_the_vectors() {
    let cases = read_json("mst/key_heights.json");
    let cases = cases.as_array().expect("an array");
    assert!(!cases.is_empty());
    for case in cases {
        let key = case["key"].as_str().expect("key");
        let expected = case["height"].as_u64().expect("height");
        assert_eq!(u64::from(height(key.as_bytes())), expected, "{key:?}");
    }
}

#[test]
fn the_empty_tree_is_the_well_known_empty_node() {
    let (root, blocks) = build_root([]);
    assert_eq!(
        root.to_string(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
    assert_eq!(blocks.len(), 1);
    // Undoing the only create of a one-key tree gives the empty tree back.
    let (one, blocks) = build_root([("app.bsky.feed.post/3k", value(1))]);
    let undo = [Undo::Create {
        key: "app.bsky.feed.post/3k",
        cid: value(1),
    }];
    assert_eq!(run(one, &blocks, &undo), Ok(root));
}

#[test]
fn example_keys_give_one_tree_in_any_insertion_order() {
    let keys = example_keys();
    // The keys spread over several layers, so the tree has depth to get wrong.
    let layers: BTreeSet<u32> = keys.iter().map(|k| height(k.as_bytes())).collect();
    assert!(layers.len() >= 2, "{layers:?}");
    let strategy = subsequence(keys.clone(), 0..=keys.len()).prop_shuffle();
    let mut runner = TestRunner::new(Config::with_cases(128));
    runner
        .run(&strategy, |shuffled| {
            let sorted: BTreeMap<String, Cid> =
                shuffled.iter().map(|k| (k.clone(), value(7))).collect();
            let (root, blocks) = build_root(shuffled.iter().map(|k| (k.as_str(), value(7))));
            prop_assert_eq!((root, blocks), root_of(&sorted));
            Ok(())
        })
        .unwrap();
}

#[test]
fn every_block_of_a_full_tree_reads_and_writes_back_unchanged() {
    let keys = example_keys();
    let (root, blocks) = build_root(keys.iter().map(|k| (k.as_str(), value(1))));
    // A no-op update of every key loads each node on its path and writes it back.
    let ops: Vec<Undo<'_>> = keys
        .iter()
        .map(|key| Undo::Update {
            key,
            cid: value(1),
            prev: value(1),
        })
        .collect();
    assert_eq!(run(root, &blocks, &ops), Ok(root));
    // A real update changes the root, and undoing it restores the original.
    let mut changed: BTreeMap<String, Cid> = keys.iter().map(|k| (k.clone(), value(1))).collect();
    changed.insert(keys[3].clone(), value(2));
    let (after, after_blocks) = root_of(&changed);
    assert_ne!(after, root);
    let undo = [Undo::Update {
        key: &keys[3],
        cid: value(2),
        prev: value(1),
    }];
    assert_eq!(run(after, &after_blocks, &undo), Ok(root));
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let items = value.as_array().expect("an array of strings");
    items
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn cid(value: &serde_json::Value) -> Cid {
    value
        .as_str()
        .expect("a CID string")
        .parse()
        .expect("a CID")
}

#[test]
fn commit_proof_fixtures_invert_from_their_proof_blocks() {
    let cases = read_json("firehose/commit-proof-fixtures.json");
    let cases = cases.as_array().expect("an array");
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["comment"].as_str().expect("comment");
        let leaf = cid(&case["leafValue"]);
        let (adds, dels) = (strings(&case["adds"]), strings(&case["dels"]));
        let mut entries: BTreeMap<String, Cid> = strings(&case["keys"])
            .into_iter()
            .map(|k| (k, leaf))
            .collect();
        let (before, _) = root_of(&entries);
        assert_eq!(
            before,
            cid(&case["rootBeforeCommit"]),
            "{name}: root before"
        );
        entries.extend(adds.iter().map(|k| (k.clone(), leaf)));
        for key in &dels {
            entries.remove(key);
        }
        let (after, all_blocks) = root_of(&entries);
        assert_eq!(after, cid(&case["rootAfterCommit"]), "{name}: root after");

        let proof: BTreeSet<Cid> = case["blocksInProof"]
            .as_array()
            .expect("blocksInProof")
            .iter()
            .map(cid)
            .collect();
        let blocks: BTreeMap<Cid, Vec<u8>> = all_blocks
            .into_iter()
            .filter(|(c, _)| proof.contains(c))
            .collect();
        assert_eq!(
            blocks.len(),
            proof.len(),
            "{name}: a proof block is not a node"
        );

        // A commit lists its ops in one order; undoing them in either order works.
        let mut ops: Vec<Undo<'_>> = adds
            .iter()
            .map(|key| Undo::Create { key, cid: leaf })
            .chain(dels.iter().map(|key| Undo::Delete { key, prev: leaf }))
            .collect();
        assert_eq!(run(after, &blocks, &ops), Ok(before), "{name}");
        ops.reverse();
        assert_eq!(
            run(after, &blocks, &ops),
            Ok(before),
            "{name}, ops reversed"
        );
        ops.reverse();

        // Without a block it reads, the undo names that block; the root is always read.
        for gone in &proof {
            let mut fewer = blocks.clone();
            fewer.remove(gone);
            match run(after, &fewer, &ops) {
                Err(MstError::MissingBlock(missing)) => assert_eq!(missing, *gone, "{name}"),
                Ok(root) => {
                    assert_eq!(root, before, "{name}");
                    assert_ne!(*gone, after, "{name}: the root block was not needed");
                    println!("note: {name}: proof block {gone} is not needed");
                }
                Err(e) => panic!("{name}: without {gone}: {e}"),
            }
        }
    }
}

/// A random repository: key number → value seed.
fn repo() -> impl Strategy<Value = BTreeMap<u16, u32>> {
    btree_map(0u16..600, 0u32..4, 0..80)
}

fn key(n: u16) -> String {
    format!("app.bsky.feed.post/{n:04}")
}

/// The commit `changes` (key number → new value seed, or `None` to delete) makes to
/// `before`: the entries after it, and the ops to undo, in the commit's order.
fn commit(
    before: &BTreeMap<u16, u32>,
    changes: &[(u16, Option<u32>)],
) -> (BTreeMap<String, Cid>, Vec<(String, Undo<'static>)>) {
    let mut after: BTreeMap<String, Cid> =
        before.iter().map(|(n, v)| (key(*n), value(*v))).collect();
    let mut ops = Vec::new();
    let mut seen = BTreeSet::new();
    for &(n, change) in changes {
        if !seen.insert(n) {
            continue;
        }
        let old = before.get(&n).map(|v| value(*v));
        let op = match (old, change.map(|v| value(v + 10))) {
            (None, None) => continue,
            (None, Some(cid)) => Undo::Create { key: "", cid },
            (Some(prev), Some(cid)) => Undo::Update { key: "", cid, prev },
            (Some(prev), None) => Undo::Delete { key: "", prev },
        };
        match change {
            Some(v) => after.insert(key(n), value(v + 10)),
            None => after.remove(&key(n)),
        };
        ops.push((key(n), op));
    }
    (after, ops)
}

/// The ops of [`commit`] with their keys filled in.
fn with_keys<'a>(ops: &'a [(String, Undo<'static>)]) -> Vec<Undo<'a>> {
    ops.iter()
        .map(|(key, op)| match *op {
            Undo::Create { cid, .. } => Undo::Create { key, cid },
            Undo::Update { cid, prev, .. } => Undo::Update { key, cid, prev },
            Undo::Delete { prev, .. } => Undo::Delete { key, prev },
        })
        .collect()
}

fn changes() -> impl Strategy<Value = Vec<(u16, Option<u32>)>> {
    vec((0u16..600, proptest::option::of(0u32..4)), 0..=8)
}

proptest! {
    #[test]
    fn undoing_a_commit_gives_the_root_before_it(before in repo(), changes in changes()) {
        let (after, ops) = commit(&before, &changes);
        let ops = with_keys(&ops);
        let entries = before.iter().map(|(n, v)| (key(*n), value(*v))).collect();
        let (before_root, _) = root_of(&entries);
        let (after_root, blocks) = root_of(&after);
        prop_assert_eq!(run(after_root, &blocks, &ops), Ok(before_root));
        // The ops touch distinct keys, so their order does not matter.
        let reversed: Vec<Undo<'_>> = ops.iter().rev().copied().collect();
        prop_assert_eq!(run(after_root, &blocks, &reversed), Ok(before_root));
    }

    #[test]
    fn an_op_that_does_not_fit_is_a_mismatch(
        before in repo(),
        changes in changes(),
        pick in any::<prop::sample::Index>(),
        stranger in 600u16..700,
    ) {
        let (after, ops) = commit(&before, &changes);
        prop_assume!(!ops.is_empty());
        let mut ops = with_keys(&ops);
        let (root, blocks) = root_of(&after);
        let i = pick.index(ops.len());
        let untouched = after.keys().find(|k| ops.iter().all(|op| op_key(op) != k.as_str()));
        let stranger = key(stranger);
        ops[i] = match ops[i] {
            // The created key holds another value.
            Undo::Create { key, .. } => Undo::Create { key, cid: value(99) },
            Undo::Update { key, prev, .. } => Undo::Update { key, cid: value(99), prev },
            // A deleted key must be absent; a key the commit did not touch is present.
            Undo::Delete { prev, .. } => match untouched {
                Some(key) => Undo::Delete { key, prev },
                None => Undo::Create { key: &stranger, cid: prev },
            },
        };
        let error = run(root, &blocks, &ops).unwrap_err();
        prop_assert_eq!(error.kind(), "op-mismatch", "{}", error);
    }
}

fn op_key<'a>(op: &Undo<'a>) -> &'a str {
    match *op {
        Undo::Create { key, .. } | Undo::Update { key, .. } | Undo::Delete { key, .. } => key,
    }
}
