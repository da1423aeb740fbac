//! Reading events across streams in sort order: bounded by offsets per stream, filtered by `FROM`, one batch at a time.
//!
//! A [`Merge`] holds one cursor per stream and hands out the event with the
//! smallest key among the streams' next events, so memory is one read batch
//! per stream whatever the size of the range. Events come from the shared
//! [`Recent`] windows when they hold them, from the store otherwise.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::aql::{EventMeta, TagExpr};
use super::model::{Event, NodeId, StreamId, log_stream};
use super::recent::Recent;
use crate::log::Log;
use crate::store::{ReadLimit, StoreError};

/// Which offsets of one stream to read: after `after` (exclusive), up to `upto` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub after: Option<u64>,
    pub upto: u64,
}

/// The ranges to read: for each stream in `upper`, from `lower` (exclusive) to `upper` (inclusive).
pub fn ranges(
    lower: &BTreeMap<StreamId, u64>,
    upper: &BTreeMap<StreamId, u64>,
) -> BTreeMap<StreamId, Range> {
    upper
        .iter()
        .filter_map(|(stream, upto)| {
            let after = lower.get(stream).copied();
            let empty = after.is_some_and(|a| a >= *upto);
            (!empty).then_some((*stream, Range { after, upto: *upto }))
        })
        .collect()
}

struct Cursor {
    stream: StreamId,
    /// The next offset to read.
    next: u64,
    upto: u64,
    buffer: VecDeque<Arc<Event>>,
}

/// Events of several streams in key order.
pub struct Merge {
    log: Log,
    recent: Arc<Recent>,
    local: NodeId,
    source: TagExpr,
    read_batch: usize,
    cursors: Vec<Cursor>,
    /// The `tie-break-reversed` defect: equal lamports sort by stream id descending.
    pub reverse_ties: bool,
}

impl std::fmt::Debug for Merge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merge")
            .field("streams", &self.cursors.len())
            .finish_non_exhaustive()
    }
}

impl Merge {
    pub fn new(
        log: Log,
        recent: Arc<Recent>,
        local: NodeId,
        source: TagExpr,
        ranges: &BTreeMap<StreamId, Range>,
        read_batch: usize,
    ) -> Self {
        let cursors = ranges
            .iter()
            .map(|(stream, range)| Cursor {
                stream: *stream,
                next: range.after.map_or(0, |a| a + 1),
                upto: range.upto,
                buffer: VecDeque::new(),
            })
            .collect();
        Self {
            log,
            recent,
            local,
            source,
            read_batch: read_batch.max(1),
            cursors,
            reverse_ties: false,
        }
    }

    /// The next event `FROM` selects, in key order, or `None` when every range is read.
    pub async fn next(&mut self) -> Result<Option<Arc<Event>>, StoreError> {
        for i in 0..self.cursors.len() {
            self.fill(i).await?;
        }
        let reverse = self.reverse_ties;
        let best = self
            .cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.buffer.front().map(|e| (e.key, i)))
            .min_by(|(a, _), (b, _)| {
                if reverse {
                    a.lamport.cmp(&b.lamport).then(b.stream.cmp(&a.stream))
                } else {
                    a.cmp(b)
                }
            });
        Ok(best.and_then(|(_, i)| self.cursors[i].buffer.pop_front()))
    }

    /// Whether another event is ready without waiting for new commits.
    pub async fn has_more(&mut self) -> Result<bool, StoreError> {
        for i in 0..self.cursors.len() {
            self.fill(i).await?;
        }
        Ok(self.cursors.iter().any(|c| !c.buffer.is_empty()))
    }

    /// Reads more of cursor `i` while its buffer is empty and its range is not done.
    async fn fill(&mut self, i: usize) -> Result<(), StoreError> {
        loop {
            let cursor = &self.cursors[i];
            if !cursor.buffer.is_empty() || cursor.next > cursor.upto {
                return Ok(());
            }
            let stream = cursor.stream;
            let room = cursor.upto - cursor.next + 1;
            let max = usize::try_from(room)
                .unwrap_or(usize::MAX)
                .min(self.read_batch);
            let limit = ReadLimit {
                max_records: max,
                max_scanned: max,
            };
            let from = cursor.next;
            let mut cached = self.recent.get(stream, from, max);
            // Held until the events read are in the window.
            let turn = if cached.is_empty() {
                self.recent.extend_turn(stream, from).await
            } else {
                None
            };
            if turn.is_some() {
                cached = self.recent.get(stream, from, max);
            }
            let events = if cached.is_empty() {
                // Position = offset + 1, so "after position `next`" starts at offset `next`.
                let batch = self
                    .log
                    .read_after(&log_stream(&stream), from, limit, Box::new(|_| true))
                    .await?;
                let events = batch
                    .records
                    .iter()
                    .map(|record| Event::from_record(stream, record).map(Arc::new))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(StoreError::Engine)?;
                self.recent.put(stream, &events);
                events
            } else {
                cached
            };
            drop(turn);
            let cursor = &mut self.cursors[i];
            if events.is_empty() {
                // The range names offsets this stream does not hold (yet).
                cursor.next = cursor.upto + 1;
                return Ok(());
            }
            for event in events {
                cursor.next = event.key.offset + 1;
                if event.key.offset > cursor.upto {
                    cursor.next = cursor.upto + 1;
                    break;
                }
                let meta = EventMeta {
                    tags: &event.tags,
                    app_id: &event.app_id,
                    local: stream.node == self.local,
                };
                if self.source.matches(&meta) {
                    cursor.buffer.push_back(event);
                }
            }
        }
    }
}
