//! SSE tests: hand-written golden streams from `fixtures/wire/sse/`, encoder round trips, chunking properties and limits.
//!
//! Each `<name>.sse` fixture is raw stream bytes; `<name>.expected.json` lists
//! what a WHATWG parser must report for it (see [`check`]). Both are written by
//! hand from the spec, never by our encoder, so a bug shared by the parser and
//! the encoder cannot hide here.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use wire::sse::{
    Discarded, EncodeEvent, SseError, SseEvent, SseItem, SseLimits, SseParser, SseRef,
    encode_comment, encode_event, encode_retry,
};

use crate::support::wire_fixtures;

/// Everything a parser reports for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    items: Vec<SseItem>,
    /// The error that stopped `next_item`, if any; nothing is pushed after it.
    error: Option<SseError>,
    finish: Result<Option<Discarded>, SseError>,
    last_event_id: String,
    reconnection_time: Option<u64>,
}

/// Feeds `chunks` one push at a time, draining after each push as a client would.
fn run<'a>(limits: SseLimits, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    run_with(limits, chunks, SseParser::next_item)
}

/// As [`run`], through `next_ref`, each lent event copied out.
fn run_lent<'a>(limits: SseLimits, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    run_with(limits, chunks, |parser| {
        Ok(parser.next_ref()?.map(|item| match item {
            SseRef::Event(event) => SseItem::Event(SseEvent {
                event_type: event.event_type.to_owned(),
                data: event.data.to_owned(),
                last_event_id: event.last_event_id.to_owned(),
                id_field_seen: event.id_field_seen,
            }),
            SseRef::Item(item) => item,
        }))
    })
}

fn run_with<'a>(
    limits: SseLimits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    mut next: impl FnMut(&mut SseParser) -> Result<Option<SseItem>, SseError>,
) -> Outcome {
    let mut parser = SseParser::new(limits);
    let mut items = Vec::new();
    let mut error = None;
    'feed: for chunk in chunks {
        parser.push(chunk);
        loop {
            match next(&mut parser) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(err) => {
                    error = Some(err);
                    break 'feed;
                }
            }
        }
        // Whatever the chunking, a drained parser holds at most one partial line
        // (or the start of a possible byte order mark).
        assert!(parser.bytes_buffered() <= limits.max_line_bytes.max(2));
    }
    Outcome {
        items,
        error,
        finish: parser.finish(),
        last_event_id: parser.last_event_id().to_owned(),
        reconnection_time: parser.reconnection_time(),
    }
}

fn run_split(limits: SseLimits, bytes: &[u8], cuts: &[usize]) -> Outcome {
    run(limits, split(bytes, cuts))
}

/// `bytes` cut at `cuts` (in any order, each at most the length).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&cut| cut.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[from..cut]);
        from = cut;
    }
    chunks
}

fn event_json(event: &SseEvent) -> Value {
    json!({
        "type": event.event_type,
        "data": event.data,
        "last_event_id": event.last_event_id,
        "id_field_seen": event.id_field_seen,
    })
}

fn error_json(err: &SseError) -> Value {
    match err {
        SseError::LineTooLong { limit } => json!({ "line_too_long": limit }),
        SseError::EventTooLarge { limit } => json!({ "event_too_large": limit }),
    }
}

/// The outcome in the fixture's JSON shape.
fn outcome_json(outcome: &Outcome) -> Value {
    let items: Vec<Value> = outcome
        .items
        .iter()
        .map(|item| match item {
            SseItem::Event(event) => json!({ "event": event_json(event) }),
            SseItem::Comment(text) => json!({ "comment": text }),
            SseItem::Retry(ms) => json!({ "retry": ms }),
        })
        .collect();
    let finish = match &outcome.finish {
        Ok(None) => Value::Null,
        Ok(Some(discarded)) => json!({ "discarded": {
            "partial_line": discarded.partial_line,
            "event": discarded.event.as_ref().map(event_json),
            "id": discarded.id,
        }}),
        Err(err) => json!({ "error": error_json(err) }),
    };
    json!({
        "items": items,
        "error": outcome.error.as_ref().map(error_json),
        "finish": finish,
        "last_event_id": outcome.last_event_id,
        "reconnection_time": outcome.reconnection_time,
    })
}

fn limits_from(expected: &Value) -> Result<SseLimits, String> {
    let Some(limits) = expected.get("limits") else {
        return Ok(SseLimits::default());
    };
    let field = |name: &str| {
        limits
            .get(name)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(format!("limits.{name} must be a number"))
    };
    Ok(SseLimits {
        max_line_bytes: field("max_line_bytes")?,
        max_event_bytes: field("max_event_bytes")?,
    })
}

/// Checks one fixture: the whole stream must give exactly the expected JSON, and feeding it
/// split at every single point, or a byte at a time, must give the same outcome.
fn check(input: &Path) -> Result<(), String> {
    let bytes = fs::read(input).map_err(|err| format!("reading {}: {err}", input.display()))?;
    let expected_path = input.with_extension("expected.json");
    let expected_text = fs::read_to_string(&expected_path)
        .map_err(|err| format!("reading {}: {err}", expected_path.display()))?;
    let expected: Value = serde_json::from_str(&expected_text)
        .map_err(|err| format!("parsing {}: {err}", expected_path.display()))?;
    let limits = limits_from(&expected)?;

    let whole = run(limits, [bytes.as_slice()]);
    let actual = outcome_json(&whole);
    let mut wanted = serde_json::Map::new();
    for key in [
        "items",
        "error",
        "finish",
        "last_event_id",
        "reconnection_time",
    ] {
        let value = expected
            .get(key)
            .ok_or(format!("{} lacks `{key}`", expected_path.display()))?;
        wanted.insert(key.to_owned(), value.clone());
    }
    let wanted = Value::Object(wanted);
    if actual != wanted {
        return Err(format!(
            "{}: expected\n{:#}\ngot\n{:#}",
            input.display(),
            wanted,
            actual
        ));
    }
    for cut in 0..=bytes.len() {
        if run_split(limits, &bytes, &[cut]) != whole {
            return Err(format!(
                "{}: differs when split at byte {cut}",
                input.display()
            ));
        }
    }
    if run(limits, bytes.chunks(1)) != whole {
        return Err(format!(
            "{}: differs when fed a byte at a time",
            input.display()
        ));
    }
    Ok(())
}

#[test]
fn golden_fixtures() {
    let dir = wire_fixtures("sse");
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("listing the fixture folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sse"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no .sse fixtures in {}", dir.display());
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|input| check(input).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn huge_data_line_fails_with_a_bounded_buffer() {
    let limits = SseLimits::default();
    let chunk = vec![b'x'; 64 * 1024];
    let mut parser = SseParser::new(limits);
    parser.push(b"data: ");
    let mut pushed = 0usize;
    let err = loop {
        parser.push(&chunk);
        pushed += chunk.len();
        assert!(parser.bytes_buffered() <= limits.max_line_bytes + chunk.len());
        match parser.next_item() {
            Ok(None) => {}
            Ok(Some(item)) => panic!("unexpected {item:?}"),
            Err(err) => break err,
        }
        // A GiB-long line must be refused long before it has all arrived.
        assert!(
            pushed <= limits.max_line_bytes + chunk.len(),
            "no error after {pushed} bytes"
        );
    };
    assert_eq!(
        err,
        SseError::LineTooLong {
            limit: limits.max_line_bytes
        }
    );
    assert_eq!(parser.bytes_buffered(), 0);
    parser.push(&chunk);
    assert_eq!(parser.bytes_buffered(), 0);
    assert_eq!(parser.finish(), Err(err));
}

#[test]
fn data_line_longer_than_the_event_limit_fails_before_it_ends() {
    let limits = SseLimits {
        max_line_bytes: 1 << 20,
        max_event_bytes: 100_000,
    };
    let chunk = vec![b'x'; 4096];
    let mut parser = SseParser::new(limits);
    parser.push(b"data:");
    let mut pushed = 0usize;
    let err = loop {
        parser.push(&chunk);
        pushed += chunk.len();
        if let Err(err) = parser.next_item() {
            break err;
        }
        assert!(
            pushed <= limits.max_event_bytes + chunk.len(),
            "no error after {pushed} bytes"
        );
    };
    assert_eq!(err, SseError::EventTooLarge { limit: 100_000 });
}

#[test]
fn many_short_data_lines_fail_at_the_event_limit() {
    let limits = SseLimits {
        max_line_bytes: 1024,
        max_event_bytes: 64 * 1024,
    };
    let line = format!("data: {}\n", "y".repeat(1000));
    let mut parser = SseParser::new(limits);
    let mut lines = 0usize;
    let err = loop {
        parser.push(line.as_bytes());
        lines += 1;
        match parser.next_item() {
            Ok(None) => {}
            Ok(Some(item)) => panic!("unexpected {item:?}"),
            Err(err) => break err,
        }
        assert!(lines <= 70, "no error after {lines} lines");
    };
    // 65 values of 1000 bytes and the 64 line feeds between them make 65,064 bytes, within
    // 65,536; a 66th line takes the data to 66,065.
    assert_eq!(lines, 66);
    assert_eq!(err, SseError::EventTooLarge { limit: 64 * 1024 });
}

/// A second reading of the spec, as plain as possible: decode the whole stream at once, split
/// it into lines, then follow the field rules one by one. It knows nothing of chunks or limits,
/// so agreeing with it checks the parser's incremental machinery against the spec's wording.
fn model(bytes: &[u8]) -> Outcome {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                lines.push(std::mem::take(&mut current));
            }
            '\n' => lines.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }

    let mut items = Vec::new();
    let (mut data, mut event_type, mut id_buffer) = (String::new(), String::new(), String::new());
    let mut id_seen = false;
    let mut last_event_id = String::new();
    let mut reconnection_time = None;
    let event = |data: &str, event_type: &str, id: &str, id_seen: bool| SseEvent {
        event_type: if event_type.is_empty() {
            "message"
        } else {
            event_type
        }
        .to_owned(),
        data: data.strip_suffix('\n').unwrap_or(data).to_owned(),
        last_event_id: id.to_owned(),
        id_field_seen: id_seen,
    };
    for line in lines {
        if line.is_empty() {
            last_event_id.clone_from(&id_buffer);
            if !data.is_empty() {
                items.push(SseItem::Event(event(
                    &data,
                    &event_type,
                    &id_buffer,
                    id_seen,
                )));
            }
            data.clear();
            event_type.clear();
            id_seen = false;
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(SseItem::Comment(
                comment.strip_prefix(' ').unwrap_or(comment).to_owned(),
            ));
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match name {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => {
                id_buffer = value.to_owned();
                id_seen = true;
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    reconnection_time = Some(ms);
                    items.push(SseItem::Retry(ms));
                }
            }
            _ => {}
        }
    }
    let pending_event = (!data.is_empty()).then(|| event(&data, &event_type, &id_buffer, id_seen));
    let pending_id = id_seen.then_some(id_buffer);
    let finish = if current.is_empty() && pending_event.is_none() && pending_id.is_none() {
        None
    } else {
        Some(Discarded {
            partial_line: current,
            event: pending_event,
            id: pending_id,
        })
    };
    Outcome {
        items,
        error: None,
        finish: Ok(finish),
        last_event_id,
        reconnection_time,
    }
}

/// Splits at CRLF, LF and CR, written apart from the encoder's own splitting on purpose.
fn spec_lines(text: &str) -> Vec<String> {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    normalised.split('\n').map(str::to_owned).collect()
}

/// One piece of a stream for the round-trip property.
#[derive(Debug, Clone)]
enum Piece {
    Event {
        id: Option<String>,
        event: Option<String>,
        data: String,
        retry: Option<u64>,
    },
    Comment(String),
    Retry(u64),
}

/// Text rich in line breaks, spaces, colons and non-ASCII characters.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just(" ".to_owned()),
        Just(":".to_owned()),
        Just("\u{FEFF}".to_owned()),
        Just("data: x".to_owned()),
        "[a-z]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// A single-line value: no CR or LF, and no NUL when `nul_allowed` is false.
fn field_text(nul_allowed: bool) -> impl Strategy<Value = String> {
    tricky_text().prop_map(move |text| {
        text.chars()
            .filter(|&c| c != '\r' && c != '\n' && (nul_allowed || c != '\0'))
            .collect()
    })
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (
            prop::option::of(field_text(false)),
            prop::option::of(field_text(true)),
            tricky_text(),
            prop::option::of(any::<u64>()),
        )
            .prop_map(|(id, event, data, retry)| Piece::Event { id, event, data, retry }),
        1 => tricky_text().prop_map(Piece::Comment),
        1 => any::<u64>().prop_map(Piece::Retry),
    ]
}

/// Bytes that may occur inside a field value, including ones that break UTF-8 or end lines.
fn value_token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"x".to_vec()),
        Just(b"42".to_vec()),
        Just(b" ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("\u{e9}".as_bytes().to_vec()),
        Just(b"\xFF".to_vec()),
        Just(b"\xE2\x82".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ]
}

/// A stream of SSE-shaped lines: known and unknown field names, comments, blank lines, every
/// line ending and sometimes none, with values long enough to cross small limits. Splitting
/// such streams puts field names, CRLF pairs, byte order marks and broken UTF-8 at chunk
/// boundaries.
fn sse_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        Just(&b"data:"[..]),
        Just(&b"data: "[..]),
        Just(&b"data"[..]),
        Just(&b"id: "[..]),
        Just(&b"id"[..]),
        Just(&b"event: "[..]),
        Just(&b"retry: "[..]),
        Just(&b":"[..]),
        Just(&b""[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
        Just(&b"dat"[..]),
    ];
    let ending = prop_oneof![
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
        Just(&b"\r\n"[..]),
        Just(&b""[..]),
    ];
    let line = (start, prop::collection::vec(value_token(), 0..12), ending).prop_map(
        |(start, value, ending)| [start.to_vec(), value.concat(), ending.to_vec()].concat(),
    );
    prop::collection::vec(line, 0..10).prop_map(|lines| lines.concat())
}

fn any_limits() -> impl Strategy<Value = SseLimits> {
    prop_oneof![
        Just(SseLimits::default()),
        (0usize..24, 0usize..24).prop_map(|(max_line_bytes, max_event_bytes)| SseLimits {
            max_line_bytes,
            max_event_bytes,
        }),
    ]
}

fn assert_split_invariant(
    limits: SseLimits,
    bytes: &[u8],
    cuts: &[usize],
) -> Result<(), TestCaseError> {
    let whole = run(limits, [bytes]);
    for cut in 0..=bytes.len() {
        prop_assert_eq!(
            &run_split(limits, bytes, &[cut]),
            &whole,
            "split at {}",
            cut
        );
    }
    prop_assert_eq!(
        &run_split(limits, bytes, cuts),
        &whole,
        "split at {:?}",
        cuts
    );
    Ok(())
}

proptest! {
    // These cases are cheap, and the edge cases (a byte order mark or a CRLF pair at a cut, a
    // limit crossed exactly at a cut) are rare draws, so more of them are run than proptest's
    // default 256.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn encoded_streams_parse_back(pieces in prop::collection::vec(piece(), 0..6)) {
        let mut stream = String::new();
        let mut expected = Vec::new();
        let mut last_event_id = String::new();
        for piece in &pieces {
            match piece {
                Piece::Event { id, event, data, retry } => {
                    let ev = EncodeEvent {
                        id: id.as_deref(),
                        event: event.as_deref(),
                        data,
                        retry: *retry,
                    };
                    encode_event(&mut stream, &ev).unwrap();
                    if let Some(ms) = retry {
                        expected.push(SseItem::Retry(*ms));
                    }
                    if let Some(id) = id {
                        last_event_id.clone_from(id);
                    }
                    let event_type = match event.as_deref() {
                        None | Some("") => "message".to_owned(),
                        Some(event) => event.to_owned(),
                    };
                    expected.push(SseItem::Event(SseEvent {
                        event_type,
                        data: spec_lines(data).join("\n"),
                        last_event_id: last_event_id.clone(),
                        id_field_seen: id.is_some(),
                    }));
                }
                Piece::Comment(text) => {
                    encode_comment(&mut stream, text);
                    expected.extend(spec_lines(text).into_iter().map(SseItem::Comment));
                }
                Piece::Retry(ms) => {
                    encode_retry(&mut stream, *ms);
                    expected.push(SseItem::Retry(*ms));
                }
            }
        }
        let outcome = run(SseLimits::default(), [stream.as_bytes()]);
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.items, expected);
        prop_assert_eq!(outcome.finish, Ok(None));
        prop_assert_eq!(outcome.last_event_id, last_event_id);
    }

    #[test]
    fn parser_agrees_with_a_plain_reading_of_the_spec(
        bytes in prop_oneof![sse_ish_bytes(), prop::collection::vec(any::<u8>(), 0..160)],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        prop_assert_eq!(run_split(SseLimits::default(), &bytes, &cuts), model(&bytes));
    }

    #[test]
    fn chunking_never_changes_what_sse_ish_streams_mean(
        limits in any_limits(),
        bytes in sse_ish_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        assert_split_invariant(limits, &bytes, &cuts)?;
    }

    #[test]
    fn lent_events_are_the_events_next_item_gives(
        limits in any_limits(),
        bytes in prop_oneof![sse_ish_bytes(), prop::collection::vec(any::<u8>(), 0..160)],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        let chunks = split(&bytes, &cuts);
        prop_assert_eq!(run_lent(limits, chunks.clone()), run(limits, chunks));
    }

    #[test]
    fn chunking_never_changes_what_arbitrary_bytes_mean(
        limits in any_limits(),
        bytes in prop::collection::vec(any::<u8>(), 0..160),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        assert_split_invariant(limits, &bytes, &cuts)?;
    }
}
