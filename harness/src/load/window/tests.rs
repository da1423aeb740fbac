//! The windows: exact for a run that fits, bounded and still counting every loss for one that does not.

use std::time::Duration;

use super::*;

/// A ledger of `events`, each sent and acknowledged, except the failed ones.
fn ledger(events: u64, failed: &[u64]) -> Ledger {
    let ledger = Ledger::new(events);
    for i in 0..events {
        ledger.sent(i, Duration::from_micros(i));
        if failed.contains(&i) {
            ledger.failed(i);
        } else {
            ledger.acked(i, Duration::from_micros(i + 5));
        }
    }
    ledger
}

#[test]
fn a_run_that_fits_is_counted_exactly() {
    let ledger = ledger(1000, &[7]);
    let mut seen = Seen::new(1);
    for i in (0..1000).filter(|i| ![3, 7, 500].contains(i)) {
        assert_eq!(seen.insert(i, &ledger), Arrival::First);
    }
    assert_eq!(seen.insert(10, &ledger), Arrival::Again);
    // 3 and 500 were acknowledged and never came; 7 failed.
    assert_eq!(seen.missed(1000, &ledger), 2);
    assert_eq!(ledger.sent_at(999), Some(Duration::from_micros(999)));
    assert_eq!(ledger.acked_at(999), Some(Duration::from_micros(1004)));
    assert_eq!(ledger.fate(7), Some(Fate::Failed));
}

#[test]
fn a_long_run_keeps_a_bounded_window_and_still_counts_every_loss() {
    let events = LEDGER + 5 * WINDOW + 123;
    let ledger = ledger(events, &[]);
    let skipped = [
        5,
        WINDOW + 1,
        2 * WINDOW + 7,
        LEDGER + 4 * WINDOW,
        events - 1,
    ];
    let mut seen = Seen::new(1);
    for i in (0..events).filter(|i| !skipped.contains(i)) {
        assert_eq!(seen.insert(i, &ledger), Arrival::First, "{i}");
    }
    assert!(
        seen.bits.len() as u64 <= seen.window / 64,
        "{} words",
        seen.bits.len()
    );
    assert_eq!(ledger.slots.len() as u64, events.min(LEDGER));
    assert_eq!(seen.missed(events, &ledger), skipped.len() as u64);
    // The ledger forgot the oldest events, and knows the newest.
    assert_eq!(ledger.sent_at(0), None);
    assert_eq!(
        ledger.sent_at(events - 1),
        Some(Duration::from_micros(events - 1))
    );
}

#[test]
fn an_event_later_than_the_window_was_counted_lost_and_its_copy_is_behind() {
    let events = 3 * WINDOW;
    let ledger = ledger(events, &[]);
    let mut seen = Seen::new(1);
    for i in 1..events {
        seen.insert(i, &ledger);
    }
    assert_eq!(seen.insert(0, &ledger), Arrival::Behind);
    assert_eq!(seen.missed(events, &ledger), 1);
}

#[test]
fn an_unsent_event_is_not_lost_and_a_jump_past_the_window_settles_what_it_skipped() {
    let ledger = Ledger::new(4 * WINDOW);
    for i in 0..=3 * WINDOW {
        ledger.sent(i, Duration::ZERO);
        ledger.acked(i, Duration::ZERO);
    }
    let mut seen = Seen::new(1);
    seen.insert(0, &ledger);
    // A jump over everything between, all sent and acknowledged.
    seen.insert(3 * WINDOW, &ledger);
    // Issued up to 3W + 5, but 3W + 1 .. 3W + 4 were never sent: not lost.
    assert_eq!(seen.missed(3 * WINDOW + 5, &ledger), 3 * WINDOW - 1);
    assert!(!ledger.lost_if_unseen(3 * WINDOW + 1));
    assert!(ledger.lost_if_unseen(1), "acknowledged, never seen");
}

#[test]
fn the_window_spans_four_times_what_the_publishers_have_in_flight() {
    assert_eq!(Seen::new(1).window, WINDOW);
    // 64 publishers sending batches of 100: 6,400 events in flight at once.
    assert_eq!(Seen::new(6400).window, 32_768);
}
