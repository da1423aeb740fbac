//! XRPC over HTTP: accounts, sessions, record writes, `getLatestCommit`, `getRepo`, and the errors clients rely on.

use serde_json::json;
use wire::car::{CarLimits, read_car};
use wire::cbor::{DecodeLimits, Value, decode};

use super::client::{Pds, Session};
use super::firehose::server;

const POST: &str = "app.bsky.feed.post";

fn post(text: &str) -> serde_json::Value {
    json!({"$type": POST, "text": text, "createdAt": "2026-01-01T00:00:00Z"})
}

#[tokio::test]
async fn sessions_give_tokens_that_write_only_to_their_own_repo() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let bob = pds.create_account("bob.test").await;
    for identifier in ["alice.test", alice.did.as_str(), "alice.test@example.com"] {
        let (status, body) = pds
            .post(
                "com.atproto.server.createSession",
                None,
                &json!({"identifier": identifier, "password": "secret-password"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["did"], alice.did.as_str());
        assert_eq!(body["active"], true);
    }
    let (status, body) = pds
        .post(
            "com.atproto.server.createSession",
            None,
            &json!({"identifier": "alice.test", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("AuthenticationRequired"))
    );
    let write = |token: Option<&str>, repo: &str| {
        let body = json!({"repo": repo, "collection": POST, "record": post("x")});
        let pds = pds.clone();
        let token = token.map(str::to_owned);
        async move {
            pds.post("com.atproto.repo.createRecord", token.as_deref(), &body)
                .await
        }
    };
    let (status, body) = write(None, &alice.did).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("AuthenticationRequired"))
    );
    let (status, body) = write(Some("not.a.token"), &alice.did).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("InvalidToken"))
    );
    let (status, _) = write(Some(&bob.access), &alice.did).await;
    assert_eq!(status, 401, "bob cannot write to alice's repo");
    let (status, body) = write(Some(&alice.access), "alice.test").await;
    assert_eq!(status, 200, "a handle names the repo too: {body}");
    let (status, body) = pds
        .post(
            "com.atproto.server.createAccount",
            None,
            &json!({"handle": "alice.test", "password": "p"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("HandleNotAvailable"))
    );
    let (status, body) = pds
        .post(
            "com.atproto.server.createAccount",
            None,
            &json!({"handle": "no_underscores", "password": "p"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("InvalidHandle"))
    );
}

async fn latest(pds: &Pds, session: &Session) -> serde_json::Value {
    let (status, body) = pds
        .get_json(&format!(
            "/xrpc/com.atproto.sync.getLatestCommit?did={}",
            session.did
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn put_delete_and_apply_writes_change_the_repo_and_get_repo_exports_it() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let token = Some(alice.access.as_str());
    let created = pds.create_record(&alice, POST, post("one")).await;
    assert_eq!(latest(&pds, &alice).await, created["commit"]);
    let rkey = created["uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let (status, put) = pds
        .post(
            "com.atproto.repo.putRecord",
            token,
            &json!({"repo": alice.did, "collection": POST, "rkey": rkey, "record": post("two")}),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    assert_ne!(put["cid"], created["cid"]);
    let (status, record) = pds
        .get_json(&format!(
            "/xrpc/com.atproto.repo.getRecord?repo={}&collection={POST}&rkey={rkey}",
            alice.did
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(record["value"]["text"], "two");
    assert_eq!(record["cid"], put["cid"]);

    let (status, applied) = pds
        .post(
            "com.atproto.repo.applyWrites",
            token,
            &json!({"repo": alice.did, "writes": [
                {"$type": "com.atproto.repo.applyWrites#create", "collection": POST, "rkey": "a", "value": post("a")},
                {"$type": "com.atproto.repo.applyWrites#create", "collection": POST, "rkey": "b", "value": post("b")},
                {"$type": "com.atproto.repo.applyWrites#delete", "collection": POST, "rkey": rkey},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    let kinds: Vec<&str> = applied["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["$type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "com.atproto.repo.applyWrites#createResult",
            "com.atproto.repo.applyWrites#createResult",
            "com.atproto.repo.applyWrites#deleteResult",
        ]
    );
    let (status, deleted) = pds
        .post(
            "com.atproto.repo.deleteRecord",
            token,
            &json!({"repo": alice.did, "collection": POST, "rkey": "b"}),
        )
        .await;
    assert_eq!(status, 200);
    let head = latest(&pds, &alice).await;
    assert_eq!(head, deleted["commit"]);
    let (status, nothing) = pds
        .post(
            "com.atproto.repo.deleteRecord",
            token,
            &json!({"repo": alice.did, "collection": POST, "rkey": "b"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), nothing),
        (200, json!({})),
        "deleting a missing record is a no-op"
    );
    assert_eq!(latest(&pds, &alice).await, head, "and makes no commit");

    let response = pds
        .get(&format!("/xrpc/com.atproto.sync.getRepo?did={}", alice.did))
        .await;
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.ipld.car"
    );
    let car = read_car(&response.bytes().await.unwrap(), &CarLimits::default()).unwrap();
    assert_eq!(
        car.root().map(ToString::to_string).as_deref(),
        head["cid"].as_str()
    );
    assert!(
        car.verify_blocks().is_empty(),
        "every block matches its CID"
    );
    let texts: Vec<String> = car
        .blocks
        .iter()
        .filter_map(|(_, b)| decode(b, &DecodeLimits::default()).ok())
        .filter_map(|v| v.get("text").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert_eq!(texts, ["a"], "only the one live record is exported");
}

#[tokio::test]
async fn bad_writes_get_xrpc_errors_and_change_nothing() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let token = Some(alice.access.as_str());
    let before = latest(&pds, &alice).await;
    let too_many: Vec<_> = (0..201)
        .map(|n| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": POST, "rkey": format!("k{n}"), "value": post("x")}))
        .collect();
    let cases = [
        (
            "com.atproto.repo.createRecord",
            json!({"repo": alice.did, "collection": "not-an-nsid", "record": post("x")}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.createRecord",
            json!({"repo": alice.did, "collection": POST, "rkey": "..", "record": post("x")}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.createRecord",
            json!({"repo": alice.did, "collection": POST, "record": {"$type": "app.other.thing", "a": 1}}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.createRecord",
            json!({"repo": alice.did, "collection": POST, "record": {"n": 1.5}}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.createRecord",
            json!({"repo": alice.did, "collection": POST, "record": post("x"), "swapCommit": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}),
            "InvalidSwap",
        ),
        (
            "com.atproto.repo.putRecord",
            json!({"repo": alice.did, "collection": POST, "record": post("x")}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.applyWrites",
            json!({"repo": alice.did, "writes": too_many}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.applyWrites",
            json!({"repo": alice.did, "writes": [{"$type": "com.atproto.repo.applyWrites#update", "collection": POST, "rkey": "nope", "value": post("x")}]}),
            "InvalidRequest",
        ),
        (
            "com.atproto.repo.createRecord",
            json!({"repo": "nobody.test", "collection": POST, "record": post("x")}),
            "InvalidRequest",
        ),
    ];
    for (method, body, error) in cases {
        let (status, answer) = pds.post(method, token, &body).await;
        assert_eq!(
            (status.as_u16(), answer["error"].as_str()),
            (400, Some(error)),
            "{method} {body}: {answer}"
        );
        assert!(answer["message"].is_string());
    }
    assert_eq!(latest(&pds, &alice).await, before, "no commit was made");
    let (status, answer) = pds
        .get_json("/xrpc/com.atproto.sync.getLatestCommit?did=did:plc:nobody")
        .await;
    assert_eq!(
        (status.as_u16(), answer["error"].as_str()),
        (400, Some("RepoNotFound"))
    );
    let (status, answer) = pds.get_json("/xrpc/com.example.nothing.here").await;
    assert_eq!(
        (status.as_u16(), answer["error"].as_str()),
        (501, Some("MethodNotImplemented"))
    );
}

#[tokio::test]
async fn a_commit_over_the_frame_limit_is_refused() {
    let server = server(|_| {}).await;
    let pds = Pds::new(&server.base_url());
    let alice = pds.create_account("alice.test").await;
    let before = latest(&pds, &alice).await;
    let (status, answer) = pds
        .post(
            "com.atproto.repo.createRecord",
            Some(&alice.access),
            &json!({"repo": alice.did, "collection": POST, "record": post(&"x".repeat(2_000_001))}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), answer["error"].as_str()),
        (400, Some("InvalidRequest")),
        "{answer}"
    );
    assert!(
        answer["message"].as_str().unwrap().contains("2000000"),
        "{answer}"
    );
    assert_eq!(latest(&pds, &alice).await, before);
}
