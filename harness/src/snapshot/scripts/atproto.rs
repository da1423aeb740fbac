//! The AT Protocol snapshot script (seed 002): XRPC answers and errors, and both firehoses.
//!
//! The script makes its own account through `createAccount` and writes
//! through the repo methods, so it runs against any PDS with an open
//! `createAccount`; only the label stream needs the control API. Records
//! are fixed (text and `createdAt`) under fixed record keys, so the MST,
//! the record CIDs and the CAR slices are the same on every run.
//!
//! Exchanges, in order:
//!
//! 1. `describe-server`: `com.atproto.server.describeServer`.
//! 2. `create-account`: `createAccount` for `<run>.test`: the session and the DID document.
//! 3. `error-handle-taken`: `createAccount` with the same handle again.
//! 4. `create-record`: `createRecord` of `alpha`: a commit with one create.
//! 5. `put-record`: `putRecord` of `alpha` with other text: an update.
//! 6. `apply-writes`: `applyWrites` creating `beta` and `delta` and deleting `alpha`.
//! 7. `delete-record`: `deleteRecord` of `gamma`, which a setup `putRecord` created.
//! 8. `get-record`: `getRecord` of `beta`.
//! 9. `get-latest-commit`: `com.atproto.sync.getLatestCommit` of the account.
//! 10. `error-no-auth`, 11. `error-bad-token`: `createRecord` without and with a bad token.
//! 12. `error-wrong-type`: a record whose `$type` is not its collection.
//! 13. `error-record-exists`: `createRecord` of `beta` again.
//! 14. `error-record-not-found`: `getRecord` of the deleted `alpha`.
//! 15. `error-repo-not-found`, 16. `error-missing-param`: `getLatestCommit` of an unknown DID, and without one.
//! 17. `error-unknown-method`: an XRPC method no lexicon defines.
//! 18. `error-bad-cursor`: `subscribeRepos?cursor=abc` as plain HTTP.
//! 19. `firehose-replay`: `subscribeRepos` from the seq before the account's first frame:
//!     `#identity`, `#account`, `#sync`, then the five `#commit`s.
//! 20. `firehose-resume`: from the seq before the last frame: the last `#commit` alone.
//! 21. `firehose-future-cursor`: a cursor beyond the newest seq: `FutureCursor`, then the close.
//! 22. `labels`: `subscribeLabels` from before a label made through the control API
//!     (reference servers only).
//!
//! `#info OutdatedCursor` is left out: reaching it takes more writes than
//! the replay window holds (256 frames embedded, 100,000 by default). On a
//! shared target, another repository's frames between the script's first
//! and last ones show in the replay, and the snapshot is then not stable.

mod firehose;

use serde_json::{Value, json};

use self::firehose::{Seen, connect, ours};
use super::Context;
use crate::client::atproto::{self, COLLECTION, record};
use crate::snapshot::exchange::{Framing, Request, ScriptError, Session};
use crate::snapshot::normalise::{Kind, Rules};

/// The fields that vary. DIDs, CIDs and times are found by shape.
pub const RULES: Rules = &[
    ("seq", Kind::Counter("seq")),
    // A subscription's cursor is a seq: the frames' seqs count from it.
    ("cursor", Kind::Counter("seq")),
    ("rev", Kind::Opaque("rev")),
    ("since", Kind::Opaque("rev")),
    ("sig", Kind::Opaque("sig")),
    ("publicKeyMultibase", Kind::Opaque("key")),
    // The PDS endpoint in DID documents is the target's URL, port included.
    ("serviceEndpoint", Kind::Opaque("endpoint")),
];

/// `com.atproto.sync.getLatestCommit`, asked of the account and in two errors.
const LATEST_COMMIT: &str = "/xrpc/com.atproto.sync.getLatestCommit";

/// Runs the script: the exchanges listed at the top of the module, in that order.
pub async fn run(session: &mut Session, ctx: &Context) -> Result<(), ScriptError> {
    session
        .exchange(
            "describe-server",
            "describeServer: the server's DID, user domains and sign-up rules.",
            Request::get("/xrpc/com.atproto.server.describeServer"),
            Framing::Whole,
        )
        .await?;

    // A live subscription opened before the account exists sees the
    // account's first frame, so the script learns its seq on any target.
    let repos = atproto::xrpc(atproto::SUBSCRIBE_REPOS);
    let mut watch = connect(&session.base, &repos).await?;
    let account = create_account(session).await?;
    let last_rev = write_records(session, &account).await?;
    let beta_cid = read_records(session, &account).await?;
    let seen = ours(&mut watch, &account.did, &last_rev).await?;
    let _ = watch.close(None).await;

    refuse_errors(session, &account, &repos).await?;
    replay_firehose(session, &repos, &seen).await?;
    // Labels are made by a labeler, which only the reference server's control API drives.
    if ctx.target.is_reference() {
        labels(session, ctx, &account.did, beta_cid).await?;
    }
    Ok(())
}

/// The account the script made, and what its requests need of it.
struct Account {
    did: String,
    /// The access token of the account's session.
    access: String,
}

impl Account {
    /// `POST` of the repo method `method` (`createRecord`, ...) as the account.
    fn write(&self, method: &str, body: Value) -> Request {
        xrpc(&format!("com.atproto.repo.{method}"), body).bearer(&self.access)
    }

    /// The body naming the record `rkey` of the account's collection, with
    /// a record of `text` when there is one (a delete has none).
    fn at(&self, rkey: &str, text: Option<&str>) -> Value {
        let mut body = json!({"repo": self.did, "collection": COLLECTION, "rkey": rkey});
        if let Some(text) = text {
            body["record"] = record(text);
        }
        body
    }

    /// `getRecord` of the account's collection, waiting for its `rkey` parameter.
    fn records(&self) -> String {
        format!(
            "/xrpc/com.atproto.repo.getRecord?repo={}&collection={COLLECTION}",
            self.did
        )
    }
}

/// `create-account` and `error-handle-taken`: the script's own account, then
/// the same handle again.
async fn create_account(session: &mut Session) -> Result<Account, ScriptError> {
    let tag = session.tag.clone();
    let account = atproto::account(&tag, &format!("pw-{tag}"));
    let created = session
        .exchange(
            "create-account",
            "createAccount with a handle, an e-mail and a password: the session and the DID document.",
            xrpc(atproto::CREATE_ACCOUNT, account.clone()),
            Framing::Whole,
        )
        .await?;
    let answer = created
        .json()
        .filter(|_| created.status == 200)
        .ok_or_else(|| {
            let body = String::from_utf8_lossy(&created.body);
            ScriptError(format!(
                "createAccount answered {} {body}: the script needs it open (invites off)",
                created.status
            ))
        })?;
    let did = answer["did"].as_str().unwrap_or_default().to_owned();
    let access = answer["accessJwt"].as_str().unwrap_or_default().to_owned();
    session
        .exchange(
            "error-handle-taken",
            "createAccount with the handle just taken.",
            xrpc(atproto::CREATE_ACCOUNT, account),
            Framing::Whole,
        )
        .await?;
    Ok(Account { did, access })
}

/// `create-record`, `put-record`, `apply-writes` and `delete-record`: one
/// commit of each kind. Returns the rev of the last commit, the delete's,
/// which is the script's last frame on the firehose.
async fn write_records(session: &mut Session, account: &Account) -> Result<String, ScriptError> {
    let op = |kind: &str, rkey: &str| {
        let mut op = json!({"$type": format!("com.atproto.repo.applyWrites#{kind}"), "collection": COLLECTION, "rkey": rkey});
        if kind != "delete" {
            op["value"] = record(rkey);
        }
        op
    };
    let ops = [
        op("create", "beta"),
        op("create", "delta"),
        op("delete", "alpha"),
    ];
    let writes = [
        (
            "create-record",
            "createRecord of alpha under its own rkey: a commit with one create.",
            account.write("createRecord", account.at("alpha", Some("first text"))),
        ),
        (
            "put-record",
            "putRecord of alpha with other text: a commit with one update.",
            account.write("putRecord", account.at("alpha", Some("second text"))),
        ),
        (
            "apply-writes",
            "applyWrites creating beta and delta and deleting alpha: one commit, three ops.",
            account.write("applyWrites", json!({"repo": account.did, "writes": ops})),
        ),
    ];
    for (name, about, request) in writes {
        session
            .exchange(name, about, request, Framing::Whole)
            .await?;
    }
    // gamma is the one key at MST height 1: its create puts a new root
    // above the unchanged leaf of beta and delta, and its delete brings that
    // leaf back, so both commits carry a node only the proof asks for.
    session
        .setup_json(account.write("putRecord", account.at("gamma", Some("gamma"))))
        .await?;
    let deleted = session
        .exchange(
            "delete-record",
            "deleteRecord of gamma, the one key above the leaf: the tree shrinks back to it.",
            account.write("deleteRecord", account.at("gamma", None)),
            Framing::Whole,
        )
        .await?;
    Ok(deleted.json().unwrap_or_default()["commit"]["rev"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// `get-record` and `get-latest-commit`. Returns beta's CID, which the label
/// on beta names.
async fn read_records(session: &mut Session, account: &Account) -> Result<Value, ScriptError> {
    let beta = session
        .exchange(
            "get-record",
            "getRecord of beta: its URI, CID and value.",
            Request::get(format!("{}&rkey=beta", account.records())),
            Framing::Whole,
        )
        .await?;
    let beta_cid = beta.json().unwrap_or_default()["cid"].clone();
    session
        .exchange(
            "get-latest-commit",
            "getLatestCommit of the account: the commit of the delete.",
            Request::get(format!("{LATEST_COMMIT}?did={}", account.did)),
            Framing::Whole,
        )
        .await?;
    Ok(beta_cid)
}

/// The `error-*` exchanges after the writes: auth, record, repo and XRPC
/// errors, and a cursor refused before any upgrade.
async fn refuse_errors(
    session: &mut Session,
    account: &Account,
    repos: &str,
) -> Result<(), ScriptError> {
    let mut wrong = account.at("epsilon", Some("epsilon"));
    wrong["record"]["$type"] = json!("com.example.harness.other");
    let epsilon = xrpc(
        "com.atproto.repo.createRecord",
        account.at("epsilon", Some("epsilon")),
    );
    let errors = [
        (
            "error-no-auth",
            "createRecord without an Authorization header.",
            epsilon.clone(),
        ),
        (
            "error-bad-token",
            "createRecord with a bearer token that is not one.",
            epsilon.bearer("not-a-token"),
        ),
        (
            "error-wrong-type",
            "createRecord of a record whose $type is another collection.",
            account.write("createRecord", wrong),
        ),
        (
            "error-record-exists",
            "createRecord of beta, which exists.",
            account.write("createRecord", account.at("beta", Some("beta"))),
        ),
        (
            "error-record-not-found",
            "getRecord of alpha, which applyWrites deleted.",
            Request::get(format!("{}&rkey=alpha", account.records())),
        ),
        (
            "error-repo-not-found",
            "getLatestCommit of a DID the server does not host.",
            Request::get(format!(
                "{LATEST_COMMIT}?did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
            )),
        ),
        (
            "error-missing-param",
            "getLatestCommit without its did parameter.",
            Request::get(LATEST_COMMIT),
        ),
        (
            "error-unknown-method",
            "An XRPC method no lexicon defines.",
            Request::get("/xrpc/com.example.harness.nothing"),
        ),
        (
            "error-bad-cursor",
            "subscribeRepos with a cursor that is not an integer, as plain HTTP: refused before any upgrade.",
            Request::get(format!("{repos}?cursor=abc")),
        ),
    ];
    for (name, about, request) in errors {
        session
            .exchange(name, about, request, Framing::Whole)
            .await?;
    }
    Ok(())
}

/// `firehose-replay`, `firehose-resume` and `firehose-future-cursor`:
/// `subscribeRepos` from cursors placed around the script's own frames.
async fn replay_firehose(
    session: &mut Session,
    repos: &str,
    seen: &Seen,
) -> Result<(), ScriptError> {
    session
        .websocket(
            "firehose-replay",
            "subscribeRepos from the seq before the account's first frame, for as many frames as the script made.",
            &format!("{repos}?cursor={}", seen.first.saturating_sub(1)),
            seen.count,
        )
        .await?;
    session
        .websocket(
            "firehose-resume",
            "subscribeRepos from the seq before the last frame: only the frames after the cursor, so the last one.",
            &format!("{repos}?cursor={}", seen.last.saturating_sub(1)),
            1,
        )
        .await?;
    session
        .websocket(
            "firehose-future-cursor",
            "subscribeRepos with a cursor far beyond the newest seq: an error frame, then the close.",
            &format!("{repos}?cursor={}", seen.last + 1_000_000),
            2,
        )
        .await?;
    Ok(())
}

/// `labels`: a label on beta made through the control API, then
/// `subscribeLabels` from the seq before it.
async fn labels(
    session: &mut Session,
    ctx: &Context,
    did: &str,
    beta_cid: Value,
) -> Result<(), ScriptError> {
    let label =
        json!({"uri": format!("at://{did}/{COLLECTION}/beta"), "cid": beta_cid, "val": "snapshot"});
    let made = session
        .setup_json(
            Request::post("/_control/atproto/labels", label).bearer(ctx.target.control_token()),
        )
        .await?;
    let seq = made["seq"].as_u64().unwrap_or_default();
    session
        .websocket(
            "labels",
            "subscribeLabels from the seq before a label on beta: one #labels frame with the signed label.",
            &format!("/xrpc/com.atproto.label.subscribeLabels?cursor={}", seq.saturating_sub(1)),
            1,
        )
        .await?;
    Ok(())
}

/// `POST /xrpc/{method}` with a JSON body.
fn xrpc(method: &str, body: Value) -> Request {
    Request::post(atproto::xrpc(method), body)
}
