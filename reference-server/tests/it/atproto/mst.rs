//! The MST against the interop vectors: key heights, common prefixes, and commit roots and proofs.

use std::collections::{BTreeMap, BTreeSet};

use reference_server::atproto::mst::{Tree, common_prefix, height};
use wire::cid::Cid;

use super::read_json;

#[test]
fn key_heights_match_the_vectors() {
    let cases = read_json("mst/key_heights.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 9);
    for case in cases {
        let key = case["key"].as_str().unwrap();
        assert_eq!(
            u64::from(height(key)),
            case["height"].as_u64().unwrap(),
            "{key:?}"
        );
    }
}

#[test]
fn common_prefixes_match_the_vectors() {
    let cases = read_json("mst/common_prefix.json");
    for case in cases.as_array().unwrap() {
        let (left, right) = (
            case["left"].as_str().unwrap(),
            case["right"].as_str().unwrap(),
        );
        assert_eq!(
            common_prefix(left.as_bytes(), right.as_bytes()) as u64,
            case["len"].as_u64().unwrap(),
            "{left:?} {right:?}"
        );
    }
}

fn cid(text: &serde_json::Value) -> Cid {
    Cid::parse_any_base(text.as_str().unwrap()).unwrap()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn commit_roots_and_proofs_match_the_vectors() {
    let cases = read_json("firehose/commit-proof-fixtures.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["comment"].as_str().unwrap();
        let leaf = cid(&case["leafValue"]);
        let mut entries: BTreeMap<String, Cid> = strings(&case["keys"])
            .into_iter()
            .map(|k| (k, leaf))
            .collect();
        let before = Tree::build(&entries);
        assert_eq!(
            before.root(),
            cid(&case["rootBeforeCommit"]),
            "{name}: root before"
        );
        let adds = strings(&case["adds"]);
        let dels = strings(&case["dels"]);
        for key in &adds {
            entries.insert(key.clone(), leaf);
        }
        for key in &dels {
            entries.remove(key);
        }
        let after = Tree::build(&entries);
        assert_eq!(
            after.root(),
            cid(&case["rootAfterCommit"]),
            "{name}: root after"
        );
        let present: Vec<&str> = adds.iter().map(String::as_str).collect();
        let absent: Vec<&str> = dels.iter().map(String::as_str).collect();
        let proof = after.proof(&present, &absent);
        let expected: BTreeSet<Cid> = case["blocksInProof"]
            .as_array()
            .unwrap()
            .iter()
            .map(cid)
            .collect();
        let show = |set: &BTreeSet<Cid>| set.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(show(&proof), show(&expected), "{name}: proof blocks");
        // Every proof block is a node of the new tree.
        let blocks = after.blocks();
        assert!(proof.iter().all(|c| blocks.contains_key(c)), "{name}");
    }
}

#[test]
fn an_empty_tree_is_one_empty_node() {
    let tree = Tree::build(&BTreeMap::new());
    // The well-known CID of the empty MST node {e: [], l: null}.
    assert_eq!(
        tree.root().to_string(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
}
