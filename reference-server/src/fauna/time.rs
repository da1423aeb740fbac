//! Fauna's times: microseconds since the epoch, and the RFC 3339 text of `@time` values (written by the core's clock, parsed here).

pub use crate::core::clock::rfc3339;

/// Parses what [`rfc3339`] writes, and the same with fewer fraction digits,
/// none, or a `+00:00` offset. Other offsets are refused: Fauna writes UTC.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.split('-');
    let year: u64 = date_parts.next()?.parse().ok()?;
    let month: u64 = date_parts.next()?.parse().ok()?;
    let day: u64 = date_parts.next()?.parse().ok()?;
    if date_parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, fraction),
        None => (time, ""),
    };
    let mut clock_parts = clock.split(':');
    let hour: u64 = clock_parts.next()?.parse().ok()?;
    let minute: u64 = clock_parts.next()?.parse().ok()?;
    let second: u64 = clock_parts.next()?.parse().ok()?;
    if clock_parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut micros_text = fraction.chars().take(6).collect::<String>();
    while micros_text.len() < 6 {
        micros_text.push('0');
    }
    let micros: u64 = micros_text.parse().ok()?;
    let days = days_from_civil(year, month, day)?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.789012Z, a leap day.
        let micros = 1_709_210_096_789_012;
        assert_eq!(rfc3339(micros), "2024-02-29T12:34:56.789012Z");
        assert_eq!(parse_rfc3339("2024-02-29T12:34:56.789012Z"), Some(micros));
        assert_eq!(parse_rfc3339("2024-02-29T12:34:56.789Z"), Some(micros - 12));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56+00:00"),
            Some(micros - 789_012)
        );
    }

    #[test]
    fn round_trips_and_refusals() {
        for micros in [
            1,
            86_399_999_999,
            951_782_400_000_000,
            4_102_444_800_000_001,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(micros)), Some(micros));
        }
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00+01:00",
            "2024-01-01",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
