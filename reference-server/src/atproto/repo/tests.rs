//! Commits through the edited tree against the slice the tree built from scratch gives: the same CAR, byte for byte.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wire::car::write_car;
use wire::cbor::{Value, encode};
use wire::cid::Cid;

use super::{Repo, Write};
use crate::atproto::keys::Keypair;
use crate::atproto::mst::Tree;

fn path(n: u16) -> String {
    format!("app.bsky.feed.post/3l{n:011}")
}

/// The CAR slice as commits made it when each one built its tree from
/// scratch: the commit, the new nodes and the proof in CID order, the records.
fn slice_from_scratch(
    before: &BTreeMap<String, Cid>,
    after: &BTreeMap<String, Cid>,
    writes: &[Write],
    commit: (Cid, &[u8]),
    proofs: bool,
) -> Vec<u8> {
    let (old, new) = (Tree::build(before).blocks(), Tree::build(after));
    let blocks = new.blocks();
    let mut nodes: Vec<Cid> = blocks
        .keys()
        .filter(|c| !old.contains_key(c))
        .copied()
        .collect();
    if proofs {
        let present: Vec<&str> = writes
            .iter()
            .filter(|w| w.record().is_some())
            .map(Write::path)
            .collect();
        let absent: Vec<&str> = writes
            .iter()
            .filter(|w| w.record().is_none())
            .map(Write::path)
            .collect();
        nodes.extend(new.proof(&present, &absent));
        nodes.sort();
        nodes.dedup();
    }
    let mut car = vec![(commit.0, commit.1.to_vec())];
    car.extend(nodes.iter().map(|c| (*c, blocks[c].clone())));
    for record in writes.iter().filter_map(Write::record) {
        let block = encode(record);
        car.push((Cid::for_dag_cbor(&block), block));
    }
    write_car(&[commit.0], &car)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_commit_publishes_the_slice_a_fresh_tree_gives(
        start in 0u16..600,
        commits in prop::collection::vec(
            (prop::collection::vec((0u16..700, 0u8..4), 1..6), any::<bool>()),
            1..10,
        ),
    ) {
        let key = Keypair::generate();
        let mut repo = Repo::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
        let mut model = BTreeMap::new();
        let record = |n: u16, i: usize| Value::map([("text", Value::String(format!("{n} at {i}")))]);
        // A repository with some records to begin with.
        let first: Vec<Write> = (0..start)
            .map(|n| Write::Create { path: path(n), record: record(n, 0) })
            .collect();
        repo.apply(&first, &key, 1).unwrap();
        for n in 0..start {
            model.insert(path(n), Cid::for_dag_cbor(&encode(&record(n, 0))));
        }
        for (i, (steps, proofs)) in commits.into_iter().enumerate() {
            let mut writes: Vec<Write> = Vec::new();
            for (n, kind) in steps {
                let p = path(n);
                if writes.iter().any(|w| w.path() == p) {
                    continue;
                }
                let record = record(n, i + 1);
                writes.push(match (kind, model.contains_key(&p)) {
                    (0, false) | (1, false) => Write::Create { path: p, record },
                    (1, true) => Write::Update { path: p, record },
                    (2, _) => Write::Put { path: p, record },
                    (_, true) => Write::Delete { path: p },
                    (_, false) => continue,
                });
            }
            if writes.is_empty() {
                continue;
            }
            let before = model.clone();
            for write in &writes {
                match write.record() {
                    Some(r) => model.insert(write.path().to_owned(), Cid::for_dag_cbor(&encode(r))),
                    None => model.remove(write.path()),
                };
            }
            let data = repo.data();
            let applied = repo.apply_with(&writes, &key, 10 + i as u64, proofs).unwrap();
            let expected = slice_from_scratch(
                &before, &model, &writes, (applied.commit, &applied.commit_block), proofs,
            );
            prop_assert!(applied.car == expected, "commit {} ({} writes)", i, writes.len());
            prop_assert_eq!(applied.prev_data, Some(data));
            let built = Tree::build(&model);
            prop_assert_eq!(repo.data(), built.root());
            prop_assert_eq!(repo.tree_blocks(), built.blocks());
            let records: Vec<(&str, Cid)> = model.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            prop_assert_eq!(repo.records().iter().collect::<Vec<_>>(), records);
            prop_assert_eq!(repo.records().len(), model.len());
        }
    }
}
