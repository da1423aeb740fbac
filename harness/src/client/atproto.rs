//! The AT Protocol (seed 002): account creation, the records the harness writes, and the firehose's URL and cursor.

use std::fmt::Display;

use serde_json::{Value, json};

/// The collection every part of the harness writes to. Not
/// `app.bsky.feed.post`: a PDS validates records of the lexicons it knows,
/// and that one requires TID record keys, while the harness names its own
/// (`p0`, `ld-7`); a collection no lexicon describes takes any valid key.
pub const COLLECTION: &str = "com.example.harness.record";
/// Every record's `createdAt`: fixed, so that record CIDs are too.
pub const CREATED_AT: &str = "2026-01-01T00:00:00.000Z";

pub const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";
pub const CREATE_RECORD: &str = "com.atproto.repo.createRecord";
pub const SUBSCRIBE_REPOS: &str = "com.atproto.sync.subscribeRepos";

/// The path of an XRPC method.
pub fn xrpc(method: &str) -> String {
    format!("/xrpc/{method}")
}

/// A `createAccount` body for the handle `{name}.test`, with the e-mail `{name}@example.com`.
pub fn account(name: &str, password: &str) -> Value {
    json!({"handle": format!("{name}.test"), "email": format!("{name}@example.com"), "password": password})
}

/// An account the harness made: its DID and access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub did: String,
    pub access: String,
}

impl Session {
    /// The session a `createAccount` answer carries: a `200` with `did` and `accessJwt`.
    pub fn from_answer(status: u16, answer: &Value) -> Result<Session, String> {
        match (status, answer["did"].as_str(), answer["accessJwt"].as_str()) {
            (200, Some(did), Some(access)) => Ok(Session {
                did: did.to_owned(),
                access: access.to_owned(),
            }),
            _ => Err(format!(
                "createAccount answered {status} {answer}: the harness needs an open createAccount (invites off)"
            )),
        }
    }
}

/// A record of [`COLLECTION`] with `text`.
pub fn record(text: &str) -> Value {
    json!({"$type": COLLECTION, "text": text, "createdAt": CREATED_AT})
}

/// A `createRecord` body: `record` in `did`'s repo, under `rkey` when given.
pub fn create_record(did: &str, rkey: Option<&str>, record: Value) -> Value {
    let mut body = json!({"repo": did, "collection": COLLECTION});
    if let Some(rkey) = rkey {
        body["rkey"] = json!(rkey);
    }
    body["record"] = record;
    body
}

/// The WebSocket URL of the subscription `method` on `base`, from `cursor` when given.
pub fn subscription_url(base: &str, method: &str, cursor: Option<impl Display>) -> String {
    let query = cursor.map_or_else(String::new, |seq| format!("?cursor={seq}"));
    super::ws_url(&format!(
        "{}{}{query}",
        base.trim_end_matches('/'),
        xrpc(method)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_needs_a_200_with_did_and_token() {
        let answer = json!({"did": "did:plc:x", "accessJwt": "jwt"});
        assert_eq!(
            Session::from_answer(200, &answer),
            Ok(Session {
                did: "did:plc:x".into(),
                access: "jwt".into()
            })
        );
        let refused = Session::from_answer(400, &json!({"error": "InvalidInviteCode"}));
        assert!(refused.unwrap_err().contains("400"));
        assert!(Session::from_answer(400, &answer).is_err());
    }

    #[test]
    fn the_firehose_url_carries_the_cursor() {
        assert_eq!(
            subscription_url("http://h:1/", SUBSCRIBE_REPOS, Some(7)),
            "ws://h:1/xrpc/com.atproto.sync.subscribeRepos?cursor=7"
        );
        assert_eq!(
            subscription_url("https://h", SUBSCRIBE_REPOS, None::<u64>),
            "wss://h/xrpc/com.atproto.sync.subscribeRepos"
        );
    }
}
