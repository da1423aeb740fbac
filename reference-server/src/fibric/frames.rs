//! Fibric's stream frames, rendered once per filter set instead of once per subscriber.
//!
//! A frame's data carries a cursor bound to the subscriber's filter set, so it
//! differs between filter sets but not between subscribers that share one.
//! Subscribers of one filter set (a [`Group`]) read the same records at about
//! the same time, so the first to reach a record renders its frame and keeps
//! it in the group's ring; the others copy it. A record the subscriber's
//! filters refuse is kept as "no frame", so the refusal is decided once too.
//!
//! What this costs is bounded: a ring holds at most [`RING_FRAMES`] frames and
//! [`RING_BYTES`] bytes; a group has a ring only while two or more
//! subscribers share it (a subscriber alone renders its own, as before), and
//! at most [`MAX_RINGS`] groups have one at a time. Groups are dropped with
//! their last subscriber.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::store::Position;

/// The most frames a group's ring keeps: more than a read batch (256 by
/// default), so a subscriber a batch behind the first still finds its frames.
pub const RING_FRAMES: usize = 1024;
/// The most frame bytes a group's ring keeps.
pub const RING_BYTES: usize = 1 << 20;
/// The most groups with a ring at once.
pub const MAX_RINGS: usize = 64;

/// The live groups, by filter-set key ([`super::filter::FilterSet::key`]).
#[derive(Debug, Default)]
pub struct Frames {
    groups: Mutex<HashMap<Vec<u8>, Weak<Group>>>,
    /// How many groups have a ring now; at most [`MAX_RINGS`].
    rings: AtomicUsize,
}

impl Frames {
    /// The group of `key`, joined (made when it has no live subscriber).
    pub fn join(self: &Arc<Self>, key: Vec<u8>) -> Arc<Group> {
        let mut groups = lock(&self.groups);
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            return group;
        }
        groups.retain(|_, group| group.strong_count() > 0);
        let group = Arc::new(Group {
            frames: Arc::downgrade(self),
            ring: Mutex::new(None),
        });
        groups.insert(key, Arc::downgrade(&group));
        group
    }

    /// Takes one of the [`MAX_RINGS`] rings, if one is free.
    fn take_ring(&self) -> bool {
        self.rings
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_RINGS).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_ring(&self) {
        self.rings.fetch_sub(1, Ordering::Relaxed);
    }

    /// How many groups have a ring now.
    #[cfg(test)]
    fn rings(&self) -> usize {
        self.rings.load(Ordering::Relaxed)
    }
}

/// The subscribers of one filter set.
#[derive(Debug)]
pub struct Group {
    frames: Weak<Frames>,
    ring: Mutex<Option<Ring>>,
}

/// Consecutive positions from `first` on, each with its frame or none.
#[derive(Debug, Default)]
struct Ring {
    first: Position,
    frames: VecDeque<Option<Arc<str>>>,
    bytes: usize,
}

impl Group {
    /// The frame of the record at `position`: the group's, or `render`'s
    /// (then kept for the group).
    pub fn frame(
        self: &Arc<Self>,
        position: Position,
        render: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        // Each subscriber holds one count (in its render closure), the
        // group map none: a second count is a second subscriber.
        if Arc::strong_count(self) < 2 {
            self.drop_ring();
            return render();
        }
        if let Some(ring) = lock(&self.ring).as_ref()
            && let Some(kept) = ring.get(position)
        {
            return kept.as_deref().map(str::to_owned);
        }
        let frame = render();
        self.keep(position, frame.as_deref());
        frame
    }

    /// The `stream-claims-envelopes` defect: like [`Group::frame`], but a
    /// frame another subscriber of the group has already taken is not
    /// handed out again.
    pub fn claim(
        self: &Arc<Self>,
        position: Position,
        render: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        if Arc::strong_count(self) < 2 {
            self.drop_ring();
            return render();
        }
        if lock(&self.ring)
            .as_ref()
            .is_some_and(|ring| ring.get(position).is_some())
        {
            return None;
        }
        let frame = render();
        self.keep(position, frame.as_deref());
        frame
    }

    fn keep(&self, position: Position, frame: Option<&str>) {
        let mut ring = lock(&self.ring);
        if ring.is_none() {
            let room = self.frames.upgrade().is_some_and(|f| f.take_ring());
            if !room {
                return;
            }
        }
        let ring = ring.get_or_insert_with(Ring::default);
        ring.push(position, frame.map(Arc::from));
    }

    fn drop_ring(&self) {
        if lock(&self.ring).take().is_some()
            && let Some(frames) = self.frames.upgrade()
        {
            frames.give_ring();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.drop_ring();
    }
}

impl Ring {
    fn get(&self, position: Position) -> Option<&Option<Arc<str>>> {
        let index = position.checked_sub(self.first)?;
        self.frames.get(usize::try_from(index).ok()?)
    }

    /// Adds the frame of `position` after the newest; one beyond that starts
    /// the ring anew (the group moved on), one before it is not kept (a
    /// subscriber catching up renders its own).
    fn push(&mut self, position: Position, frame: Option<Arc<str>>) {
        let next = self.first + self.frames.len() as u64;
        if position < next && !self.frames.is_empty() {
            return;
        }
        if position != next || self.frames.is_empty() {
            self.frames.clear();
            self.bytes = 0;
            self.first = position;
        }
        self.bytes += frame.as_ref().map_or(0, |f| f.len());
        self.frames.push_back(frame);
        while self.frames.len() > RING_FRAMES || self.bytes > RING_BYTES {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.map_or(0, |f| f.len());
                self.first += 1;
            }
        }
    }
}

// The ring is changed in single steps, so a panic elsewhere leaves it whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn rendered(group: &Arc<Group>, position: Position, count: &Cell<usize>) -> Option<String> {
        group.frame(position, || {
            count.set(count.get() + 1);
            (!position.is_multiple_of(3)).then(|| format!("frame {position}\n"))
        })
    }

    #[test]
    fn subscribers_of_one_filter_set_render_each_record_once() {
        let frames = Arc::new(Frames::default());
        let one = frames.join(b"t\0".to_vec());
        let two = frames.join(b"t\0".to_vec());
        let count = Cell::new(0);
        for position in 1..=10 {
            let first = rendered(&one, position, &count);
            assert_eq!(rendered(&two, position, &count), first);
        }
        assert_eq!(count.get(), 10, "one render per record, refusals included");
        assert_eq!(rendered(&two, 3, &count), None, "a refusal is kept as one");
        assert_eq!(count.get(), 10);
        assert_eq!(frames.rings(), 1);
        drop(two);
        rendered(&one, 11, &count);
        assert_eq!(frames.rings(), 0, "a subscriber alone gives the ring back");
    }

    #[test]
    fn other_filter_sets_and_lone_subscribers_render_their_own() {
        let frames = Arc::new(Frames::default());
        let a = frames.join(b"t\0a".to_vec());
        let b = frames.join(b"t\0b".to_vec());
        let count = Cell::new(0);
        rendered(&a, 1, &count);
        rendered(&b, 1, &count);
        rendered(&a, 1, &count);
        assert_eq!(count.get(), 3, "a group of one keeps no ring");
        assert_eq!(frames.rings(), 0);
    }

    #[test]
    fn the_ring_forgets_the_oldest_and_moves_on_with_the_newest() {
        let frames = Arc::new(Frames::default());
        let one = frames.join(b"k".to_vec());
        let _two = frames.join(b"k".to_vec());
        let count = Cell::new(0);
        let last = RING_FRAMES as u64 + 10;
        for position in 1..=last {
            rendered(&one, position, &count);
        }
        assert_eq!(count.get(), last as usize);
        rendered(&one, 5, &count);
        rendered(&one, 5, &count);
        assert_eq!(
            count.get(),
            last as usize + 2,
            "position 5 was forgotten, and not kept again"
        );
        rendered(&one, last, &count);
        assert_eq!(count.get(), last as usize + 2, "the newest are kept");
        rendered(&one, last + 100, &count);
        rendered(&one, last + 101, &count);
        rendered(&one, last + 100, &count);
        rendered(&one, last + 101, &count);
        assert_eq!(
            count.get(),
            last as usize + 4,
            "a jump ahead starts the ring there"
        );
    }

    #[test]
    fn groups_end_with_their_subscribers_and_rings_are_capped() {
        let frames = Arc::new(Frames::default());
        let mut held = Vec::new();
        for i in 0..MAX_RINGS + 5 {
            let key = i.to_le_bytes().to_vec();
            let (a, b) = (frames.join(key.clone()), frames.join(key));
            rendered(&a, 1, &Cell::new(0));
            held.push((a, b));
        }
        assert_eq!(frames.rings(), MAX_RINGS);
        held.clear();
        assert_eq!(frames.rings(), 0, "a group's ring goes with it");
        let _fresh = frames.join(b"new".to_vec());
        assert_eq!(lock(&frames.groups).len(), 1, "dead groups are dropped");
    }
}
