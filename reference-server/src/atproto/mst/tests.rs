//! Editing a tree against building it from scratch: same root, same blocks, same proofs, and a bounded number of nodes encoded.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wire::cid::Cid;

use super::{Tree, height};

fn key(n: u32) -> String {
    format!("app.bsky.feed.post/3l{n:011}")
}

fn value(n: u32) -> Cid {
    Cid::for_raw(&n.to_be_bytes())
}

/// Checks one edit of `before` (whose keys are `model`) against the trees built from scratch.
fn check_edit(
    before: &Tree,
    model: &mut BTreeMap<String, Cid>,
    changes: &BTreeMap<String, Option<Cid>>,
) -> Result<Tree, TestCaseError> {
    let old_blocks = Tree::build(model).blocks();
    prop_assert_eq!(&before.blocks(), &old_blocks);
    for (key, value) in changes {
        match value {
            Some(value) => model.insert(key.clone(), *value),
            None => model.remove(key),
        };
    }
    let edited = before.edit(changes);
    let built = Tree::build(model);
    prop_assert_eq!(edited.tree.root(), built.root());
    let blocks = edited.tree.blocks();
    prop_assert_eq!(&blocks, &built.blocks());
    // `added` is exactly the nodes the new tree has and the old one had not.
    let new: BTreeMap<Cid, Vec<u8>> = blocks
        .into_iter()
        .filter(|(cid, _)| !old_blocks.contains_key(cid))
        .collect();
    prop_assert_eq!(&edited.added, &new);
    let present: Vec<&str> = changes
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let absent: Vec<&str> = changes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    prop_assert_eq!(
        edited.tree.proof(&present, &absent),
        built.proof(&present, &absent)
    );
    // The tree is the key → record map.
    let entries: Vec<(&str, Cid)> = model.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    prop_assert_eq!(edited.tree.entries(), entries);
    prop_assert_eq!(edited.tree.len(), model.len());
    for key in changes.keys() {
        prop_assert_eq!(edited.tree.get(key), model.get(key).copied());
    }
    Ok(edited.tree)
}

/// One commit: keys (by number) and their new values (by number), or `None` to remove.
type Commit = Vec<(u32, Option<u32>)>;

/// A starting key set and commits, over a universe small enough to empty
/// the tree or large enough to grow layers.
fn plans() -> impl Strategy<Value = (Vec<u32>, Vec<Commit>)> {
    prop_oneof![Just(24u32), Just(1_500u32)].prop_flat_map(|universe| {
        let start = prop::collection::vec(0..universe, 0..(universe as usize / 2));
        let change = (0..universe, prop::option::weighted(0.6, 0..4u32));
        let commits = prop::collection::vec(prop::collection::vec(change, 1..8), 1..12);
        (start, commits)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn an_edited_tree_is_the_tree_built_from_scratch((start, commits) in plans()) {
        let mut model: BTreeMap<String, Cid> =
            start.iter().map(|n| (key(*n), value(0))).collect();
        let mut tree = Tree::build(&model);
        for commit in commits {
            // Changes may insert, update (also to the same value), remove, or remove a missing key.
            let changes: BTreeMap<String, Option<Cid>> =
                commit.iter().map(|(n, v)| (key(*n), v.map(value))).collect();
            tree = check_edit(&tree, &mut model, &changes)?;
        }
    }
}

/// The first `n` from `from` whose key has a height of `at_least` or more.
fn key_of_height(at_least: u32, from: u32) -> u32 {
    (from..).find(|n| height(&key(*n)) >= at_least).unwrap()
}

#[test]
fn growing_emptying_and_lowering_the_tree_match_a_fresh_build() {
    let run = |plan: &[(u32, Option<u32>)], model: &mut BTreeMap<String, Cid>, tree: &Tree| {
        let changes = plan.iter().map(|(n, v)| (key(*n), v.map(value))).collect();
        check_edit(tree, model, &changes).unwrap()
    };
    let mut model = BTreeMap::new();
    let mut tree = Tree::build(&model);
    // From empty to a few low keys, then a key above the root, then it goes again.
    let low: Vec<u32> = (0..).filter(|n| height(&key(*n)) == 0).take(5).collect();
    let plan: Vec<_> = low.iter().map(|n| (*n, Some(1))).collect();
    tree = run(&plan, &mut model, &tree);
    assert_eq!(tree.root.layer, 0);
    let high = key_of_height(3, 0);
    tree = run(&[(high, Some(1))], &mut model, &tree);
    assert!(tree.root.layer >= 3);
    tree = run(&[(high, None)], &mut model, &tree);
    assert_eq!(tree.root.layer, 0);
    let plan: Vec<_> = low.iter().map(|n| (*n, None)).collect();
    tree = run(&plan, &mut model, &tree);
    assert!(tree.is_empty());
    assert_eq!(tree.root(), Tree::build(&BTreeMap::new()).root());
}

#[test]
fn one_write_to_a_large_tree_encodes_a_path_not_the_tree() {
    let model: BTreeMap<String, Cid> = (0..20_000).map(|n| (key(n * 2), value(0))).collect();
    let tree = Tree::build(&model);
    let depth = tree.root.layer as usize + 1;
    let all = tree.blocks().len();
    assert!(all > 4_000, "{all} nodes");
    let bound = 4 * depth + 4;
    // Inserts, updates and removals, also of keys above the bottom layer
    // (an insert splits the subtree below it, a removal merges two).
    let mut inserts: Vec<u32> = (0..5).map(|i| i * 7_918 + 1).collect();
    inserts.extend((1..5).map(|h| {
        (10_001u32..)
            .step_by(2)
            .find(|n| height(&key(*n)) == h)
            .unwrap()
    }));
    for n in inserts {
        let edited = tree.edit(&BTreeMap::from([(key(n), Some(value(1)))]));
        assert!(
            edited.encoded <= bound,
            "insert {n}: {} > {bound}",
            edited.encoded
        );
        assert_eq!(edited.tree.len(), 20_001);
    }
    let high = (1..5).map(|h| {
        (0..20_000)
            .map(|n| n * 2)
            .find(|n| height(&key(*n)) == h)
            .unwrap()
    });
    for n in [0, 9_998, 39_998].into_iter().chain(high) {
        let update = tree.edit(&BTreeMap::from([(key(n), Some(value(2)))]));
        assert!(update.encoded <= depth, "update {n}: {}", update.encoded);
        let delete = tree.edit(&BTreeMap::from([(key(n), None)]));
        assert!(
            delete.encoded <= bound,
            "delete {n}: {} > {bound}",
            delete.encoded
        );
        assert_eq!(delete.tree.len(), 19_999);
    }
}
