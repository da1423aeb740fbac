//! The durable engine: redb in a data directory, one fsync'd transaction per commit or group of commits.
//!
//! Tables:
//! - `log`: (stream, position) → 8-byte little-endian timestamp, then the payload;
//! - `next`: stream → the position the next append gets. It is written in the
//!   same transaction as the records, so a position is never handed out twice,
//!   even when retention has removed every record of a stream;
//! - `cursors`: name → position;
//! - `kv`: (namespace, key) → bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::{
    Committed, CursorOp, KvOp, LogStore, Position, ReadBatch, ReadLimit, Record, RecordFilter,
    Retention, StoreError, StreamBounds, Trimmed, WriteBatch, last_to_remove, validate_batch,
};

const LOG: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("log");
const NEXT: TableDefinition<&str, u64> = TableDefinition::new("next");
const CURSORS: TableDefinition<&str, u64> = TableDefinition::new("cursors");
const KV: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv");

/// The database file inside the data directory.
pub const FILE_NAME: &str = "log.redb";

/// redb's page cache. Its default, 1 GiB, made a long-running server's RSS
/// grow by about the size of every record written until it was full; live
/// readers read the log's in-memory tail, not the store, and a replay reads
/// pages the operating system caches anyway, so a small cache costs little.
const CACHE_BYTES: usize = 32 << 20;

/// Options of the durable engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct DurableOptions {
    /// The `reuse-seq-after-restart` defect: keep the next positions in memory
    /// only, starting again at 1 after every open, as servers that hold their
    /// sequence counter in a variable do. Appends then overwrite old records.
    pub forget_sequence_on_open: bool,
}

#[derive(Debug)]
pub struct DurableStore {
    db: Database,
    path: PathBuf,
    /// Set only under the `reuse-seq-after-restart` defect.
    volatile_next: Option<Mutex<HashMap<String, Position>>>,
    /// Write transactions committed since open (each one fsync).
    write_transactions: AtomicU64,
}

fn engine<E: Into<redb::Error>>(error: E) -> StoreError {
    StoreError::Engine(error.into().to_string())
}

impl DurableStore {
    /// Opens (or creates) the store in `dir`. Another process holding the same
    /// directory open is an error, not a shared store.
    pub fn open(dir: &Path, options: DurableOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|error| match error {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Engine(format!(
                    "{} is already open in another process",
                    path.display()
                )),
                other => engine(other),
            })?;
        // Create every table once so that readers never meet a missing one.
        let txn = db.begin_write().map_err(engine)?;
        txn.open_table(LOG).map_err(engine)?;
        txn.open_table(NEXT).map_err(engine)?;
        txn.open_table(CURSORS).map_err(engine)?;
        txn.open_table(KV).map_err(engine)?;
        txn.commit().map_err(engine)?;
        let volatile_next = options
            .forget_sequence_on_open
            .then(|| Mutex::new(HashMap::new()));
        Ok(Self {
            db,
            path,
            volatile_next,
            write_transactions: AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn next_position(&self, txn: &WriteTransaction, stream: &str) -> Result<Position, StoreError> {
        if let Some(volatile) = &self.volatile_next {
            let map = volatile.lock().unwrap_or_else(|p| p.into_inner());
            return Ok(map.get(stream).copied().unwrap_or(1));
        }
        let next = txn.open_table(NEXT).map_err(engine)?;
        let value = next.get(stream).map_err(engine)?.map(|v| v.value());
        Ok(value.unwrap_or(1))
    }

    fn store_next(
        &self,
        txn: &WriteTransaction,
        stream: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        if let Some(volatile) = &self.volatile_next {
            let mut map = volatile.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(stream.to_owned(), position);
            return Ok(());
        }
        let mut next = txn.open_table(NEXT).map_err(engine)?;
        next.insert(stream, position).map_err(engine)?;
        Ok(())
    }

    fn stored_next(&self, stream: &str) -> Result<Option<Position>, StoreError> {
        if let Some(volatile) = &self.volatile_next {
            let map = volatile.lock().unwrap_or_else(|p| p.into_inner());
            return Ok(map.get(stream).copied());
        }
        let txn = self.db.begin_read().map_err(engine)?;
        let next = txn.open_table(NEXT).map_err(engine)?;
        Ok(next.get(stream).map_err(engine)?.map(|v| v.value()))
    }
}

fn encode_value(timestamp_micros: u64, payload: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + payload.len());
    value.extend_from_slice(&timestamp_micros.to_le_bytes());
    value.extend_from_slice(payload);
    value
}

fn decode_value(stream: &str, position: Position, value: &[u8]) -> Result<Record, StoreError> {
    let Some((timestamp, payload)) = value.split_first_chunk::<8>() else {
        return Err(StoreError::Corrupt {
            stream: stream.to_owned(),
            position,
            reason: "value shorter than its timestamp",
        });
    };
    Ok(Record {
        position,
        timestamp_micros: u64::from_le_bytes(*timestamp),
        payload: Bytes::copy_from_slice(payload),
    })
}

fn stream_range(stream: &str, after: Position) -> std::ops::RangeInclusive<(&str, u64)> {
    (stream, after.saturating_add(1))..=(stream, u64::MAX)
}

impl DurableStore {
    /// How many write transactions (each one fsync) commits and trims have made since open.
    pub fn write_transactions(&self) -> u64 {
        self.write_transactions.load(Ordering::Relaxed)
    }

    /// Applies one batch inside `txn`; `next_of` carries each stream's next
    /// position from batch to batch of the same transaction.
    fn apply(
        &self,
        txn: &WriteTransaction,
        batch: &WriteBatch,
        next_of: &mut HashMap<String, Position>,
    ) -> Result<Committed, StoreError> {
        let mut positions = Vec::with_capacity(batch.appends.len());
        {
            let mut log = txn.open_table(LOG).map_err(engine)?;
            for (stream, record) in &batch.appends {
                let position = match next_of.get_mut(stream.as_str()) {
                    Some(next) => {
                        *next += 1;
                        *next - 1
                    }
                    None => {
                        let position = self.next_position(txn, stream)?;
                        next_of.insert(stream.clone(), position + 1);
                        position
                    }
                };
                let value = encode_value(record.timestamp_micros, &record.payload);
                log.insert((stream.as_str(), position), value.as_slice())
                    .map_err(engine)?;
                positions.push(position);
            }
        }
        {
            let mut kv = txn.open_table(KV).map_err(engine)?;
            for op in &batch.kv {
                match op {
                    KvOp::Put {
                        namespace,
                        key,
                        value,
                    } => {
                        kv.insert((namespace.as_str(), key.as_str()), value.as_slice())
                            .map_err(engine)?;
                    }
                    KvOp::Delete { namespace, key } => {
                        kv.remove((namespace.as_str(), key.as_str()))
                            .map_err(engine)?;
                    }
                }
            }
        }
        {
            let mut cursors = txn.open_table(CURSORS).map_err(engine)?;
            for op in &batch.cursors {
                match op {
                    CursorOp::Set { name, position } => {
                        cursors.insert(name.as_str(), *position).map_err(engine)?;
                    }
                    CursorOp::Delete { name } => {
                        cursors.remove(name.as_str()).map_err(engine)?;
                    }
                }
            }
        }
        Ok(Committed { positions })
    }
}

impl LogStore for DurableStore {
    fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let mut committed = self.commit_many(vec![batch])?;
        committed
            .pop()
            .ok_or_else(|| StoreError::Engine("a commit of one batch reported none".into()))
    }

    /// One write transaction, so one fsync, for the whole group.
    fn commit_many(&self, batches: Vec<WriteBatch>) -> Result<Vec<Committed>, StoreError> {
        for batch in &batches {
            validate_batch(batch)?;
        }
        let txn = self.db.begin_write().map_err(engine)?;
        let mut next_of: HashMap<String, Position> = HashMap::new();
        let mut committed = Vec::with_capacity(batches.len());
        for batch in &batches {
            committed.push(self.apply(&txn, batch, &mut next_of)?);
        }
        for (stream, next) in &next_of {
            self.store_next(&txn, stream, *next)?;
        }
        // The default durability is `Immediate`: commit returns after fsync.
        txn.commit().map_err(engine)?;
        self.write_transactions.fetch_add(1, Ordering::Relaxed);
        Ok(committed)
    }

    fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Result<ReadBatch, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let log = txn.open_table(LOG).map_err(engine)?;
        let mut records = Vec::new();
        let mut scanned_to = after;
        let mut reached_end = true;
        let range = log.range(stream_range(stream, after)).map_err(engine)?;
        for (scanned, entry) in range.enumerate() {
            if records.len() >= limit.max_records || scanned >= limit.max_scanned {
                reached_end = false;
                break;
            }
            let (key, value) = entry.map_err(engine)?;
            let position = key.value().1;
            let record = decode_value(stream, position, value.value())?;
            scanned_to = position;
            if filter(&record) {
                records.push(record);
            }
        }
        Ok(ReadBatch {
            records,
            scanned_to,
            reached_end,
        })
    }

    fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let log = txn.open_table(LOG).map_err(engine)?;
        let value = log.get((stream, position)).map_err(engine)?;
        value
            .map(|v| decode_value(stream, position, v.value()))
            .transpose()
    }

    fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        let (first, last) = {
            let txn = self.db.begin_read().map_err(engine)?;
            let log = txn.open_table(LOG).map_err(engine)?;
            let mut range = log.range(stream_range(stream, 0)).map_err(engine)?;
            let first = range
                .next()
                .transpose()
                .map_err(engine)?
                .map(|(k, _)| k.value().1);
            let last = range
                .next_back()
                .transpose()
                .map_err(engine)?
                .map(|(k, _)| k.value().1)
                .or(first);
            (first, last)
        };
        let next = self
            .stored_next(stream)?
            .unwrap_or_else(|| last.map_or(1, |l| l + 1));
        Ok(StreamBounds { first, last, next })
    }

    fn trim(
        &self,
        stream: &str,
        retention: &Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        let before = self.bounds(stream)?;
        let (Some(first), Some(last)) = (before.first, before.last) else {
            return Ok(Trimmed {
                removed: 0,
                bounds: before,
            });
        };
        let txn = self.db.begin_write().map_err(engine)?;
        let mut removed = 0;
        {
            let mut log = txn.open_table(LOG).map_err(engine)?;
            let total = last - first + 1;
            let mut failure = None;
            let through = {
                let range = log.range(stream_range(stream, 0)).map_err(engine)?;
                // `last_to_remove` stops pulling at the first record that is
                // kept, so only the removed prefix is read.
                let pairs = range.map_while(|entry| {
                    let decoded = entry.map_err(engine).and_then(|(key, value)| {
                        let position = key.value().1;
                        decode_value(stream, position, value.value())
                    });
                    match decoded {
                        Ok(record) => Some((record.position, record.timestamp_micros)),
                        Err(error) => {
                            failure = Some(error);
                            None
                        }
                    }
                });
                last_to_remove(total, pairs, retention, now_micros)
            };
            if let Some(error) = failure {
                return Err(error);
            }
            if let Some(through) = through {
                for position in first..=through {
                    if log.remove((stream, position)).map_err(engine)?.is_some() {
                        removed += 1;
                    }
                }
            }
        }
        txn.commit().map_err(engine)?;
        self.write_transactions.fetch_add(1, Ordering::Relaxed);
        Ok(Trimmed {
            removed,
            bounds: self.bounds(stream)?,
        })
    }

    fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let cursors = txn.open_table(CURSORS).map_err(engine)?;
        Ok(cursors.get(name).map_err(engine)?.map(|v| v.value()))
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let kv = txn.open_table(KV).map_err(engine)?;
        Ok(kv
            .get((namespace, key))
            .map_err(engine)?
            .map(|v| v.value().to_vec()))
    }

    fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let kv = txn.open_table(KV).map_err(engine)?;
        let mut out = Vec::new();
        for entry in kv.range((namespace, "")..).map_err(engine)? {
            let (key, value) = entry.map_err(engine)?;
            let (ns, key) = key.value();
            if ns != namespace {
                break;
            }
            out.push((key.to_owned(), value.value().to_vec()));
        }
        Ok(out)
    }
}
