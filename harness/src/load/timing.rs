//! The coordinated-omission correction: the moment a latency is measured from.
//!
//! A load tool that waits for one answer before sending the next request
//! hides a stall of the target: the requests that should have gone out
//! during it are sent late, and timed from the late send they look fast.
//! Timing each from the moment the schedule meant to send it charges them
//! the stall, as a user waiting for them would be charged (Gil Tene's
//! coordinated omission). A closed loop (`--rate max`) has no schedule, so
//! its latencies start at the actual send.

use std::time::Duration;

/// When the latency of an event (or of a publish request) starts, as an
/// offset from the schedule's start.
///
/// - an open loop: `intended`, the time the schedule meant it to go out,
///   even when it went out later;
/// - a closed loop: `sent`, when it actually went out; `None` when it was
///   never sent, as no latency can be told then.
pub fn latency_origin(
    closed: bool,
    intended: Duration,
    sent: Option<Duration>,
) -> Option<Duration> {
    if closed { sent } else { Some(intended) }
}

/// A latency from `origin` to `now`, both offsets from the schedule's start;
/// zero when `now` came first (a clock read before the origin was stored).
pub fn since(origin: Duration, now: Duration) -> Duration {
    now.saturating_sub(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_open_loop_charges_a_late_send_its_wait() {
        // Meant for 10 ms, sent at 510 ms behind a 500 ms stall, delivered at 512 ms.
        let origin = latency_origin(false, 10 * MS, Some(510 * MS)).unwrap();
        assert_eq!(since(origin, 512 * MS), 502 * MS);
    }

    #[test]
    fn an_open_loop_times_from_the_schedule_even_when_the_send_is_unknown() {
        assert_eq!(latency_origin(false, 10 * MS, None), Some(10 * MS));
    }

    #[test]
    fn a_closed_loop_times_from_the_send() {
        let origin = latency_origin(true, Duration::ZERO, Some(510 * MS)).unwrap();
        assert_eq!(since(origin, 512 * MS), 2 * MS);
        assert_eq!(latency_origin(true, 10 * MS, None), None);
    }

    #[test]
    fn a_delivery_seen_before_its_origin_is_zero_not_negative() {
        assert_eq!(since(20 * MS, 19 * MS), Duration::ZERO);
    }
}
