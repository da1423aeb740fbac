//! What a load run measures: HDR histograms in microseconds, cut into intervals, and counters.
//!
//! Every task records into the current interval's histograms under one lock
//! (a few hundred nanoseconds per sample); a subscriber gathers a read's
//! samples and counts in a [`Local`] and adds them under one lock per read,
//! which at a million deliveries a second is the difference between a lock per
//! sample and a lock per chunk. Once a second the collector takes
//! the interval away, keeps it for the interval log, and adds it to the
//! totals. Totals are sums of intervals, so merging workers' logs later gives
//! exactly what one process recording every sample would have.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// The histograms of a run, by the name used in files, thresholds and reports.
pub const HISTOGRAMS: &[(&str, &str)] = &[
    (
        "deliver",
        "publish-to-delivery, from the intended send time (corrected for coordinated omission)",
    ),
    (
        "deliver_uncorrected",
        "publish-to-delivery, from the moment the publish was actually sent",
    ),
    (
        "ack_deliver",
        "a publish's acknowledgement to the event's delivery (the 1 µs floor when it arrived first)",
    ),
    (
        "publish_ack",
        "publish request to its acknowledgement, from the intended send time",
    ),
    (
        "connect",
        "subscriber connect: request to the stream's first byte of headers",
    ),
    (
        "first_event",
        "subscriber connect to its first event (of the run or not)",
    ),
    (
        "inter_arrival",
        "from one event to the next on one subscriber (keep-alives aside)",
    ),
    (
        "event_age",
        "an event's arrival minus the time it carries (Pulse id, Fauna txn_ts, Actyx timestamp, AT time), by the target's clock",
    ),
    (
        "reconnect",
        "a dropped subscriber's reconnect, from the drop to the new stream (resumed where the API can)",
    ),
    (
        "request",
        "request/response load (--users): request to the first byte of a successful answer",
    ),
];

/// The counters of a run.
pub const COUNTERS: &[(&str, &str)] = &[
    ("published", "publishes acknowledged"),
    ("publish_errors", "publishes refused or failed"),
    (
        "delivered",
        "events of this run received, summed over subscribers",
    ),
    (
        "lost",
        "events acknowledged but not received by a subscriber by the end of the grace period, summed over subscribers",
    ),
    ("duplicated", "events a subscriber received more than once"),
    (
        "delivered_before_ack",
        "events a subscriber received before their publisher had the acknowledgement",
    ),
    (
        "out_of_order",
        "events received before one a publisher had sent earlier",
    ),
    (
        "frames",
        "frames or lines read by subscribers, keep-alives included",
    ),
    ("bytes", "bytes read by subscribers"),
    (
        "subscriber_errors",
        "subscriber connections that failed, dropped or ended early (each drop is reconnected)",
    ),
    (
        "late_publishes",
        "publishes sent more than 100 ms after their intended time",
    ),
    ("requests", "request/response load: successful answers"),
    (
        "request_errors",
        "request/response load: refused or failed requests",
    ),
];

/// The largest value tracked: an hour, in microseconds.
const HIGHEST: u64 = 3_600_000_000;

pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST, 3).expect("static bounds are valid")
}

/// A set of histograms, one per name in [`HISTOGRAMS`].
#[derive(Debug, Clone)]
pub struct Set(pub BTreeMap<&'static str, Histogram<u64>>);

impl Default for Set {
    fn default() -> Self {
        Set(HISTOGRAMS
            .iter()
            .map(|(name, _)| (*name, histogram()))
            .collect())
    }
}

impl Set {
    /// Adds every histogram of `other` (same names) into this one.
    pub fn add(&mut self, other: &Set) {
        for (name, h) in &other.0 {
            if let Some(mine) = self.0.get_mut(name) {
                mine.add(h).expect("same bounds");
            }
        }
    }
}

/// One interval of a run.
#[derive(Debug, Clone)]
pub struct Interval {
    /// From the start of the run.
    pub start: Duration,
    pub length: Duration,
    pub set: Set,
}

/// The shared recorder of a run.
#[derive(Debug)]
pub struct Stats {
    current: Mutex<Set>,
    /// By index in [`COUNTERS`].
    counters: [AtomicU64; COUNTERS.len()],
}

/// For each histogram of a [`Set`] in its (sorted) order, its index in
/// [`HISTOGRAMS`]: a set always holds exactly those names.
fn sorted_order() -> &'static [usize] {
    static ORDER: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut order: Vec<usize> = (0..HISTOGRAMS.len()).collect();
        order.sort_by_key(|&index| HISTOGRAMS[index].0);
        order
    })
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            current: Mutex::new(Set::default()),
            counters: [const { AtomicU64::new(0) }; COUNTERS.len()],
        }
    }
}

impl Stats {
    /// Records `value` in the histogram `name`; values beyond an hour are clamped.
    pub fn record(&self, name: &str, value: Duration) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = current.0.get_mut(name) {
            h.saturating_record(micros(value));
        }
    }

    /// Adds what `local` gathered, under one lock, and empties it.
    ///
    /// At one delivery per read this runs once per delivery, so it finds
    /// each histogram by its place in the set, allocates nothing, and adds
    /// counts by index.
    pub fn flush(&self, local: &mut Local) {
        if !local.samples.is_empty() {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            let mut by_index: [Option<&mut Histogram<u64>>; HISTOGRAMS.len()] =
                [const { None }; HISTOGRAMS.len()];
            for (place, h) in current.0.values_mut().enumerate() {
                if let Some(&index) = sorted_order().get(place) {
                    by_index[index] = Some(h);
                }
            }
            for (index, value) in local.samples.drain(..) {
                if let Some(Some(h)) = by_index.get_mut(index) {
                    h.saturating_record(value);
                }
            }
        }
        for (counter, n) in self.counters.iter().zip(local.counts.iter_mut()) {
            if *n > 0 {
                counter.fetch_add(std::mem::take(n), Ordering::Relaxed);
            }
        }
    }

    pub fn count(&self, name: &str, n: u64) {
        if let Some(index) = COUNTERS.iter().position(|(c, _)| *c == name) {
            self.counters[index].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn counter(&self, name: &str) -> u64 {
        COUNTERS
            .iter()
            .position(|(c, _)| *c == name)
            .map_or(0, |index| self.counters[index].load(Ordering::Relaxed))
    }

    pub fn counters(&self) -> BTreeMap<&'static str, u64> {
        COUNTERS
            .iter()
            .zip(&self.counters)
            .map(|((name, _), c)| (*name, c.load(Ordering::Relaxed)))
            .collect()
    }

    /// Takes the histograms recorded since the last call.
    pub fn take_interval(&self) -> Set {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *current)
    }
}

/// Samples and counts gathered by one task, added to a [`Stats`] in one step by [`Stats::flush`].
#[derive(Debug, Default)]
pub struct Local {
    /// (index in [`HISTOGRAMS`], microseconds).
    samples: Vec<(usize, u64)>,
    /// By index in [`COUNTERS`].
    counts: [u64; COUNTERS.len()],
}

impl Local {
    /// As [`Stats::record`], held until the next flush.
    pub fn record(&mut self, name: &str, value: Duration) {
        if let Some(index) = HISTOGRAMS.iter().position(|(n, _)| *n == name) {
            self.samples.push((index, micros(value)));
        }
    }

    /// As [`Stats::count`], held until the next flush.
    pub fn count(&mut self, name: &str, n: u64) {
        if let Some(index) = COUNTERS.iter().position(|(c, _)| *c == name) {
            self.counts[index] += n;
        }
    }
}

/// A duration in whole microseconds, within the histograms' range.
fn micros(value: Duration) -> u64 {
    u64::try_from(value.as_micros())
        .unwrap_or(HIGHEST)
        .clamp(1, HIGHEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_add_up_to_what_was_recorded() {
        let stats = Stats::default();
        let mut total = Set::default();
        for round in 0..3u64 {
            for v in 1..=100u64 {
                stats.record("deliver", Duration::from_micros(v * (round + 1)));
            }
            total.add(&stats.take_interval());
        }
        let deliver = &total.0["deliver"];
        assert_eq!(deliver.len(), 300);
        assert_eq!(deliver.max(), 300);
        stats.count("lost", 2);
        assert_eq!(stats.counter("lost"), 2);
        assert_eq!(total.0["connect"].len(), 0);
    }

    #[test]
    fn a_flushed_local_adds_what_it_gathered_once() {
        let stats = Stats::default();
        let mut local = Local::default();
        local.record("deliver", Duration::from_micros(7));
        local.record("deliver", Duration::from_secs(7200));
        local.record("no such histogram", Duration::from_micros(1));
        local.count("delivered", 2);
        local.count("delivered", 1);
        assert_eq!(stats.counter("delivered"), 0, "held until the flush");
        stats.flush(&mut local);
        stats.flush(&mut local);
        let set = stats.take_interval();
        assert_eq!(set.0["deliver"].len(), 2);
        assert_eq!(set.0["deliver"].min(), 7);
        assert!(
            set.0["deliver"].max() >= HIGHEST,
            "clamped to an hour, not dropped"
        );
        assert_eq!(stats.counter("delivered"), 3);
    }

    #[test]
    fn every_histogram_and_counter_gets_what_was_gathered_under_its_own_name() {
        let stats = Stats::default();
        let mut local = Local::default();
        for (i, (name, _)) in HISTOGRAMS.iter().enumerate() {
            local.record(name, Duration::from_micros(100 + i as u64));
        }
        for (i, (name, _)) in COUNTERS.iter().enumerate() {
            local.count(name, 10 + i as u64);
        }
        stats.flush(&mut local);
        let set = stats.take_interval();
        for (i, (name, _)) in HISTOGRAMS.iter().enumerate() {
            assert_eq!(set.0[name].len(), 1, "{name}");
            assert_eq!(set.0[name].min(), 100 + i as u64, "{name}");
        }
        for (i, (name, _)) in COUNTERS.iter().enumerate() {
            assert_eq!(stats.counter(name), 10 + i as u64, "{name}");
            assert_eq!(stats.counters()[name], 10 + i as u64, "{name}");
        }
    }
}
