//! Event sources: tokens that name a source and the moment it was made, cursors that name a place in its log, and set membership.
//!
//! A token is `base64url(claims).base64url(mac)`; the MAC covers the claims
//! and the database's secret, so a forged token and a token used with
//! another database's key both fail the check. A cursor is made the same
//! way and binds to its database and collection. Both are opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::db::{Change, Document, Version};
use super::fql::SourceSpec;
use crate::store::Position;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub db: String,
    pub source: StoredSpec,
    /// The `txn_ts` at which the token was made.
    pub ts: u64,
    /// The collection log's head when the token was made.
    pub at: Position,
}

/// [`SourceSpec`] as a token stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoredSpec {
    All {
        c: String,
    },
    Where {
        c: String,
        path: Vec<String>,
        value: Value,
    },
    Doc {
        c: String,
        id: String,
    },
}

impl From<SourceSpec> for StoredSpec {
    fn from(spec: SourceSpec) -> Self {
        match spec {
            SourceSpec::All { collection } => StoredSpec::All { c: collection },
            SourceSpec::Where {
                collection,
                path,
                value,
            } => StoredSpec::Where {
                c: collection,
                path,
                value,
            },
            SourceSpec::Document { collection, id } => StoredSpec::Doc { c: collection, id },
        }
    }
}

impl StoredSpec {
    pub fn collection(&self) -> &str {
        match self {
            StoredSpec::All { c } | StoredSpec::Where { c, .. } | StoredSpec::Doc { c, .. } => c,
        }
    }

    /// Whether a document (id and version) belongs to the set.
    pub fn contains(&self, id: &str, version: &Version) -> bool {
        match self {
            StoredSpec::All { .. } => true,
            StoredSpec::Doc { id: wanted, .. } => id == wanted,
            StoredSpec::Where { path, value, .. } => {
                let mut at = version.data.get(path.first().map_or("", String::as_str));
                for key in path.iter().skip(1) {
                    at = at.and_then(|v| v.get(key));
                }
                at.is_some_and(|found| equal(found, value))
            }
        }
    }
}

/// FQL equality: numbers by value, everything else structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// The kind of event a change is for one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Remove,
    Update,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Remove => "remove",
            Kind::Update => "update",
        }
    }
}

/// What a change means to the set: entering (`add`), changing inside
/// (`update`), leaving (`remove`, with the document as it is after the change,
/// or as it was when deleted), or nothing.
pub fn classify(spec: &StoredSpec, change: &Change) -> Option<(Kind, Version)> {
    let was = change
        .before
        .as_ref()
        .is_some_and(|v| spec.contains(&change.id, v));
    let is = change
        .after
        .as_ref()
        .is_some_and(|v| spec.contains(&change.id, v));
    match (was, is, &change.after, &change.before) {
        (false, true, Some(after), _) => Some((Kind::Add, after.clone())),
        (true, true, Some(after), _) => Some((Kind::Update, after.clone())),
        (true, false, Some(after), _) => Some((Kind::Remove, after.clone())),
        (true, false, None, Some(before)) => Some((Kind::Remove, before.clone())),
        _ => None,
    }
}

/// The document an event carries.
pub fn event_document(spec: &StoredSpec, id: &str, version: Version) -> Document {
    Document {
        collection: spec.collection().to_owned(),
        id: id.to_owned(),
        version,
    }
}

/// Signs and checks tokens and cursors with the server's secret.
#[derive(Debug, Clone)]
pub struct Signer {
    secret: [u8; 32],
}

/// Why a token or cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    /// The MAC does not match: forged, or made for another database.
    WrongSignature,
}

/// Where a cursor points: after this log position, whose change had this `txn_ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub p: Position,
    pub t: u64,
}

impl Signer {
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    fn seal(&self, body: &[u8], binding: &[&[u8]]) -> String {
        let mut parts = vec![body];
        parts.extend_from_slice(binding);
        let mac = self.mac(&parts);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(&mac[..18])
        )
    }

    fn open(&self, text: &str, binding: &[&[u8]]) -> Result<Vec<u8>, Refusal> {
        let (body, mac) = text.split_once('.').ok_or(Refusal::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Refusal::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| Refusal::Malformed)?;
        let mut parts = vec![body.as_slice()];
        parts.extend_from_slice(binding);
        if mac != self.mac(&parts)[..18] {
            return Err(Refusal::WrongSignature);
        }
        Ok(body)
    }

    /// A token for `claims`, bound to the database's secret.
    pub fn token(&self, claims: &Claims, db_secret: &str) -> String {
        let body = serde_json::to_vec(claims).unwrap_or_default();
        self.seal(&body, &[b"token", db_secret.as_bytes()])
    }

    pub fn check_token(&self, token: &str, db_secret: &str) -> Result<Claims, Refusal> {
        let body = self.open(token, &[b"token", db_secret.as_bytes()])?;
        serde_json::from_slice(&body).map_err(|_| Refusal::Malformed)
    }

    /// A cursor in the log of `db`'s `collection`.
    pub fn cursor(&self, db: &str, collection: &str, cursor: Cursor) -> String {
        let body = serde_json::to_vec(&cursor).unwrap_or_default();
        self.seal(&body, &[b"cursor", db.as_bytes(), collection.as_bytes()])
    }

    pub fn check_cursor(&self, text: &str, db: &str, collection: &str) -> Result<Cursor, Refusal> {
        let body = self.open(text, &[b"cursor", db.as_bytes(), collection.as_bytes()])?;
        serde_json::from_slice(&body).map_err(|_| Refusal::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn version(data: Value) -> Version {
        Version {
            ts: 1,
            data: data.as_object().unwrap().clone(),
        }
    }

    fn change(before: Option<Value>, after: Option<Value>) -> Change {
        Change {
            id: "1".into(),
            before: before.map(version),
            after: after.map(version),
        }
    }

    #[test]
    fn set_membership_gives_add_update_remove() {
        let spec = StoredSpec::Where {
            c: "P".into(),
            path: vec!["k".into()],
            value: json!("in"),
        };
        let kind = |before, after| classify(&spec, &change(before, after)).map(|(k, _)| k);
        assert_eq!(kind(None, Some(json!({"k": "in"}))), Some(Kind::Add));
        assert_eq!(kind(None, Some(json!({"k": "out"}))), None);
        assert_eq!(
            kind(Some(json!({"k": "out"})), Some(json!({"k": "in"}))),
            Some(Kind::Add)
        );
        assert_eq!(
            kind(Some(json!({"k": "in"})), Some(json!({"k": "in", "x": 1}))),
            Some(Kind::Update)
        );
        assert_eq!(
            kind(Some(json!({"k": "in"})), Some(json!({"k": "out"}))),
            Some(Kind::Remove)
        );
        assert_eq!(kind(Some(json!({"k": "in"})), None), Some(Kind::Remove));
        assert_eq!(kind(Some(json!({"k": "out"})), None), None);
        let (_, data) = classify(&spec, &change(Some(json!({"k": "in"})), None)).unwrap();
        assert_eq!(
            data.data["k"], "in",
            "a deleted document is removed as it was"
        );
    }

    #[test]
    fn where_compares_numbers_by_value_and_follows_paths() {
        let spec = StoredSpec::Where {
            c: "P".into(),
            path: vec!["a".into(), "b".into()],
            value: json!(2),
        };
        assert!(spec.contains("1", &version(json!({"a": {"b": 2.0}}))));
        assert!(!spec.contains("1", &version(json!({"a": {"b": "2"}}))));
        assert!(!spec.contains("1", &version(json!({"a": 2}))));
    }

    #[test]
    fn tokens_and_cursors_bind_to_their_database() {
        let signer = Signer::new([7; 32]);
        let claims = Claims {
            db: "main".into(),
            source: StoredSpec::All { c: "P".into() },
            ts: 5,
            at: 3,
        };
        let token = signer.token(&claims, "secret_a");
        assert_eq!(signer.check_token(&token, "secret_a"), Ok(claims));
        assert_eq!(
            signer.check_token(&token, "secret_b"),
            Err(Refusal::WrongSignature)
        );
        let mut forged = token.clone();
        forged.insert(3, 'x');
        assert!(signer.check_token(&forged, "secret_a").is_err());
        assert_eq!(
            signer.check_token("nonsense", "secret_a"),
            Err(Refusal::Malformed)
        );
        let cursor = signer.cursor("main", "P", Cursor { p: 9, t: 10 });
        assert_eq!(
            signer.check_cursor(&cursor, "main", "P"),
            Ok(Cursor { p: 9, t: 10 })
        );
        assert!(signer.check_cursor(&cursor, "main", "Q").is_err());
    }
}
