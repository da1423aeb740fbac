//! Every frame the firehose emits, checked as a strict relay checks it: CAR, first root, block CIDs, signature with the directory's key, ops against the MST, inversion to `prevData`, and the `since`/`rev` chain per repo.
//!
//! The inversion uses `wire::mst::invert`, which edits the partial tree the
//! slice holds; it shares no code with the server's canonical tree builder.

use std::collections::BTreeMap;
use std::time::Duration;

use reference_server::atproto::keys::{parse_public, verify};
use reference_server::atproto::tid::is_tid;
use serde_json::json;
use wire::car::{CarLimits, read_car};
use wire::cbor::{DecodeLimits, Value, decode, encode};
use wire::cid::Cid;
use wire::mst::{Undo, invert};

use super::client::{Firehose, Pds, REPOS, Received, Session, kind, seq};
use super::commit::lookup;
use super::firehose::server;
use super::labels::resolve_key;

/// What a relay remembers per repo.
#[derive(Debug, Clone)]
struct Head {
    rev: String,
    data: Cid,
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a Value, String> {
    body.get(name).ok_or_else(|| format!("no {name}"))
}

fn link(body: &Value, name: &str) -> Result<Cid, String> {
    field(body, name)?
        .as_link()
        .copied()
        .ok_or_else(|| format!("{name} is not a link"))
}

fn string<'a>(body: &'a Value, name: &str) -> Result<&'a str, String> {
    field(body, name)?
        .as_str()
        .ok_or_else(|| format!("{name} is not text"))
}

/// Checks the CAR of a `#commit` or `#sync` and its signed commit; returns the CAR and the commit's `data`.
fn signed_commit(body: &Value, did: &str, key: &str) -> Result<(wire::car::Car, Cid), String> {
    let Value::Bytes(bytes) = field(body, "blocks")? else {
        return Err("blocks is not bytes".into());
    };
    let car = read_car(bytes, &CarLimits::firehose()).map_err(|e| e.to_string())?;
    let bad = car.verify_blocks();
    if !bad.is_empty() {
        return Err(format!("blocks whose CID does not match: {bad:?}"));
    }
    let root = *car.root().ok_or("a CAR without roots")?;
    if body.get("commit").is_some() && link(body, "commit")? != root {
        return Err("the first root is not the commit".into());
    }
    let commit = decode(
        car.get(&root).ok_or("the commit block is missing")?,
        &DecodeLimits::default(),
    )
    .map_err(|e| e.to_string())?;
    let Value::Map(mut fields) = commit.clone() else {
        return Err("the commit is not a map".into());
    };
    if string(&commit, "did")? != did
        || field(&commit, "version")?.as_i64() != Some(3)
        || field(&commit, "prev")? != &Value::Null
        || string(&commit, "rev")? != string(body, "rev")?
    {
        return Err(format!("commit fields: {commit:?}"));
    }
    let Some(Value::Bytes(sig)) = fields.remove("sig") else {
        return Err("the commit has no sig bytes".into());
    };
    let key = parse_public(key).map_err(|e| e.to_string())?;
    verify(&key, &encode(&Value::Map(fields)), &sig).map_err(|e| e.to_string())?;
    Ok((car, link(&commit, "data")?))
}

/// Verifies one `#commit` against the repo's previous head; returns the new head.
fn verify_commit(body: &Value, key: &str, previous: Option<&Head>) -> Result<Head, String> {
    let did = string(body, "repo")?;
    let (car, data) = signed_commit(body, did, key)?;
    let rev = string(body, "rev")?.to_owned();
    if !is_tid(&rev) {
        return Err(format!("rev {rev} is not a TID"));
    }
    let previous = previous.ok_or("a #commit before the repo's #sync")?;
    if field(body, "since")?.as_str() != Some(previous.rev.as_str()) {
        return Err(format!("since is not the previous rev {}", previous.rev));
    }
    if rev <= previous.rev {
        return Err(format!("rev {rev} does not grow past {}", previous.rev));
    }
    if link(body, "prevData")? != previous.data {
        return Err("prevData is not the previous data root".into());
    }
    let ops = field(body, "ops")?.as_array().ok_or("ops is not a list")?;
    if ops.is_empty() || ops.len() > 200 {
        return Err(format!("{} ops", ops.len()));
    }
    let mut undo = Vec::new();
    for op in ops {
        let path = string(op, "path")?;
        let cid = field(op, "cid")?.as_link().copied();
        let prev = op.get("prev").and_then(Value::as_link).copied();
        let found = lookup(&car, data, path)?;
        match (string(op, "action")?, cid, prev) {
            ("create", Some(cid), None) => undo.push(Undo::Create { key: path, cid }),
            ("update", Some(cid), Some(prev)) => undo.push(Undo::Update {
                key: path,
                cid,
                prev,
            }),
            ("delete", None, Some(prev)) => undo.push(Undo::Delete { key: path, prev }),
            (action, ..) => return Err(format!("op {action} {path} has the wrong cid/prev")),
        }
        if found != cid {
            return Err(format!("{path}: the MST says {found:?}, the op {cid:?}"));
        }
        if let Some(cid) = cid
            && car.get(&cid).is_none()
        {
            return Err(format!("{path}: the record block is not in the slice"));
        }
    }
    let inverted = invert(data, &|cid| car.get(cid), &undo).map_err(|e| e.to_string())?;
    if inverted != previous.data {
        return Err(format!("inverting the ops gives {inverted}, not prevData"));
    }
    Ok(Head { rev, data })
}

/// A deterministic workload: creates, updates, deletes and batches across three repos.
pub(super) async fn workload(pds: &Pds, sessions: &[Session], writes: usize, mut state: u64) {
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut live: Vec<Vec<String>> = vec![Vec::new(); sessions.len()];
    for n in 0..writes {
        let who = (next() % sessions.len() as u64) as usize;
        let session = &sessions[who];
        let keys = &mut live[who];
        let roll = next() % 10;
        let body = |rkey: &str| json!({"text": format!("{n} {rkey}"), "createdAt": "2026-01-01T00:00:00Z"});
        let (method, input) = if keys.is_empty() || roll < 5 {
            let rkey = format!("k{}", next() % 100_000);
            keys.push(rkey.clone());
            (
                "com.atproto.repo.createRecord",
                json!({"repo": session.did, "collection": "app.bsky.feed.post", "rkey": rkey, "record": body(&rkey)}),
            )
        } else if roll < 7 {
            let rkey = keys[(next() as usize) % keys.len()].clone();
            (
                "com.atproto.repo.putRecord",
                json!({"repo": session.did, "collection": "app.bsky.feed.post", "rkey": rkey, "record": body(&rkey)}),
            )
        } else if roll < 9 {
            let rkey = keys.swap_remove((next() as usize) % keys.len());
            (
                "com.atproto.repo.deleteRecord",
                json!({"repo": session.did, "collection": "app.bsky.feed.post", "rkey": rkey}),
            )
        } else {
            let fresh: Vec<String> = (0..3).map(|_| format!("b{}", next() % 100_000)).collect();
            let mut writes: Vec<_> = fresh
                .iter()
                .map(|rkey| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "rkey": rkey, "value": body(rkey)}))
                .collect();
            let gone = keys.swap_remove((next() as usize) % keys.len());
            writes.push(json!({"$type": "com.atproto.repo.applyWrites#delete", "collection": "app.bsky.feed.post", "rkey": gone}));
            keys.extend(fresh);
            (
                "com.atproto.repo.applyWrites",
                json!({"repo": session.did, "writes": writes}),
            )
        };
        let (status, answer) = pds.post(method, Some(&session.access), &input).await;
        if status == 400
            && answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("already exists"))
        {
            // A repeated random rkey: the server refused it, as it should.
            keys.pop();
            continue;
        }
        assert_eq!(status, 200, "{method} {input}: {answer}");
    }
}

#[tokio::test]
async fn every_emitted_commit_passes_a_strict_relay() {
    for seed in [
        0x9e37_79b9_7f4a_7c15_u64,
        0x2545_f491_4f6c_dd1d,
        0x1234_5678_9abc_def1,
    ] {
        let server = server(|_| {}).await;
        let pds = Pds::new(&server.base_url());
        let mut sessions = Vec::new();
        for handle in ["alice.test", "bob.test", "carol.test"] {
            sessions.push(pds.create_account(handle).await);
        }
        workload(&pds, &sessions, 120, seed).await;
        let mut relay = Firehose::connect(&pds.base, REPOS, Some(0)).await;
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        let mut heads: BTreeMap<String, Head> = BTreeMap::new();
        let mut last_seq = 0;
        let mut commits = 0;
        // Everything was written before the relay connects: it reads until the stream is quiet.
        while let Some(Received::Frame(frame)) = relay.receive(Duration::from_millis(300)).await {
            let s = seq(&frame);
            assert!(s > last_seq, "seq {s} after {last_seq}");
            last_seq = s;
            let did = frame
                .body
                .get("repo")
                .or_else(|| frame.body.get("did"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            if !keys.contains_key(&did) {
                keys.insert(did.clone(), resolve_key(&pds, &did, "atproto").await);
            }
            let key = &keys[&did];
            match kind(&frame) {
                "#sync" => {
                    let (_, data) = signed_commit(&frame.body, &did, key)
                        .unwrap_or_else(|e| panic!("seq {s} #sync: {e}"));
                    let rev = frame
                        .body
                        .get("rev")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned();
                    heads.insert(did, Head { rev, data });
                }
                "#commit" => {
                    let head = verify_commit(&frame.body, key, heads.get(&did))
                        .unwrap_or_else(|e| panic!("seq {s} #commit of {did}: {e}"));
                    heads.insert(did, head);
                    commits += 1;
                }
                "#identity" | "#account" => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert!(commits >= 100, "{commits} commits checked");
        for session in &sessions {
            let (_, latest) = pds
                .get_json(&format!(
                    "/xrpc/com.atproto.sync.getLatestCommit?did={}",
                    session.did
                ))
                .await;
            assert_eq!(
                latest["rev"],
                heads[&session.did].rev.as_str(),
                "the relay's head is the repo's"
            );
        }
    }
}
