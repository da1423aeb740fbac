//! A run's side of `--remote-write`: the running totals, pushed as each interval closes.

use std::time::{Duration, SystemTime};

use super::Labels;
use super::remote_write::{PushSummary, Pusher};
use crate::load::stats::{Interval, Set, Stats};

/// How long the end of a run waits for the pushes still queued.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// The pusher and the totals since the run's start, which every push carries.
#[derive(Debug)]
pub struct Live {
    pusher: Pusher,
    totals: Set,
}

impl Live {
    /// Starts pushing to `url` (inside the tokio runtime).
    pub fn start(url: String, token: Option<String>, labels: Labels) -> Live {
        Live {
            pusher: Pusher::start(url, token, labels),
            totals: Set::default(),
        }
    }

    /// Adds a closed interval to the totals and pushes them, without waiting
    /// for the receiver.
    pub fn interval(&mut self, interval: &Interval, stats: &Stats) {
        self.totals.add(&interval.set);
        self.pusher
            .push(SystemTime::now(), &self.totals, &stats.counters());
    }

    /// Waits a little for the pushes still queued and says how they all went.
    pub async fn finish(self) -> PushSummary {
        self.pusher.finish(FINISH_WAIT).await
    }
}
