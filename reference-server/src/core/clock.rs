//! The wall clock, and the RFC 3339 text of its times.
//!
//! Handlers read the clock here and pass the time down, so the layers below
//! stay deterministic. The clock is the wall clock read once, when first
//! asked, then moved on by tokio's monotonic clock: it never goes backwards
//! (a wall clock stepped back cannot make a `txn_ts` or a token's expiry run
//! backwards), and a test that pauses tokio's time and advances it moves the
//! server's clock with it, so token expiry and history windows are tested
//! without sleeping. Waits (keep-alives, status intervals, pings) use
//! `tokio::time` too.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Microseconds since the Unix epoch.
pub fn now_micros() -> u64 {
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    let (wall, at) = *ANCHOR.get_or_init(|| (wall_micros(), Instant::now()));
    let since = Instant::now().saturating_duration_since(at).as_micros();
    wall.saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
}

fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// `2024-05-06T07:08:09.123456Z` for a time in microseconds since the Unix epoch.
pub fn rfc3339(micros: u64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// As [`rfc3339`], with milliseconds: `2024-05-06T07:08:09.123Z`.
pub fn rfc3339_millis(micros: u64) -> String {
    let full = rfc3339(micros);
    // `…SS.ffffffZ` → `…SS.fffZ`
    format!("{}Z", &full[..full.len() - 4])
}

/// Howard Hinnant's days-to-civil for days since 1970-01-01 (no dates before it here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_moves_with_tokios_time() {
        let before = now_micros();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let after = now_micros();
        assert!(after - before >= 3_600_000_000, "{before} → {after}");
        assert!(after - before < 3_601_000_000, "{before} → {after}");
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.789012Z, a leap day.
        assert_eq!(
            rfc3339(1_709_210_096_789_012),
            "2024-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            rfc3339_millis(1_709_210_096_789_012),
            "2024-02-29T12:34:56.789Z"
        );
    }
}
