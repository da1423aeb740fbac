//! What a load run keeps per event, for the newest events only, so a run of any length holds a fixed amount of memory: the publishers' ledger (sent, acknowledged, failed) and each subscriber's bit per event seen.
//!
//! The ledger has [`LEDGER`] slots, each tagged with the event in it: a run of
//! up to that many events keeps all of them, a longer one the newest, so a
//! subscriber as far as `LEDGER` events behind the publishers still has its
//! events' send and acknowledgement times. A subscriber's bits cover the
//! events up to the newest it has seen, at least [`WINDOW`] and at least four
//! times the events the publishers may have in flight at once: streams
//! deliver in order, or nearly (concurrent publishers, a merge of Actyx
//! streams, a replay after a reconnect), so the window only has to span how
//! far out of order an event may come, not how far behind a subscriber is. When the window moves on, the events leaving it
//! are settled: one the subscriber never saw whose publish was acknowledged
//! is lost, as it would be at the end of the run. An event that comes more
//! than the window after a newer one was counted lost when the window
//! passed it, and its late copy counts as a duplicate. An unseen event whose
//! slot the ledger has reused for a later one counts as lost too.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

/// The fewest events a subscriber's window covers (512 bytes of bits).
pub const WINDOW: u64 = 1 << 12;
/// Events the ledger keeps (about 8 MiB).
pub const LEDGER: u64 = 1 << 18;

/// The fate of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Pending,
    Acked,
    Failed,
}

/// One slot of the ledger.
#[derive(Debug, Default)]
struct Slot {
    /// The event in the slot, plus one (0: none yet).
    event: AtomicU64,
    /// When it was actually sent, in microseconds after the start, plus one (0: not yet).
    sent: AtomicU64,
    /// When its acknowledgement came, the same way.
    acked_at: AtomicU64,
    fate: AtomicU8,
}

/// The publishers' record of the newest events.
#[derive(Debug)]
pub struct Ledger {
    slots: Vec<Slot>,
    /// Events of this worker in the whole run.
    events: u64,
}

impl Ledger {
    /// A ledger for a run of `events` events.
    pub fn new(events: u64) -> Ledger {
        let slots = events.min(LEDGER) as usize;
        Ledger {
            slots: (0..slots).map(|_| Slot::default()).collect(),
            events,
        }
    }

    /// Events of this worker in the whole run.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn slot(&self, i: u64) -> &Slot {
        &self.slots[(i % self.slots.len() as u64) as usize]
    }

    /// The slot of `i`, if it still holds `i`.
    fn holding(&self, i: u64) -> Option<&Slot> {
        (i < self.events)
            .then(|| self.slot(i))
            .filter(|slot| slot.event.load(Ordering::Acquire) == i + 1)
    }

    /// Event `i` is being sent, `at` after the start: it takes its slot.
    pub fn sent(&self, i: u64, at: Duration) {
        let slot = self.slot(i);
        slot.fate.store(FATE_PENDING, Ordering::Release);
        slot.acked_at.store(0, Ordering::Release);
        slot.sent.store(micros_plus_one(at), Ordering::Release);
        slot.event.store(i + 1, Ordering::Release);
    }

    /// Event `i` was acknowledged `at` after the start.
    pub fn acked(&self, i: u64, at: Duration) {
        if let Some(slot) = self.holding(i) {
            slot.acked_at.store(micros_plus_one(at), Ordering::Release);
            slot.fate.store(FATE_ACKED, Ordering::Release);
        }
    }

    pub fn failed(&self, i: u64) {
        if let Some(slot) = self.holding(i) {
            slot.fate.store(FATE_FAILED, Ordering::Release);
        }
    }

    /// When `i` was sent; `None` when not yet or no longer known.
    pub fn sent_at(&self, i: u64) -> Option<Duration> {
        self.holding(i).and_then(|slot| offset(&slot.sent))
    }

    pub fn acked_at(&self, i: u64) -> Option<Duration> {
        self.holding(i).and_then(|slot| offset(&slot.acked_at))
    }

    /// The fate of `i`; `None` once its slot holds a later event.
    pub fn fate(&self, i: u64) -> Option<Fate> {
        self.holding(i)
            .map(|slot| match slot.fate.load(Ordering::Acquire) {
                FATE_ACKED => Fate::Acked,
                FATE_FAILED => Fate::Failed,
                _ => Fate::Pending,
            })
    }

    /// Whether an unseen event `i` counts as lost: acknowledged, or gone from
    /// the ledger (a later event holds its slot: it was sent so long ago that
    /// its fate is no longer known). One not sent yet is not lost.
    pub fn lost_if_unseen(&self, i: u64) -> bool {
        if i >= self.events {
            return false;
        }
        let held = self.slot(i).event.load(Ordering::Acquire);
        if held == i + 1 {
            self.fate(i) == Some(Fate::Acked)
        } else {
            held > i + 1
        }
    }
}

const FATE_PENDING: u8 = 0;
const FATE_ACKED: u8 = 1;
const FATE_FAILED: u8 = 2;

fn micros_plus_one(at: Duration) -> u64 {
    at.as_micros() as u64 + 1
}

/// A time stored as microseconds plus one (0: not yet), as an offset.
fn offset(stored: &AtomicU64) -> Option<Duration> {
    match stored.load(Ordering::Acquire) {
        0 => None,
        micros_plus_one => Some(Duration::from_micros(micros_plus_one - 1)),
    }
}

/// A subscriber's bit per event, for the window of events up to the newest it has seen.
#[derive(Debug)]
pub struct Seen {
    /// Events the window covers, a power of two.
    window: u64,
    /// Bit `i % window`, grown as events arrive (a closed loop has room for
    /// millions of events and uses a fraction of them).
    bits: Vec<u64>,
    /// The oldest event the window covers; every older one is settled.
    base: u64,
    /// Settled events that were lost.
    lost: u64,
}

/// What a subscriber's window says of an event that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    First,
    Again,
    /// Older than the window: settled already (lost, or seen), so not counted again.
    Behind,
}

impl Seen {
    /// A window for a run whose publishers have at most `in_flight` events out at once.
    pub fn new(in_flight: u64) -> Seen {
        Seen {
            window: in_flight.saturating_mul(4).next_power_of_two().max(WINDOW),
            bits: Vec::new(),
            base: 0,
            lost: 0,
        }
    }

    /// Marks `i`, moving the window on (and settling what leaves it) when `i` is past it.
    pub fn insert(&mut self, i: u64, ledger: &Ledger) -> Arrival {
        if i < self.base {
            return Arrival::Behind;
        }
        if i >= self.base + self.window {
            self.settle_to(i + 1 - self.window, ledger);
        }
        let (word, bit) = (((i % self.window) / 64) as usize, 1u64 << (i % 64));
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let first = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        if first {
            Arrival::First
        } else {
            Arrival::Again
        }
    }

    fn contains(&self, i: u64) -> bool {
        i >= self.base
            && i < self.base + self.window
            && self
                .bits
                .get(((i % self.window) / 64) as usize)
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Settles every event before `base`: lost if unseen and acknowledged.
    fn settle_to(&mut self, base: u64, ledger: &Ledger) {
        let end = base.min(self.base + self.window);
        for j in self.base..end {
            if !self.contains(j) && ledger.lost_if_unseen(j) {
                self.lost += 1;
            }
            if let Some(word) = self.bits.get_mut(((j % self.window) / 64) as usize) {
                *word &= !(1u64 << (j % 64));
            }
        }
        // A jump past the whole window: none of those events were seen.
        for j in end..base {
            if ledger.lost_if_unseen(j) {
                self.lost += 1;
            }
        }
        self.base = base;
    }

    /// The events up to `issued` this subscriber never received and whose publish was acknowledged.
    pub fn missed(&self, issued: u64, ledger: &Ledger) -> u64 {
        let unsettled = (self.base..issued.min(ledger.events()))
            .filter(|&i| !self.contains(i) && ledger.lost_if_unseen(i))
            .count() as u64;
        self.lost + unsettled
    }
}

#[cfg(test)]
mod tests;
