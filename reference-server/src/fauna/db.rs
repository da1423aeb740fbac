//! Databases, collections and documents, and the change log every event source reads.
//!
//! Each secret opens one database. A database's collections live in the KV
//! namespace `fauna.<db>.collections`, a collection's documents in
//! `fauna.<db>.docs.<C>`, and every write appends one change record
//! (`{id, before, after}`) to the log stream `fauna.<db>.<C>` in the same
//! commit. The record's timestamp is the write's `txn_ts`: strictly
//! increasing per database, also across restarts (the last one is stored in
//! the same commit), so a log position and a `txn_ts` order changes alike.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::log::Log;
use crate::store::{NewRecord, Position, StoreError, WriteBatch};

/// Days of history a collection keeps when its definition does not say.
pub const DEFAULT_HISTORY_DAYS: u64 = 1;
/// Ids start here, so that they look like Fauna's (18 digits).
const FIRST_ID: u64 = 400_000_000_000_000_000;

pub fn log_stream(db: &str, collection: &str) -> String {
    format!("fauna.{db}.{collection}")
}

fn collections_ns(db: &str) -> String {
    format!("fauna.{db}.collections")
}

fn docs_ns(db: &str, collection: &str) -> String {
    format!("fauna.{db}.docs.{collection}")
}

fn meta_ns(db: &str) -> String {
    format!("fauna.{db}.meta")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionDef {
    pub history_days: u64,
    /// When it was created (microseconds).
    pub created: u64,
}

/// A stored document version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The `txn_ts` of the write that made it.
    pub ts: u64,
    pub data: Map<String, Value>,
}

/// One change, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub before: Option<Version>,
    pub after: Option<Version>,
}

/// A document as a query answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub collection: String,
    pub id: String,
    pub version: Version,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("collection `{0}` does not exist")]
    NoCollection(String),
    #[error("collection `{0}` already exists")]
    CollectionExists(String),
    #[error("document `{1}` of `{0}` does not exist")]
    NoDocument(String, String),
    #[error(
        "{0} is not a valid collection name: names start with a letter and hold letters, digits and _ (up to 64)"
    )]
    BadName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored Fauna data is corrupt: {0}")]
    Corrupt(String),
}

/// What a write changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Create(Map<String, Value>),
    Update(Map<String, Value>),
    Replace(Map<String, Value>),
    Delete,
}

/// The writer: one write at a time, so `txn_ts` and ids are decided before the commit.
#[derive(Debug, Default)]
pub struct Writer {
    /// Per database: the last `txn_ts` and the next id, once loaded.
    clocks: BTreeMap<String, (u64, u64)>,
}

fn valid_collection(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !matches!(name, "Collection" | "Set" | "Time" | "Date")
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, DbError> {
    serde_json::from_slice(bytes).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

pub fn collection(store: &Log, db: &str, name: &str) -> Result<Option<CollectionDef>, DbError> {
    store
        .kv_get(&collections_ns(db), name)?
        .map(|bytes| json(&bytes, name))
        .transpose()
}

pub fn document(
    store: &Log,
    db: &str,
    collection_name: &str,
    id: &str,
) -> Result<Option<Version>, DbError> {
    store
        .kv_get(&docs_ns(db, collection_name), id)?
        .map(|bytes| json(&bytes, id))
        .transpose()
}

impl Writer {
    /// The next `txn_ts` (after `now` and after every earlier one) and the next id.
    fn clock(&mut self, store: &Log, db: &str, now: u64) -> Result<(u64, u64), DbError> {
        if !self.clocks.contains_key(db) {
            let meta = meta_ns(db);
            let last_ts = match store.kv_get(&meta, "last_ts")? {
                Some(b) => json(&b, "last_ts")?,
                None => 0,
            };
            let next_id = match store.kv_get(&meta, "next_id")? {
                Some(b) => json(&b, "next_id")?,
                None => FIRST_ID,
            };
            self.clocks.insert(db.to_owned(), (last_ts, next_id));
        }
        let (last_ts, next_id) = self.clocks[db];
        Ok((now.max(last_ts + 1), next_id))
    }

    pub async fn create_collection(
        &mut self,
        log: &Log,
        db: &str,
        name: &str,
        history_days: Option<u64>,
        now: u64,
    ) -> Result<CollectionDef, DbError> {
        if !valid_collection(name) {
            return Err(DbError::BadName(name.to_owned()));
        }
        if collection(log, db, name)?.is_some() {
            return Err(DbError::CollectionExists(name.to_owned()));
        }
        let def = CollectionDef {
            history_days: history_days.unwrap_or(DEFAULT_HISTORY_DAYS),
            created: now,
        };
        let mut batch = WriteBatch::new();
        batch.put(
            &collections_ns(db),
            name,
            serde_json::to_vec(&def).unwrap_or_default(),
        );
        log.commit(batch).await?;
        Ok(def)
    }

    /// Applies one document write and appends its change; returns the change, its log position and its `txn_ts`.
    pub async fn write(
        &mut self,
        log: &Log,
        db: &str,
        collection_name: &str,
        id: Option<&str>,
        write: Write,
        now: u64,
    ) -> Result<(Change, Position, u64), DbError> {
        let store = log;
        if collection(store, db, collection_name)?.is_none() {
            return Err(DbError::NoCollection(collection_name.to_owned()));
        }
        let (ts, next_id) = self.clock(store, db, now)?;
        let mut batch = WriteBatch::new();
        let (id, before) = match (&write, id) {
            (Write::Create(_), _) => {
                batch.put(
                    &meta_ns(db),
                    "next_id",
                    (next_id + 1).to_string().into_bytes(),
                );
                (next_id.to_string(), None)
            }
            (_, Some(id)) => {
                let before = document(store, db, collection_name, id)?.ok_or_else(|| {
                    DbError::NoDocument(collection_name.to_owned(), id.to_owned())
                })?;
                (id.to_owned(), Some(before))
            }
            (_, None) => {
                return Err(DbError::NoDocument(
                    collection_name.to_owned(),
                    String::new(),
                ));
            }
        };
        let after = match write {
            Write::Create(data) | Write::Replace(data) => Some(Version { ts, data }),
            Write::Update(changes) => {
                let mut data = before.as_ref().map(|b| b.data.clone()).unwrap_or_default();
                merge(&mut data, changes);
                Some(Version { ts, data })
            }
            Write::Delete => None,
        };
        let docs = docs_ns(db, collection_name);
        match &after {
            Some(version) => batch.put(&docs, &id, serde_json::to_vec(version).unwrap_or_default()),
            None => batch.delete(&docs, &id),
        };
        let change = Change { id, before, after };
        batch.append(
            &log_stream(db, collection_name),
            NewRecord {
                timestamp_micros: ts,
                payload: serde_json::to_vec(&change).unwrap_or_default(),
            },
        );
        batch.put(&meta_ns(db), "last_ts", ts.to_string().into_bytes());
        let committed = log.commit(batch).await?;
        let entry = self.clocks.entry(db.to_owned()).or_default();
        entry.0 = ts;
        if change.before.is_none() {
            entry.1 = next_id + 1;
        }
        Ok((change, committed.positions[0], ts))
    }
}

/// Fauna's `update`: fields merge recursively into objects; `null` removes a field.
fn merge(data: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (key, value) in changes {
        match (data.get_mut(&key), value) {
            (_, Value::Null) => {
                data.remove(&key);
            }
            (Some(Value::Object(existing)), Value::Object(inner)) => merge(existing, inner),
            (_, value) => {
                data.insert(key, value);
            }
        }
    }
}

/// Decodes a change record of the log.
pub fn change(payload: &[u8]) -> Result<Change, DbError> {
    json(payload, "change record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_merges_objects_and_null_removes() {
        let mut data = serde_json::json!({"a": 1, "o": {"x": 1, "y": 2}, "gone": true})
            .as_object()
            .unwrap()
            .clone();
        let changes = serde_json::json!({"a": 2, "o": {"y": null, "z": 3}, "gone": null})
            .as_object()
            .unwrap()
            .clone();
        merge(&mut data, changes);
        assert_eq!(
            serde_json::Value::Object(data),
            serde_json::json!({"a": 2, "o": {"x": 1, "z": 3}})
        );
    }

    #[test]
    fn collection_names_are_identifiers() {
        assert!(valid_collection("Product"));
        assert!(valid_collection("order_items2"));
        for bad in ["", "1x", "a-b", "Set", "Collection", "a.b"] {
            assert!(!valid_collection(bad), "{bad}");
        }
    }
}
