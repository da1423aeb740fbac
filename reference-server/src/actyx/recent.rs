//! The newest events of each stream, decoded once and shared by every feed.
//!
//! A hundred live subscribers to one tag would otherwise each read every new
//! event from the store (a hop to the blocking pool for the durable engine)
//! and parse its JSON again. The first feed to read an event puts it here;
//! the others take the same `Arc<Event>`. Only events read from the store
//! (so committed, durable ones) enter, and an offset's event never changes,
//! so a hit is always what the store would have returned. Each stream keeps
//! a window of its newest [`KEEP`] events, contiguous by offset.
//!
//! When a commit wakes every live feed at once, they all miss the window
//! together; so a read that would extend a stream's window takes that
//! stream's turn ([`Recent::extend_turn`]) and the feeds behind it find the
//! events it put there instead of each reading and decoding them again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use super::model::{Event, StreamId};

/// Events kept per stream.
pub const KEEP: usize = 4096;

/// One stream's window: `events[i]` has offset `first + i`.
#[derive(Debug, Default)]
struct Window {
    first: u64,
    events: VecDeque<Arc<Event>>,
}

impl Window {
    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }
}

/// The windows of every stream read so far.
#[derive(Debug, Default)]
pub struct Recent {
    streams: Mutex<HashMap<StreamId, Window>>,
    /// Per stream, held while reading events that extend its window.
    turns: Mutex<HashMap<StreamId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Recent {
    /// Up to `max` events of `stream` from offset `from` on, as far as the window holds them.
    pub fn get(&self, stream: StreamId, from: u64, max: usize) -> Vec<Arc<Event>> {
        let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let Some(window) = streams.get(&stream) else {
            return Vec::new();
        };
        if from < window.first || from >= window.end() {
            return Vec::new();
        }
        let skip = (from - window.first) as usize;
        window.events.iter().skip(skip).take(max).cloned().collect()
    }

    /// Waits for the turn to read `stream` from offset `from` on from the
    /// store, when that read would extend the window (or start it); `None`
    /// for reads behind the window, which no other feed shares. Whoever holds
    /// the turn looks in the window again first: the feed before may have put
    /// the events there.
    pub async fn extend_turn(&self, stream: StreamId, from: u64) -> Option<OwnedMutexGuard<()>> {
        let ahead = {
            let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            streams.get(&stream).is_none_or(|w| from >= w.end())
        };
        if !ahead {
            return None;
        }
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(turns.entry(stream).or_default())
        };
        Some(turn.lock_owned().await)
    }

    /// Remembers `events`, consecutive offsets of `stream` just read from the store.
    pub fn put(&self, stream: StreamId, events: &[Arc<Event>]) {
        let Some(head) = events.first() else { return };
        let start = head.key.offset;
        let contiguous = (start..)
            .zip(events)
            .all(|(offset, e)| e.key.offset == offset);
        if !contiguous {
            return;
        }
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let window = streams.entry(stream).or_default();
        if window.events.is_empty() || start > window.end() {
            // Nothing kept yet, or a gap: start over from these (a reader far behind
            // the window does not replace it with older events).
            if start < window.first {
                return;
            }
            window.first = start;
            window.events.clear();
        } else if start < window.first {
            return;
        }
        let known = (window.end() - start) as usize;
        window.events.extend(events.iter().skip(known).cloned());
        while window.events.len() > KEEP {
            window.events.pop_front();
            window.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actyx::model::LineCache;
    use crate::actyx::model::{EventKey, NodeId};

    fn stream() -> StreamId {
        StreamId {
            node: NodeId([7; 32]),
            nr: 0,
        }
    }

    fn events(offsets: std::ops::Range<u64>) -> Vec<Arc<Event>> {
        offsets
            .map(|offset| {
                Arc::new(Event {
                    key: EventKey {
                        lamport: offset + 1,
                        stream: stream(),
                        offset,
                    },
                    timestamp: 0,
                    tags: vec!["t".to_owned()],
                    app_id: "a".to_owned(),
                    payload: serde_json::json!(offset),
                    line_cache: LineCache::default(),
                })
            })
            .collect()
    }

    fn offsets(events: &[Arc<Event>]) -> Vec<u64> {
        events.iter().map(|e| e.key.offset).collect()
    }

    #[test]
    fn a_window_hands_out_what_was_put_and_nothing_it_does_not_hold() {
        let recent = Recent::default();
        assert!(recent.get(stream(), 0, 10).is_empty());
        recent.put(stream(), &events(0..5));
        // Overlapping reads extend the window without repeating.
        recent.put(stream(), &events(3..8));
        assert_eq!(offsets(&recent.get(stream(), 2, 4)), [2, 3, 4, 5]);
        assert_eq!(offsets(&recent.get(stream(), 6, 10)), [6, 7]);
        assert!(recent.get(stream(), 8, 10).is_empty());
        // A gap starts the window over; an older read does not replace it.
        recent.put(stream(), &events(20..22));
        assert!(recent.get(stream(), 5, 10).is_empty());
        recent.put(stream(), &events(0..3));
        assert_eq!(offsets(&recent.get(stream(), 20, 10)), [20, 21]);
        // Other streams are apart.
        let other = StreamId {
            node: NodeId([8; 32]),
            nr: 0,
        };
        assert!(recent.get(other, 20, 10).is_empty());
    }

    #[test]
    fn a_window_keeps_the_newest_events_only() {
        let recent = Recent::default();
        let many = KEEP as u64 + 100;
        for start in (0..many).step_by(50) {
            recent.put(stream(), &events(start..(start + 50).min(many)));
        }
        assert!(recent.get(stream(), 99, 1).is_empty());
        assert_eq!(offsets(&recent.get(stream(), 100, 2)), [100, 101]);
        assert_eq!(offsets(&recent.get(stream(), many - 1, 5)), [many - 1]);
    }

    #[tokio::test]
    async fn reads_that_extend_a_window_take_turns_and_older_reads_do_not_wait() {
        let recent = Recent::default();
        let first = recent.extend_turn(stream(), 0).await;
        assert!(first.is_some(), "a stream without a window starts one");
        // A second feed after the same events waits for the first to put them.
        let mut second = Box::pin(recent.extend_turn(stream(), 0));
        assert!(futures_util::poll!(&mut second).is_pending());
        recent.put(stream(), &events(0..5));
        drop(first);
        let second = second.await;
        assert!(second.is_some());
        assert_eq!(offsets(&recent.get(stream(), 0, 10)), [0, 1, 2, 3, 4]);
        drop(second);
        // Behind the window is no one else's read; past its end is the next turn.
        assert!(recent.extend_turn(stream(), 2).await.is_none());
        assert!(recent.extend_turn(stream(), 5).await.is_some());
    }
}
