//! The log store: one abstraction over append-only streams, named cursors and a small key-value space.
//!
//! Every API of the reference server keeps its history in named *streams* of
//! records. A record's position is a `u64` that starts at 1, grows by one per
//! record, and is never handed out twice for the same stream, also across
//! restarts and after retention has removed older records. Position 0 means
//! "before everything", so a reader that starts after 0 sees the oldest kept
//! record.
//!
//! All writes go through one atomic [`WriteBatch`]: appends to several
//! streams, key-value changes and cursor moves either all happen or none do.
//! That is what lets an API update its state (a Fauna document, a Pulse row, an
//! atproto repository) and append the event describing the change in one step.
//!
//! # Layout
//!
//! - [`memory`]: the in-memory engine (tests, load runs, the harness's embedded server).
//! - [`durable`]: the embedded durable engine (redb) in a data directory: an
//!   acknowledged commit survives `kill -9`.

pub mod durable;
#[cfg(test)]
pub mod hooked;
pub mod memory;

use std::fmt;

use axum::body::Bytes;

/// A position in a stream: 1 for the first record ever appended, 0 for "before everything".
pub type Position = u64;

/// A record to append. The caller supplies the time so that the store never reads a clock.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub timestamp_micros: u64,
    pub payload: Vec<u8>,
}

/// A stored record. Its payload is reference-counted: clones share it, so the
/// memory engine and the log's tail hand every reader the same bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub position: Position,
    pub timestamp_micros: u64,
    pub payload: Bytes,
}

impl fmt::Debug for NewRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRecord")
            .field("timestamp_micros", &self.timestamp_micros)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("position", &self.position)
            .field("timestamp_micros", &self.timestamp_micros)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Everything one commit changes, applied atomically in the order given.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    pub(crate) appends: Vec<(String, NewRecord)>,
    pub(crate) kv: Vec<KvOp>,
    pub(crate) cursors: Vec<CursorOp>,
}

#[derive(Debug, Clone)]
pub(crate) enum KvOp {
    Put {
        namespace: String,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        namespace: String,
        key: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum CursorOp {
    Set { name: String, position: Position },
    Delete { name: String },
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record to `stream`; its position is reported by [`Committed::positions`]
    /// in the order the appends were added.
    pub fn append(&mut self, stream: &str, record: NewRecord) -> &mut Self {
        self.appends.push((stream.to_owned(), record));
        self
    }

    pub fn put(&mut self, namespace: &str, key: &str, value: Vec<u8>) -> &mut Self {
        self.kv.push(KvOp::Put {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            value,
        });
        self
    }

    pub fn delete(&mut self, namespace: &str, key: &str) -> &mut Self {
        self.kv.push(KvOp::Delete {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
        });
        self
    }

    pub fn set_cursor(&mut self, name: &str, position: Position) -> &mut Self {
        self.cursors.push(CursorOp::Set {
            name: name.to_owned(),
            position,
        });
        self
    }

    pub fn delete_cursor(&mut self, name: &str) -> &mut Self {
        self.cursors.push(CursorOp::Delete {
            name: name.to_owned(),
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.appends.is_empty() && self.kv.is_empty() && self.cursors.is_empty()
    }

    /// The streams this batch appends to, without repeats, in first-seen order.
    pub fn streams(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for (stream, _) in &self.appends {
            if !seen.contains(&stream.as_str()) {
                seen.push(stream);
            }
        }
        seen
    }
}

/// What a commit assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// One position per append, in the order of [`WriteBatch::append`] calls.
    pub positions: Vec<Position>,
}

/// How far a read may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimit {
    /// At most this many matching records are returned.
    pub max_records: usize,
    /// At most this many records are examined, matching or not, so that a
    /// selective filter over a long log cannot turn one request into a full scan.
    pub max_scanned: usize,
}

impl ReadLimit {
    pub fn records(max_records: usize) -> Self {
        Self {
            max_records,
            max_scanned: max_records.saturating_mul(64).max(4096),
        }
    }
}

/// The result of [`LogStore::read_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBatch {
    /// Matching records, in position order.
    pub records: Vec<Record>,
    /// The last position examined; a follow-up read continues after it.
    /// Equal to the `after` given when nothing was examined.
    pub scanned_to: Position,
    /// True when the scan reached the newest record of the stream.
    pub reached_end: bool,
}

/// The positions a stream currently holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamBounds {
    /// The oldest kept record, if any.
    pub first: Option<Position>,
    /// The newest record, if any.
    pub last: Option<Position>,
    /// The position the next append will get. Never decreases.
    pub next: Position,
}

/// When old records of a stream are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Records older than this (relative to the `now` given to [`LogStore::trim`]) are removed.
    pub max_age_micros: Option<u64>,
    /// At most this many records are kept; the oldest go first.
    pub max_records: Option<u64>,
}

/// The result of [`LogStore::trim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub removed: u64,
    pub bounds: StreamBounds,
}

/// Errors of the store layer. A caller cannot do much more than report them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("corrupt record at {stream}:{position}: {reason}")]
    Corrupt {
        stream: String,
        position: Position,
        reason: &'static str,
    },
    #[error("cannot open data directory {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} is not a valid {what} name: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    /// A group commit failed after its writers had moved their in-memory
    /// state on, so the log refuses every later write (see [`crate::log::Log`]).
    #[error(
        "the log store failed and accepts no more writes; restart the server (the failure: {0})"
    )]
    Failed(String),
}

/// A filter over records; `&|_| true` reads everything.
pub type RecordFilter<'a> = &'a dyn Fn(&Record) -> bool;

/// The one storage abstraction both engines implement.
///
/// Methods are synchronous: the memory engine never blocks for long, and the
/// durable engine's commits wait for the disk, so async callers hand them to
/// the log's committer thread, which groups them (see [`crate::log::Log`]).
pub trait LogStore: Send + Sync + 'static {
    /// Applies the batch atomically. When this returns `Ok`, the batch is
    /// durable (for the durable engine) and visible to readers.
    fn commit(&self, batch: WriteBatch) -> Result<Committed, StoreError>;

    /// Applies several batches in order, as if committed one after the other,
    /// and reports each one's positions. The durable engine applies them in
    /// one transaction, so the group costs one fsync; an `Err` then means that
    /// none was applied. Every batch is validated before any is applied.
    fn commit_many(&self, batches: Vec<WriteBatch>) -> Result<Vec<Committed>, StoreError> {
        for batch in &batches {
            validate_batch(batch)?;
        }
        batches
            .into_iter()
            .map(|batch| self.commit(batch))
            .collect()
    }

    /// Reads records of `stream` strictly after `after` that pass `filter`.
    fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Result<ReadBatch, StoreError>;

    /// One record by position, if it is still kept.
    fn get(&self, stream: &str, position: Position) -> Result<Option<Record>, StoreError>;

    fn bounds(&self, stream: &str) -> Result<StreamBounds, StoreError>;

    /// Removes what `retention` no longer allows. The stream's `next` position is unchanged.
    fn trim(
        &self,
        stream: &str,
        retention: &Retention,
        now_micros: u64,
    ) -> Result<Trimmed, StoreError>;

    fn cursor(&self, name: &str) -> Result<Option<Position>, StoreError>;

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every key and value of a namespace, in key order.
    fn kv_scan(&self, namespace: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Convenience: appends records to one stream in one commit.
    fn append(&self, stream: &str, records: Vec<NewRecord>) -> Result<Vec<Position>, StoreError> {
        let mut batch = WriteBatch::new();
        for record in records {
            batch.append(stream, record);
        }
        Ok(self.commit(batch)?.positions)
    }
}

/// Stream, namespace and cursor names are non-empty, at most 256 bytes, and
/// free of control characters, so they are safe in keys and in log lines.
pub(crate) fn validate_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 256 {
        Some("it is longer than 256 bytes")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidName {
            what,
            name: name.chars().take(64).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

pub(crate) fn validate_batch(batch: &WriteBatch) -> Result<(), StoreError> {
    for (stream, _) in &batch.appends {
        validate_name("stream", stream)?;
    }
    for op in &batch.kv {
        let (KvOp::Put { namespace, .. } | KvOp::Delete { namespace, .. }) = op;
        validate_name("namespace", namespace)?;
    }
    for op in &batch.cursors {
        let (CursorOp::Set { name, .. } | CursorOp::Delete { name }) = op;
        validate_name("cursor", name)?;
    }
    Ok(())
}

/// The newest position that `retention` removes, or `None` when it removes nothing.
///
/// `total` is how many records the stream holds and `records` yields their
/// (position, timestamp) pairs from the oldest; it is read only as far as the
/// first record that is kept. Retention only ever removes a prefix: positions
/// within a stream are contiguous, and a record with an old timestamp behind a
/// newer one stays until the newer one goes.
pub(crate) fn last_to_remove(
    total: u64,
    records: impl Iterator<Item = (Position, u64)>,
    retention: &Retention,
    now_micros: u64,
) -> Option<Position> {
    let excess = retention
        .max_records
        .map_or(0, |max| total.saturating_sub(max));
    let cutoff = retention
        .max_age_micros
        .map(|age| now_micros.saturating_sub(age));
    let mut remove_through = None;
    for (index, (position, timestamp)) in (0u64..).zip(records) {
        let too_many = index < excess;
        let too_old = cutoff.is_some_and(|cutoff| timestamp < cutoff);
        if !(too_many || too_old) {
            break;
        }
        remove_through = Some(position);
    }
    remove_through
}

#[cfg(test)]
mod tests;
