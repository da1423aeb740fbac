//! The open-loop schedule: when each event of a run is meant to be published, and which worker publishes it.
//!
//! Event `k` (0-based, counted over every worker) has an intended send time
//! fixed before the run starts: the rate climbs linearly from zero over the
//! ramp, then holds. Latency is measured from that time, so a target that
//! stalls cannot make the publisher send less and hide it (coordinated
//! omission). Which worker publishes event `k` is [`super::shard`]'s to say.
//!
//! A rate of `max` (infinite) is the closed loop: no event has an intended
//! time, each publisher worker sends its next request as soon as the last
//! one is acknowledged, until the duration is over. That finds the rate a
//! target accepts, at the price of the coordinated omission the open loop
//! avoids, so its `deliver` latency is measured from the actual send.

use std::time::Duration;

/// The most events a closed-loop run publishes (each costs a few bytes per subscriber).
pub const CLOSED_LOOP_EVENTS: u64 = 4_000_000;

/// Parses a `--rate`: events per second, or `max` for the closed loop.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    if text.trim().eq_ignore_ascii_case("max") {
        return Ok(f64::INFINITY);
    }
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite())
        .ok_or_else(|| format!("{text:?} is not a rate: give events per second (50, 2.5) or max"))
}

/// A fixed-rate schedule with a linear ramp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Events per second over all workers, once the ramp is over.
    pub rate: f64,
    /// The whole run, ramp included.
    pub duration: Duration,
    /// How long the rate takes to climb from zero to `rate`.
    pub ramp: Duration,
}

impl Schedule {
    /// A schedule, or why the numbers make none.
    pub fn new(rate: f64, duration: Duration, ramp: Duration) -> Result<Self, String> {
        // Zero publishes nothing: subscribers alone (a target without a producer) or requests alone.
        if rate.is_nan() || rate < 0.0 {
            return Err(format!(
                "the rate must be zero or a positive number of events per second, not {rate}"
            ));
        }
        if duration.is_zero() {
            return Err("the duration must be longer than zero".to_owned());
        }
        if ramp > duration {
            return Err(format!(
                "the ramp ({}) is longer than the run ({})",
                humantime::format_duration(ramp),
                humantime::format_duration(duration)
            ));
        }
        if rate.is_infinite() && !ramp.is_zero() {
            return Err("a closed loop (--rate max) has no ramp".to_owned());
        }
        let schedule = Schedule {
            rate,
            duration,
            ramp,
        };
        if schedule.total() > 100_000_000 {
            return Err(format!(
                "{} events is more than one run can track (100,000,000)",
                schedule.total()
            ));
        }
        Ok(schedule)
    }

    /// Events published during the ramp.
    fn ramp_events(&self) -> f64 {
        self.rate * self.ramp.as_secs_f64() / 2.0
    }

    /// Whether this is the closed loop (`--rate max`).
    pub fn is_closed(&self) -> bool {
        self.rate.is_infinite()
    }

    /// Every event of the run, over all workers; in a closed loop, the most it may publish.
    pub fn total(&self) -> u64 {
        if self.is_closed() {
            return CLOSED_LOOP_EVENTS;
        }
        let steady = self.rate * (self.duration - self.ramp).as_secs_f64();
        (self.ramp_events() + steady).floor() as u64
    }

    /// When event `k` is meant to be sent, from the start of the run (at once in a closed loop).
    pub fn intended(&self, k: u64) -> Duration {
        if self.is_closed() {
            return Duration::ZERO;
        }
        let k = k as f64;
        let ramp = self.ramp.as_secs_f64();
        let seconds = if k < self.ramp_events() {
            // Under a rate rising as rate·t/ramp, k events have gone by t = √(2·k·ramp/rate).
            (2.0 * k * ramp / self.rate).sqrt()
        } else {
            ramp + (k - self.ramp_events()) / self.rate
        };
        Duration::from_secs_f64(seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_schedule_spaces_events_evenly() {
        let s = Schedule::new(100.0, Duration::from_secs(2), Duration::ZERO).unwrap();
        assert_eq!(s.total(), 200);
        assert_eq!(s.intended(0), Duration::ZERO);
        assert_eq!(s.intended(150), Duration::from_millis(1500));
    }

    #[test]
    fn a_ramp_halves_the_events_of_its_span_and_ends_on_schedule() {
        let s = Schedule::new(100.0, Duration::from_secs(3), Duration::from_secs(2)).unwrap();
        // 100 during the ramp (half of 2 s at 100/s), 100 in the last second.
        assert_eq!(s.total(), 200);
        let at_end_of_ramp = s.intended(100).as_secs_f64();
        assert!((at_end_of_ramp - 2.0).abs() < 1e-9, "{at_end_of_ramp}");
        // A quarter of the ramp's events by half its time.
        assert!((s.intended(25).as_secs_f64() - 1.0).abs() < 1e-9);
        assert!((0..200).all(|k| s.intended(k) <= s.intended(k + 1)));
    }

    #[test]
    fn a_closed_loop_sends_at_once_and_is_bounded() {
        let s = Schedule::new(
            parse_rate("max").unwrap(),
            Duration::from_secs(2),
            Duration::ZERO,
        )
        .unwrap();
        assert!(s.is_closed());
        assert_eq!(s.total(), CLOSED_LOOP_EVENTS);
        assert_eq!(s.intended(12_345), Duration::ZERO);
        assert!(
            Schedule::new(
                f64::INFINITY,
                Duration::from_secs(2),
                Duration::from_secs(1)
            )
            .is_err()
        );
        assert_eq!(parse_rate(" 2.5 "), Ok(2.5));
        assert!(parse_rate("fast").unwrap_err().contains("max"));
        assert!(parse_rate("inf").is_err());
    }

    #[test]
    fn a_negative_rate_a_silent_run_and_a_ramp_beyond_the_run() {
        assert!(Schedule::new(-1.0, Duration::from_secs(1), Duration::ZERO).is_err());
        let silent = Schedule::new(0.0, Duration::from_secs(5), Duration::from_secs(1)).unwrap();
        assert_eq!(silent.total(), 0);
        assert!(Schedule::new(1.0, Duration::from_secs(1), Duration::from_secs(2)).is_err());
    }
}
