//! The HTTP/1.1 head parser and body decoder: framing rules, limits, and any split of the bytes.

use proptest::prelude::*;

use super::*;

/// Decodes `raw` split at `cuts`; the payload, the bytes the body took, and the decoder.
fn decode_split(kind: BodyKind, raw: &[u8], cuts: &[usize]) -> (Vec<u8>, usize, BodyDecoder) {
    let mut decoder = BodyDecoder::new(kind);
    let mut payload = Vec::new();
    let mut taken = 0;
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(raw.len());
    for end in ends {
        if decoder.is_done() {
            break;
        }
        let used = decoder
            .decode(&raw[start..end], &mut |bytes| {
                payload.extend_from_slice(bytes)
            })
            .unwrap();
        taken += used;
        start = end;
    }
    (payload, taken, decoder)
}

/// `payload` as chunks of the given sizes (the rest in one more), with an
/// extension on every other size line and an optional trailer.
fn chunked(payload: &[u8], sizes: &[usize], trailer: bool) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut rest = payload;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes.get(i).map_or(rest.len(), |s| (s % rest.len()).max(1));
        let extension = if i % 2 == 1 { ";ext=\"v\"" } else { "" };
        raw.extend_from_slice(format!("{size:X}{extension}\r\n").as_bytes());
        raw.extend_from_slice(&rest[..size]);
        raw.extend_from_slice(b"\r\n");
        rest = &rest[size..];
        i += 1;
    }
    raw.extend_from_slice(b"0\r\n");
    if trailer {
        raw.extend_from_slice(b"x-checksum: 1\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

#[test]
fn a_head_says_its_status_headers_and_body_framing() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
    let (head, used) = parse_head(raw, 1024).unwrap().unwrap();
    assert_eq!(used, raw.len() - 3, "the body's bytes are not the head's");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.body, BodyKind::Chunked);
    assert!(!head.is_interim());
    assert_eq!(
        parse_head(&raw[..20], 1024),
        Ok(None),
        "half a head needs more"
    );
}

#[test]
fn the_body_framing_follows_rfc_9112() {
    let kind = |headers: &str, status: u16| {
        let raw = format!("HTTP/1.1 {status} X\r\n{headers}\r\n");
        parse_head(raw.as_bytes(), 1024).map(|h| h.unwrap().0.body)
    };
    assert_eq!(
        kind("content-length: 12\r\n", 200),
        Ok(BodyKind::Length(12))
    );
    assert_eq!(kind("", 200), Ok(BodyKind::UntilClose));
    assert_eq!(
        kind("transfer-encoding: gzip\r\n", 200),
        Ok(BodyKind::UntilClose)
    );
    assert_eq!(
        kind(
            "transfer-encoding: gzip, chunked\r\ncontent-length: 3\r\n",
            200
        ),
        Ok(BodyKind::Chunked),
        "chunked wins over content-length"
    );
    assert_eq!(kind("content-length: 7\r\n", 204), Ok(BodyKind::Length(0)));
    assert_eq!(
        kind("content-length: 3, 3\r\n", 200),
        Ok(BodyKind::Length(3))
    );
    assert!(matches!(
        kind("content-length: 3\r\ncontent-length: 4\r\n", 200),
        Err(Http1Error::BadHead(_))
    ));
    assert!(matches!(
        kind("content-length: -1\r\n", 200),
        Err(Http1Error::BadHead(_))
    ));
    let interim = parse_head(b"HTTP/1.1 100 Continue\r\n\r\n", 64)
        .unwrap()
        .unwrap()
        .0;
    assert!(interim.is_interim());
}

#[test]
fn a_head_past_its_limit_or_malformed_is_an_error() {
    let long = format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "a".repeat(100));
    assert_eq!(
        parse_head(long.as_bytes(), 64),
        Err(Http1Error::HeadTooLong { limit: 64 })
    );
    assert_eq!(
        parse_head(&long.as_bytes()[..80], 64),
        Err(Http1Error::HeadTooLong { limit: 64 }),
        "an unfinished head past the limit is refused without waiting for its end"
    );
    assert!(matches!(
        parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n", 64),
        Err(Http1Error::BadHead(_))
    ));
}

#[test]
fn a_chunked_body_ends_at_its_last_chunk_and_trailers() {
    let mut raw = b"4;name=value\r\nabcd\r\n2\r\nef\r\n0\r\nx-trailer: 1\r\n\r\n".to_vec();
    let body = raw.len();
    raw.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    let (payload, taken, decoder) = decode_split(BodyKind::Chunked, &raw, &[]);
    assert_eq!(payload, b"abcdef");
    assert_eq!(taken, body, "the next response's bytes are left alone");
    assert!(decoder.is_done());
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn broken_chunk_framing_is_an_error() {
    let error = |raw: &[u8]| {
        BodyDecoder::new(BodyKind::Chunked)
            .decode(raw, &mut |_| {})
            .unwrap_err()
    };
    assert_eq!(error(b"zz\r\n"), Http1Error::BadChunkSize);
    assert_eq!(error(b"\r\n"), Http1Error::BadChunkSize);
    assert_eq!(
        error(b"11111111111111111\r\n"),
        Http1Error::BadChunkSize,
        "over 64 bits"
    );
    assert_eq!(error(b"2\r\nabX"), Http1Error::BadChunkEnd);
    let long = format!("1;{}", "e".repeat(MAX_LINE));
    assert_eq!(error(long.as_bytes()), Http1Error::LineTooLong);
}

#[test]
fn a_closed_connection_cuts_a_framed_body_short_but_ends_one_until_close() {
    let mut decoder = BodyDecoder::new(BodyKind::Length(10));
    assert_eq!(decoder.decode(b"abc", &mut |_| {}), Ok(3));
    assert!(matches!(decoder.finish(), Err(Http1Error::Truncated(_))));
    let mut decoder = BodyDecoder::new(BodyKind::Chunked);
    decoder.decode(b"5\r\nab", &mut |_| {}).unwrap();
    assert!(matches!(decoder.finish(), Err(Http1Error::Truncated(_))));
    let decoder = BodyDecoder::new(BodyKind::UntilClose);
    assert_eq!(decoder.finish(), Ok(()));
}

proptest! {
    #[test]
    fn any_chunking_and_any_split_give_the_payload_back(
        payload in proptest::collection::vec(any::<u8>(), 1..600),
        sizes in proptest::collection::vec(1usize..200, 0..8),
        trailer in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut raw = chunked(&payload, &sizes, trailer);
        let body = raw.len();
        raw.extend_from_slice(b"0\r\n\r\n");
        let (got, taken, decoder) = decode_split(BodyKind::Chunked, &raw, &cuts);
        prop_assert_eq!(got, payload);
        prop_assert_eq!(taken, body);
        prop_assert!(decoder.is_done());
    }

    #[test]
    fn a_sized_body_takes_exactly_its_length(
        raw in proptest::collection::vec(any::<u8>(), 0..300),
        length in 0u64..300,
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let (got, taken, decoder) = decode_split(BodyKind::Length(length), &raw, &cuts);
        let expected = raw.len().min(length as usize);
        prop_assert_eq!(&got[..], &raw[..expected]);
        prop_assert_eq!(taken, expected);
        prop_assert_eq!(decoder.is_done(), raw.len() as u64 >= length);
    }

    #[test]
    fn any_bytes_decode_without_panic_and_give_no_more_than_they_hold(
        raw in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut decoder = BodyDecoder::new(BodyKind::Chunked);
        let mut out = 0;
        if let Ok(taken) = decoder.decode(&raw, &mut |bytes| out += bytes.len()) {
            prop_assert!(taken <= raw.len());
        }
        prop_assert!(out <= raw.len());
        let _ = parse_head(&raw, 256);
    }
}
