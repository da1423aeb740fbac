//! Event ids: ULIDs (a 48-bit millisecond timestamp, then 80 random bits) as 26 Crockford base32 characters, handed out strictly increasing.
//!
//! The randomness comes from the standard library's [`RandomState`], whose
//! keys are drawn from the operating system once per process, hashed with the
//! time and a counter. That is unpredictable enough for ids that only need to
//! be unique and ordered; nothing here is a secret.

use std::fmt;
use std::hash::{BuildHasher, RandomState};

/// Crockford's base32 alphabet: digits and upper-case letters without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a ULID's text form.
pub const LEN: usize = 26;
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;
const MAX_TIMESTAMP_MS: u64 = (1 << 48) - 1;

/// A ULID as its 128-bit value; the text form sorts like the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ulid(pub u128);

impl Ulid {
    /// The ULID of `timestamp_ms` (clamped to 48 bits) and the low 80 bits of `random`.
    pub fn from_parts(timestamp_ms: u64, random: u128) -> Self {
        let timestamp = u128::from(timestamp_ms.min(MAX_TIMESTAMP_MS));
        Self((timestamp << RANDOM_BITS) | (random & RANDOM_MASK))
    }

    pub fn timestamp_ms(self) -> u64 {
        u64::try_from(self.0 >> RANDOM_BITS).unwrap_or(MAX_TIMESTAMP_MS)
    }

    /// Decodes the canonical text form: exactly 26 upper-case Crockford
    /// characters, the first at most `7` so that the value fits in 128 bits.
    pub fn parse(text: &str) -> Option<Self> {
        if !is_well_formed(text) || text.as_bytes()[0] > b'7' {
            return None;
        }
        let mut value: u128 = 0;
        for byte in text.bytes() {
            let digit = ALPHABET.iter().position(|c| *c == byte)?;
            value = (value << 5) | u128::try_from(digit).ok()?;
        }
        Some(Self(value))
    }
}

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; LEN];
        for (index, slot) in text.iter_mut().enumerate() {
            let shift = 5 * (LEN - 1 - index);
            let digit = usize::try_from((self.0 >> shift) & 31).unwrap_or(0);
            *slot = ALPHABET[digit];
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Whether `text` matches the seed's pattern `^[0-9A-HJKMNP-TV-Z]{26}$`.
///
/// This is what the API calls a well-formed id. It is a little wider than
/// [`Ulid::parse`]: a first character above `7` matches the pattern but
/// overflows 128 bits, so no event ever has such an id.
pub fn is_well_formed(text: &str) -> bool {
    text.len() == LEN && text.bytes().all(|byte| ALPHABET.contains(&byte))
}

/// Hands out ULIDs that are strictly increasing, whatever the clock does.
#[derive(Debug)]
pub struct Generator {
    last: Option<Ulid>,
    keys: RandomState,
    counter: u64,
}

impl Generator {
    /// A generator whose ids all sort after `last` (the newest id already handed out).
    pub fn new(last: Option<Ulid>) -> Self {
        Self {
            last,
            keys: RandomState::new(),
            counter: 0,
        }
    }

    /// The next id for an event at `now_ms`. When the fresh id would not sort
    /// after the previous one (same millisecond, or the clock went back), the
    /// previous one plus one is used instead. `None` only once the 128-bit
    /// space is exhausted.
    pub fn next(&mut self, now_ms: u64) -> Option<Ulid> {
        let fresh = self.fresh(now_ms);
        let id = match self.last {
            Some(last) if fresh <= last => Ulid(last.0.checked_add(1)?),
            _ => fresh,
        };
        self.last = Some(id);
        Some(id)
    }

    /// The `ulid-not-monotonic` defect: within the millisecond of the
    /// previous id, a fresh random id, which sorts before the previous one
    /// about half the time. Across milliseconds it behaves like [`Self::next`].
    pub fn next_unordered(&mut self, now_ms: u64) -> Option<Ulid> {
        match self.last {
            Some(last) if last.timestamp_ms() == now_ms => {
                let fresh = self.fresh(now_ms);
                self.last = Some(last.max(fresh));
                Some(fresh)
            }
            _ => self.next(now_ms),
        }
    }

    /// A random id of `now_ms`, unrelated to the previous one.
    fn fresh(&mut self, now_ms: u64) -> Ulid {
        self.counter = self.counter.wrapping_add(1);
        let high = self.keys.hash_one((now_ms, self.counter, 0u8));
        let low = self.keys.hash_one((now_ms, self.counter, 1u8));
        Ulid::from_parts(now_ms, (u128::from(high) << 64) | u128::from(low))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_example_round_trips() {
        let text = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        let ulid = Ulid::parse(text).unwrap();
        assert_eq!(ulid.0, 0x0156_3e3a_b5d3_d676_4c61_efb9_9302_bd5b);
        assert_eq!(ulid.timestamp_ms(), 1_469_922_850_259);
        assert_eq!(ulid.to_string(), text);
    }

    #[test]
    fn extremes_encode_and_decode() {
        assert_eq!(Ulid(0).to_string(), "0".repeat(LEN));
        assert_eq!(Ulid(u128::MAX).to_string(), format!("7{}", "Z".repeat(25)));
        assert_eq!(
            Ulid::parse(&Ulid(u128::MAX).to_string()),
            Some(Ulid(u128::MAX))
        );
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in [
            "",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
            "01arz3ndektsv4rrffq69g5fav",
            "01ARZ3NDEKTSV4RRFFQ69G5FAI",
            "01ARZ3NDEKTSV4RRFFQ69G5FAU",
            "01ARZ3NDEKTSV4RRFFQ69G5FA-",
        ] {
            assert!(!is_well_formed(text), "{text}");
            assert_eq!(Ulid::parse(text), None, "{text}");
        }
        // Well-formed by the pattern, but beyond 128 bits.
        let overflow = format!("8{}", "0".repeat(25));
        assert!(is_well_formed(&overflow));
        assert_eq!(Ulid::parse(&overflow), None);
    }

    #[test]
    fn ids_increase_within_a_millisecond_and_when_the_clock_goes_back() {
        let mut generator = Generator::new(None);
        let mut previous = generator.next(1_000).unwrap();
        assert_eq!(previous.timestamp_ms(), 1_000);
        for now in [1_000, 1_000, 999, 5, 1_000, 2_000, 2_000] {
            let id = generator.next(now).unwrap();
            assert!(id > previous, "{id} after {previous}");
            assert!(id.to_string() > previous.to_string());
            previous = id;
        }
        assert!(previous.timestamp_ms() >= 2_000);
    }

    #[test]
    fn unordered_ids_go_backwards_within_a_millisecond_only() {
        let mut generator = Generator::new(None);
        let ids: Vec<Ulid> = (0..32)
            .map(|_| generator.next_unordered(7_000).unwrap())
            .collect();
        assert!(ids.iter().all(|id| id.timestamp_ms() == 7_000));
        assert!(ids.windows(2).any(|pair| pair[1] < pair[0]));
        let later = generator.next_unordered(7_001).unwrap();
        assert!(ids.iter().all(|id| *id < later));
    }

    #[test]
    fn a_generator_continues_after_the_last_id_it_is_given() {
        let last = Ulid::from_parts(10_000, u128::MAX);
        let mut generator = Generator::new(Some(last));
        assert_eq!(generator.next(9_000), Some(Ulid(last.0 + 1)));
        assert_eq!(Generator::new(Some(Ulid(u128::MAX))).next(1), None);
    }
}
