//! The lexicon string formats a frame's fields must have: `did`, `tid` and `datetime`, written from the atproto specs apart from the reference server.

/// The atproto DID syntax: `did:`, a lower-case method, `:`, an identifier of
/// `[A-Za-z0-9._:%-]` that does not end in `:` or `%`; at most 2 KiB.
pub fn is_did(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    text.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:%".contains(&b))
        && !id.ends_with([':', '%'])
}

/// A TID: 13 characters of base32-sortable, the first with the top bit clear.
pub fn is_tid(text: &str) -> bool {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    text.len() == 13
        && text.bytes().all(|b| ALPHABET.contains(&b))
        && text
            .bytes()
            .next()
            .is_some_and(|b| b"234567abcdefghij".contains(&b))
}

/// An atproto `datetime`: RFC 3339 with upper-case `T`, seconds, optional
/// fractional seconds, and `Z` or a `±HH:MM` offset.
pub fn is_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.len() == range.len() && d.iter().all(u8::is_ascii_digit))
    };
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|d| d.parse::<u32>().ok())
            .unwrap_or(99)
    };
    let date = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !date
        || !(1..=12).contains(&number(5..7))
        || !(1..=31).contains(&number(8..10))
        || number(11..13) > 23
        || number(14..16) > 59
        || number(17..19) > 60
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    match rest.as_bytes() {
        [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2] => {
            (*sign == b'+' || *sign == b'-')
                && [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && rest != "-00:00"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dids_tids_and_datetimes_follow_the_atproto_syntax() {
        assert!(is_did("did:plc:z72i7hdynmk6r22z27h6tvur"));
        assert!(is_did("did:web:example.com%3A8080"));
        for bad in [
            "did:plc:",
            "did:PLC:x",
            "plc:x",
            "did:plc:x:",
            "did:plc:a b",
        ] {
            assert!(!is_did(bad), "{bad}");
        }
        assert!(is_tid("3jzfcijpj2z2a"));
        for bad in [
            "3jzfcijpj2z2",
            "zjzfcijpj2z2a",
            "3jzfcijpj2z2A",
            "3jzfcijpj2z21",
        ] {
            assert!(!is_tid(bad), "{bad}");
        }
        for good in [
            "1985-04-12T23:20:50.123Z",
            "1985-04-12T23:20:50Z",
            "1985-04-12T23:20:50.123456+07:00",
        ] {
            assert!(is_datetime(good), "{good}");
        }
        for bad in [
            "",
            "1985-04-12",
            "1985-04-12t23:20:50Z",
            "1985-04-12T23:20Z",
            "1985-04-12T23:20:50",
            "1985-13-12T23:20:50Z",
            "1985-04-12T23:20:50.Z",
            "1985-04-12T23:20:50-00:00",
        ] {
            assert!(!is_datetime(bad), "{bad}");
        }
    }
}
