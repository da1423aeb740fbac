//! Durability: accounts, repositories and seqs survive `kill -9`; a subscriber resumes by cursor with no loss and no reused seq.

use serde_json::json;

use super::client::{Firehose, Pds, REPOS, Received, kind, seq, text};
use crate::support::spawn_durable;

fn post(n: u32) -> serde_json::Value {
    json!({"text": format!("post {n}"), "createdAt": "2026-01-01T00:00:00Z"})
}

#[tokio::test]
async fn a_subscriber_resumes_across_a_restart_without_loss_or_reused_seq() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_durable(dir.path(), &[]);
    let pds = Pds::new(&server.base_url);
    let alice = pds.create_account("alice.test").await;
    for n in 0..3 {
        pds.create_record(&alice, "app.bsky.feed.post", post(n))
            .await;
    }
    let mut firehose = Firehose::connect(&pds.base, REPOS, Some(0)).await;
    let before = firehose.frames(4).await;
    let cursor = seq(&before[3]);
    let last_rev_seen = text(&before[3], "rev").to_owned();
    drop(server); // SIGKILL, in the middle of the stream
    // The old connection ends (after whatever was already in flight).
    loop {
        match firehose.receive(std::time::Duration::from_secs(5)).await {
            Some(Received::Frame(_) | Received::Ping) => {}
            Some(Received::Closed) => break,
            None => panic!("the connection to the killed server did not end"),
        }
    }

    let server = spawn_durable(dir.path(), &[]);
    let pds = Pds::new(&server.base_url);
    let (status, session) = pds
        .post(
            "com.atproto.server.createSession",
            None,
            &json!({"identifier": "alice.test", "password": "secret-password"}),
        )
        .await;
    assert_eq!(status, 200, "the account survived: {session}");
    let mut alice = alice;
    alice.access = session["accessJwt"].as_str().unwrap().to_owned();
    for n in 3..5 {
        pds.create_record(&alice, "app.bsky.feed.post", post(n))
            .await;
    }
    let mut resumed = Firehose::connect(&pds.base, REPOS, Some(cursor)).await;
    let after = resumed.frames(4).await;
    let seqs: Vec<u64> = after.iter().map(seq).collect();
    assert_eq!(
        seqs,
        [5, 6, 7, 8],
        "the rest of the old frames, then the new, none reused"
    );
    assert!(after.iter().all(|f| kind(f) == "#commit"));
    assert_eq!(
        text(&after[0], "since"),
        last_rev_seen,
        "the repo's rev chain continues"
    );
    for pair in after.windows(2) {
        assert_eq!(text(&pair[1], "since"), text(&pair[0], "rev"));
    }
    let (status, head) = pds
        .get_json(&format!(
            "/xrpc/com.atproto.sync.getLatestCommit?did={}",
            alice.did
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(head["rev"], text(&after[3], "rev"));
}
