//! The wall clock, and the RFC 3339 text of its times.
//!
//! Handlers read the clock here and pass the time down, so the layers below
//! stay deterministic. Waits (keep-alives, status intervals, pings) use
//! `tokio::time`, which tests can pause and advance.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub fn now_micros() -> u64 {
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
    use super::*;

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
