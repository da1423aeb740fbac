//! TIDs: 13 characters of base32-sortable text for 53 bits of microseconds and 10 bits of clock id, the revs of commits.

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The TID for a time in microseconds and a clock id (only its low 10 bits count).
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .rev()
        .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
        .collect()
}

/// Whether `text` has a TID's syntax: 13 characters of the alphabet, the first one `2`–`j` (the top bit clear).
pub fn is_tid(text: &str) -> bool {
    text.len() == 13 && text.bytes().all(|b| ALPHABET.contains(&b)) && text.as_bytes()[0] <= b'j'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_sort_as_their_times() {
        let a = tid(1_700_000_000_000_000, 0);
        let b = tid(1_700_000_000_000_001, 0);
        let c = tid(1_700_000_000_000_001, 5);
        assert!(a < b && b < c);
        assert!(is_tid(&a) && is_tid(&c));
        assert_eq!(tid(0, 0), "2222222222222");
    }
}
