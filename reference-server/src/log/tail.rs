//! The newest durable records of each watched stream, kept in memory so that live readers skip the store.
//!
//! A live subscriber reads just behind the newest record, so with many of them
//! every record used to be read from the store (and its payload copied) once
//! per subscriber. The committer now adds a group's records to the tail once
//! the group is durable, before it answers the writers or wakes the watchers;
//! a read that starts inside the tail is answered from memory, under the
//! store's contract (filter, limits, `scanned_to`, `reached_end`), with
//! payloads shared rather than copied. A read that starts before the tail goes
//! to the store.
//!
//! What the tail holds of a stream is a run of consecutive positions that the
//! store holds too:
//!
//! - Nothing is added before it is durable. The store may be one group ahead
//!   while the committer works, but watchers are woken only after the group is
//!   added, so a reader that stops at the tail's end waits for that group
//!   exactly as a reader of the store would have before its commit.
//! - [`Log::trim`](super::Log::trim) calls [`Tail::trim`] with the first
//!   position the store kept before it returns. The position is also kept as
//!   the stream's *floor*, so a group committed before the trim but added after
//!   it cannot bring back what retention removed.
//!
//! Only streams with a watcher (someone followed them live) get a tail, and
//! each is bounded by [`TailLimits`], so a stream nobody follows costs nothing.

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::store::{Position, ReadBatch, ReadLimit, Record, RecordFilter};

/// How much of each stream the tail keeps; the older records go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailLimits {
    /// At most this many records per stream; 0 keeps no tail at all.
    pub max_records: usize,
    /// At most this many payload bytes per stream.
    pub max_bytes: usize,
}

impl TailLimits {
    /// No tail: every read goes to the store.
    pub const NONE: Self = Self {
        max_records: 0,
        max_bytes: 0,
    };
}

impl Default for TailLimits {
    /// Room for a firehose subscriber as far behind as `ConsumerTooSlow`
    /// allows (500 frames by default) plus a read batch (256), at ~3 KiB per
    /// commit frame: live subscribers of a busy stream never read the store.
    fn default() -> Self {
        Self {
            max_records: 1024,
            max_bytes: 4 << 20,
        }
    }
}

pub(super) struct Tail {
    limits: TailLimits,
    streams: RwLock<HashMap<String, StreamTail>>,
}

#[derive(Default)]
struct StreamTail {
    /// Consecutive positions, the newest last.
    records: VecDeque<Record>,
    /// The payload bytes of `records`.
    bytes: usize,
    /// The position after the newest record added, also once `records` is
    /// empty: the tail answers for every position from its first record (or
    /// from here, when it has none) on.
    next: Position,
    /// Retention removed every position before this one from the store.
    floor: Position,
}

impl StreamTail {
    /// The oldest position a read from the tail may start at.
    fn start(&self) -> Position {
        self.records.front().map_or(self.next, |r| r.position)
    }

    fn pop_front(&mut self) {
        if let Some(record) = self.records.pop_front() {
            self.bytes -= record.payload.len();
        }
    }

    /// Whether the tail has ever had a record: a stream only trimmed has none
    /// and answers for nothing.
    fn is_started(&self) -> bool {
        self.next > 0
    }
}

impl Tail {
    pub(super) fn new(limits: TailLimits) -> Self {
        Self {
            limits,
            streams: RwLock::default(),
        }
    }

    // The map is changed in single steps (a push, a pop, a floor), so a panic
    // elsewhere while a guard is held leaves it consistent.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, StreamTail>> {
        self.streams.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, StreamTail>> {
        self.streams.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the records of a durable group, each stream's in position order.
    ///
    /// A stream's tail starts only where `store_last` (the newest position
    /// the store holds of it, read after the group) is the group's own newest:
    /// a store that hands positions out again (the `reuse-seq-after-restart`
    /// defect) may hold older records beyond it, and a read must find those
    /// as it would without the tail.
    pub(super) fn extend(
        &self,
        records: Vec<(String, Record)>,
        store_last: impl Fn(&str) -> Option<Position>,
    ) {
        if records.is_empty() {
            return;
        }
        let mut newest: Vec<(&str, Position)> = Vec::new();
        {
            let streams = self.read();
            for (stream, record) in &records {
                if streams.get(stream).is_some_and(StreamTail::is_started) {
                    continue;
                }
                match newest.iter_mut().find(|(s, _)| s == stream) {
                    Some((_, last)) => *last = (*last).max(record.position),
                    None => newest.push((stream, record.position)),
                }
            }
        }
        // The store is read without holding the map, and only when a stream's
        // tail starts.
        let refused: Vec<String> = newest
            .into_iter()
            .filter(|(stream, last)| store_last(stream) != Some(*last))
            .map(|(stream, _)| stream.to_owned())
            .collect();
        let mut streams = self.write();
        for (stream, record) in records {
            if refused.contains(&stream) {
                continue;
            }
            let tail = streams.entry(stream).or_default();
            if record.position < tail.floor {
                // Trimmed from the store while the group was on its way here.
                continue;
            }
            if tail.is_started() && record.position != tail.next {
                // Not adjacent to what the tail holds (a record below the
                // floor was skipped): begin the run again here.
                tail.records.clear();
                tail.bytes = 0;
            }
            tail.next = record.position + 1;
            tail.bytes += record.payload.len();
            tail.records.push_back(record);
            while tail.records.len() > self.limits.max_records || tail.bytes > self.limits.max_bytes
            {
                tail.pop_front();
            }
        }
    }

    /// Forgets what retention removed from the store: every position before `first_kept`.
    pub(super) fn trim(&self, stream: &str, first_kept: Position) {
        let mut streams = self.write();
        let tail = streams.entry(stream.to_owned()).or_default();
        tail.floor = tail.floor.max(first_kept);
        while tail
            .records
            .front()
            .is_some_and(|r| r.position < first_kept)
        {
            tail.pop_front();
        }
    }

    /// Forgets everything held of `stream`, for when what the store removed is not known.
    pub(super) fn forget(&self, stream: &str) {
        if let Some(tail) = self.write().get_mut(stream) {
            *tail = StreamTail {
                floor: tail.floor,
                ..StreamTail::default()
            };
        }
    }

    /// Answers a read that starts inside the tail, as [`crate::store::LogStore::read_after`]
    /// would; `None` when `after` lies before it, for the store to answer.
    pub(super) fn read_after(
        &self,
        stream: &str,
        after: Position,
        limit: ReadLimit,
        filter: RecordFilter<'_>,
    ) -> Option<ReadBatch> {
        let streams = self.read();
        let tail = streams.get(stream).filter(|t| t.is_started())?;
        if after.saturating_add(1) < tail.start() {
            return None;
        }
        let first = tail.records.partition_point(|r| r.position <= after);
        let mut records = Vec::new();
        let mut scanned_to = after;
        for (scanned, record) in tail.records.range(first..).enumerate() {
            if records.len() >= limit.max_records || scanned >= limit.max_scanned {
                break;
            }
            scanned_to = record.position;
            if filter(record) {
                records.push(record.clone());
            }
        }
        let reached_end = tail.records.back().is_none_or(|r| r.position <= scanned_to);
        Some(ReadBatch {
            records,
            scanned_to,
            reached_end,
        })
    }
}
