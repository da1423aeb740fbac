//! The in-memory engine: the same contract as the durable one, kept in a mutex.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::{
    Committed, CursorOp, KvOp, LogStore, Position, ReadBatch, ReadLimit, Record, RecordFilter,
    Retention, StoreError, StreamBounds, Trimmed, WriteBatch, last_to_remove, validate_batch,
};

/// Everything lives in one mutex: commits are short, and one lock keeps a
/// batch atomic with respect to readers without any further care.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    streams: HashMap<String, Stream>,
    cursors: HashMap<String, Position>,
    kv: BTreeMap<(String, String), Vec<u8>>,
}

#[derive(Debug)]
struct Stream {
    records: VecDeque<Record>,
    next: Position,
}

impl Default for Stream {
    fn default() -> Self {
        Self {
            records: VecDeque::new(),
            next: 1,
        }
    }
}

impl Stream {
    fn bounds(&self) -> StreamBounds {
        StreamBounds {
            first: self.records.front().map(|r| r.position),
            last: self.records.back().map(|r| r.position),
            next: self.next,
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied batch:
        // commit validates before it mutates. So a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LogStore for MemoryStore {
    fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        validate_batch(&batch)?;
        let mut inner = self.lock();
        let mut positions = Vec::with_capacity(batch.appends.len());
        for (name, record) in batch.appends {
            let stream = inner.streams.entry(name).or_default();
            let position = stream.next;
            stream.next += 1;
            stream.records.push_back(Record {
                position,
                timestamp_micros: record.timestamp_micros,
                payload: record.payload.into(),
            });
            positions.push(position);
        }
        for op in batch.kv {
            match op {
                KvOp::Put {
                    namespace,
                    key,
                    value,
                } => {
                    inner.kv.insert((namespace, key), value);
                }
                KvOp::Delete { namespace, key } => {
                    inner.kv.remove(&(namespace, key));
                }
            }
        }
        for op in batch.cursors {
            match op {
                CursorOp::Set { name, position } => {
                    inner.cursors.insert(name, position);
                }
                CursorOp::Delete { name } => {
                    inner.cursors.remove(&name);
                }
            }
        }
        Ok(Committed { positions })
    }

    fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Result<ReadBatch, StoreError> {
        let inner = self.lock();
        let Some(stream) = inner.streams.get(stream) else {
            return Ok(ReadBatch {
                records: Vec::new(),
                scanned_to: after,
                reached_end: true,
            });
        };
        let start = stream.records.partition_point(|r| r.position <= after);
        let mut records = Vec::new();
        let mut scanned_to = after;
        for (scanned, record) in stream.records.range(start..).enumerate() {
            if records.len() >= limit.max_records || scanned >= limit.max_scanned {
                break;
            }
            scanned_to = record.position;
            if filter(record) {
                records.push(record.clone());
            }
        }
        let reached_end = stream
            .records
            .back()
            .is_none_or(|r| r.position <= scanned_to);
        Ok(ReadBatch {
            records,
            scanned_to,
            reached_end,
        })
    }

    fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError> {
        let inner = self.lock();
        let Some(stream) = inner.streams.get(stream) else {
            return Ok(None);
        };
        let index = stream.records.partition_point(|r| r.position < position);
        Ok(stream
            .records
            .get(index)
            .filter(|r| r.position == position)
            .cloned())
    }

    fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError> {
        let inner = self.lock();
        Ok(inner
            .streams
            .get(stream)
            .map_or_else(|| Stream::default().bounds(), Stream::bounds))
    }

    fn trim(
        &self,
        stream: &str,
        retention: &Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError> {
        let mut inner = self.lock();
        let Some(stream) = inner.streams.get_mut(stream) else {
            return Ok(Trimmed {
                removed: 0,
                bounds: Stream::default().bounds(),
            });
        };
        let total = stream.records.len() as u64;
        let pairs = stream
            .records
            .iter()
            .map(|r| (r.position, r.timestamp_micros));
        let mut removed = 0;
        if let Some(through) = last_to_remove(total, pairs, retention, now_micros) {
            while stream
                .records
                .front()
                .is_some_and(|r| r.position <= through)
            {
                stream.records.pop_front();
                removed += 1;
            }
        }
        Ok(Trimmed {
            removed,
            bounds: stream.bounds(),
        })
    }

    fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError> {
        Ok(self.lock().cursors.get(name).copied())
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .kv
            .get(&(namespace.to_owned(), key.to_owned()))
            .cloned())
    }

    fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let inner = self.lock();
        let start = (namespace.to_owned(), String::new());
        Ok(inner
            .kv
            .range(start..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|((_, key), value)| (key.clone(), value.clone()))
            .collect())
    }
}
