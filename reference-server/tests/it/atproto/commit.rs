//! Commits checked the way a relay checks them, over generated write sequences: CAR, CIDs, signature, ops against the MST blocks in the slice, rev chain.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reference_server::atproto::keys::{Keypair, parse_public, verify};
use reference_server::atproto::mst::Tree;
use reference_server::atproto::repo::{Repo, Write};
use reference_server::atproto::tid::is_tid;
use wire::car::{Car, CarLimits, read_car};
use wire::cbor::{DecodeLimits, Value, decode, encode};
use wire::cid::Cid;

/// Finds `key` by walking MST nodes found in the CAR only: `Ok(None)` when
/// the tree proves it absent, `Err` when a needed block is missing.
pub(super) fn lookup(car: &Car, root: Cid, key: &str) -> Result<Option<Cid>, String> {
    let mut at = Some(root);
    while let Some(cid) = at {
        let block = car
            .get(&cid)
            .ok_or_else(|| format!("MST node {cid} is not in the slice"))?;
        let node = decode(block, &DecodeLimits::default()).map_err(|e| e.to_string())?;
        let entries = node
            .get("e")
            .and_then(Value::as_array)
            .ok_or("a node without e")?;
        let mut child = node.get("l").and_then(Value::as_link).copied();
        let mut previous: Vec<u8> = Vec::new();
        let mut next = None;
        for entry in entries {
            let p = entry
                .get("p")
                .and_then(Value::as_i64)
                .ok_or("an entry without p")? as usize;
            let suffix = entry
                .get("k")
                .and_then(Value::as_bytes)
                .ok_or("an entry without k")?;
            let mut full = previous[..p].to_vec();
            full.extend_from_slice(suffix);
            match key.as_bytes().cmp(&full) {
                std::cmp::Ordering::Equal => {
                    return Ok(entry.get("v").and_then(Value::as_link).copied());
                }
                std::cmp::Ordering::Less => {
                    next = Some(child);
                    break;
                }
                std::cmp::Ordering::Greater => {
                    child = entry.get("t").and_then(Value::as_link).copied();
                }
            }
            previous = full;
        }
        at = next.unwrap_or(child);
    }
    Ok(None)
}

#[derive(Debug, Clone)]
enum Step {
    Create(u8),
    Update(u8),
    Delete(u8),
}

fn path(n: u8) -> String {
    format!("app.bsky.feed.post/3l{n:011}")
}

fn commits() -> impl Strategy<Value = Vec<Vec<Step>>> {
    let step = prop_oneof![
        3 => (0u8..40).prop_map(Step::Create),
        1 => (0u8..40).prop_map(Step::Update),
        1 => (0u8..40).prop_map(Step::Delete),
    ];
    prop::collection::vec(prop::collection::vec(step, 1..5), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_commit_verifies_like_a_relay_checks_it(plan in commits()) {
        let key = Keypair::generate();
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let public = parse_public(&key.did_key()).unwrap();
        let mut repo = Repo::new(did);
        let mut model: BTreeMap<String, Cid> = BTreeMap::new();
        let mut last_rev: Option<String> = None;
        let mut last_data: Option<Cid> = None;
        let mut clock = 1_700_000_000_000_000u64;
        for (i, steps) in plan.iter().enumerate() {
            // Turn the plan into writes that are valid against the model.
            let mut writes = Vec::new();
            let mut touched = std::collections::BTreeSet::new();
            for step in steps {
                let (n, want) = match step { Step::Create(n) => (*n, 0), Step::Update(n) => (*n, 1), Step::Delete(n) => (*n, 2) };
                let p = path(n);
                if !touched.insert(p.clone()) { continue; }
                let exists = model.contains_key(&p);
                let record = Value::map([("text", Value::String(format!("post {n} at {i}"))), ("$type", Value::String("app.bsky.feed.post".into()))]);
                writes.push(match (want, exists) {
                    (_, false) => Write::Create { path: p, record },
                    (1, true) | (0, true) => Write::Update { path: p, record },
                    _ => Write::Delete { path: p },
                });
            }
            clock += 1; // the same microsecond twice would still give rising revs
            let applied = repo.apply(&writes, &key, clock).unwrap();

            // The CAR parses, its root is the commit, every block's CID matches its bytes.
            let car = read_car(&applied.car, &CarLimits::firehose()).unwrap();
            prop_assert_eq!(car.root(), Some(&applied.commit));
            prop_assert!(car.verify_blocks().is_empty(), "blocks whose CID does not match");
            let commit = decode(car.get(&applied.commit).unwrap(), &DecodeLimits::default()).unwrap();
            prop_assert_eq!(commit.get("did").and_then(Value::as_str), Some(did));
            prop_assert_eq!(commit.get("version").and_then(Value::as_i64), Some(3));
            prop_assert!(commit.get("prev").is_some_and(Value::is_null));
            let data = *commit.get("data").and_then(Value::as_link).unwrap();
            // The signature covers the commit without `sig`.
            let mut unsigned = commit.as_map().unwrap().clone();
            let sig = unsigned.remove("sig").unwrap();
            prop_assert!(verify(&public, &encode(&Value::Map(unsigned)), sig.as_bytes().unwrap()).is_ok());
            // rev is a TID that grows; since and prevData chain.
            let rev = commit.get("rev").and_then(Value::as_str).unwrap().to_owned();
            prop_assert!(is_tid(&rev));
            prop_assert_eq!(&rev, &applied.rev);
            prop_assert!(last_rev.as_ref().is_none_or(|l| rev > *l));
            prop_assert_eq!(&applied.since, &last_rev);
            prop_assert_eq!(applied.prev_data, last_data);
            // Every op is proven by MST nodes in the slice, and new records are in it.
            for op in &applied.ops {
                let found = lookup(&car, data, &op.path);
                prop_assert_eq!(found.clone(), Ok(op.cid), "{} {}", op.action, op.path);
                prop_assert_eq!(op.prev, model.get(&op.path).copied());
                if let Some(cid) = op.cid {
                    prop_assert!(car.get(&cid).is_some(), "record {} not in the slice", op.path);
                    model.insert(op.path.clone(), cid);
                } else {
                    model.remove(&op.path);
                }
            }
            // The new root is the canonical tree of the records; inverting gives prevData.
            prop_assert_eq!(data, Tree::build(&model).root());
            last_rev = Some(rev);
            last_data = Some(data);
        }
    }
}

#[test]
fn conflicting_writes_are_refused_and_change_nothing() {
    let key = Keypair::generate();
    let mut repo = Repo::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let record = Value::map([("text", Value::String("x".into()))]);
    let create = |p: &str| Write::Create {
        path: p.into(),
        record: record.clone(),
    };
    repo.apply(&[create("a/1")], &key, 1).unwrap();
    let data = repo.data();
    assert!(repo.apply(&[create("a/1")], &key, 2).is_err());
    assert!(
        repo.apply(&[Write::Delete { path: "a/2".into() }], &key, 2)
            .is_err()
    );
    assert!(
        repo.apply(
            &[create("a/3"), Write::Delete { path: "a/3".into() }],
            &key,
            2
        )
        .is_err()
    );
    assert_eq!(repo.data(), data);
    assert!(repo.record("a/3").is_none());
}
