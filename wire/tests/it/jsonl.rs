//! JSON-lines tests: hand-written golden bodies from `fixtures/wire/jsonl/`, round trips, chunking properties and the line limit.
//!
//! Each `<name>.jsonl` fixture is raw body bytes; `<name>.expected.json` lists
//! the lines a splitter must return, the error that stops it if any, and what
//! `finish` reports (see [`check`]).

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use wire::jsonl::{Line, LineError, LineSplitter, Terminator};

use crate::support::wire_fixtures;

const DEFAULT_LIMIT: usize = 1 << 20;

/// Everything a splitter reports for one body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    lines: Vec<Line>,
    /// The error that stopped `next_line`, if any; nothing is pushed after it.
    error: Option<LineError>,
    finish: Result<(), LineError>,
}

/// Feeds `chunks` one push at a time, draining after each push as a client would.
fn run<'a>(max_line_bytes: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut splitter = LineSplitter::new(max_line_bytes);
    let mut lines = Vec::new();
    let mut error = None;
    'feed: for chunk in chunks {
        splitter.push(chunk);
        loop {
            match splitter.next_line() {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(err) => {
                    error = Some(err);
                    break 'feed;
                }
            }
        }
        // A drained splitter holds at most one partial line and a CR that may end it.
        assert!(splitter.bytes_buffered() <= max_line_bytes.saturating_add(1));
    }
    Outcome {
        lines,
        error,
        finish: splitter.finish(),
    }
}

fn run_split(max_line_bytes: usize, bytes: &[u8], cuts: &[usize]) -> Outcome {
    let mut cuts: Vec<usize> = cuts.iter().map(|&cut| cut.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[from..cut]);
        from = cut;
    }
    run(max_line_bytes, chunks)
}

fn terminator_json(terminator: Terminator) -> Value {
    match terminator {
        Terminator::Lf => json!("lf"),
        Terminator::CrLf => json!("crlf"),
    }
}

fn error_json(err: &LineError) -> Value {
    match err {
        LineError::LineTooLong { limit } => json!({ "line_too_long": limit }),
        LineError::Unterminated { len } => json!({ "unterminated": len }),
    }
}

/// Checks one fixture: the whole body must give exactly the expected lines and errors, each
/// line with a `json` key must parse to that value, and feeding the body split at every single
/// point, or a byte at a time, must give the same outcome.
fn check(input: &Path) -> Result<(), String> {
    let bytes = fs::read(input).map_err(|err| format!("reading {}: {err}", input.display()))?;
    let expected_path = input.with_extension("expected.json");
    let expected_text = fs::read_to_string(&expected_path)
        .map_err(|err| format!("reading {}: {err}", expected_path.display()))?;
    let expected: Value = serde_json::from_str(&expected_text)
        .map_err(|err| format!("parsing {}: {err}", expected_path.display()))?;
    let limit = match expected.get("max_line_bytes") {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or("max_line_bytes must be a number")?,
    };
    let expected_lines = expected
        .get("lines")
        .and_then(Value::as_array)
        .ok_or(format!("{} lacks a `lines` array", expected_path.display()))?;

    let whole = run(limit, [bytes.as_slice()]);
    let actual_lines: Vec<Value> = whole
        .lines
        .iter()
        .zip(
            expected_lines
                .iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        )
        .map(|(line, wanted)| match line {
            Line::KeepAlive { terminator } => json!({ "keep_alive": terminator_json(*terminator) }),
            Line::Text { bytes, terminator } => {
                let mut entry = json!({
                    "text": String::from_utf8_lossy(bytes),
                    "terminator": terminator_json(*terminator),
                });
                // The parsed value is only compared where the fixture states one.
                if wanted.is_some_and(|wanted| wanted.get("json").is_some()) {
                    entry["json"] = match line.parse_json() {
                        Some(Ok(value)) => value,
                        Some(Err(err)) => json!(format!("not JSON: {err}")),
                        None => Value::Null,
                    };
                }
                entry
            }
        })
        .collect();
    let actual = json!({
        "lines": actual_lines,
        "error": whole.error.as_ref().map(error_json),
        "finish": whole.finish.as_ref().err().map(error_json),
    });
    let mut wanted = serde_json::Map::new();
    for key in ["lines", "error", "finish"] {
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
        if run_split(limit, &bytes, &[cut]) != whole {
            return Err(format!(
                "{}: differs when split at byte {cut}",
                input.display()
            ));
        }
    }
    if run(limit, bytes.chunks(1)) != whole {
        return Err(format!(
            "{}: differs when fed a byte at a time",
            input.display()
        ));
    }
    Ok(())
}

#[test]
fn golden_fixtures() {
    let dir = wire_fixtures("jsonl");
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("listing the fixture folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "no .jsonl fixtures in {}",
        dir.display()
    );
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
fn huge_line_fails_with_a_bounded_buffer() {
    let chunk = vec![b'x'; 64 * 1024];
    let mut splitter = LineSplitter::new(DEFAULT_LIMIT);
    let mut pushed = 0usize;
    let err = loop {
        splitter.push(&chunk);
        pushed += chunk.len();
        assert!(splitter.bytes_buffered() <= DEFAULT_LIMIT + chunk.len());
        match splitter.next_line() {
            Ok(None) => {}
            Ok(Some(line)) => panic!("unexpected {line:?}"),
            Err(err) => break err,
        }
        // A GiB-long line must be refused long before it has all arrived.
        assert!(
            pushed <= DEFAULT_LIMIT + chunk.len(),
            "no error after {pushed} bytes"
        );
    };
    assert_eq!(
        err,
        LineError::LineTooLong {
            limit: DEFAULT_LIMIT
        }
    );
    assert_eq!(splitter.bytes_buffered(), 0);
    splitter.push(&chunk);
    assert_eq!(splitter.bytes_buffered(), 0);
    assert_eq!(splitter.finish(), Err(err));
}

/// Line content as a framed stream may carry it: no LF, and no CR at the very end, where it
/// would read as half of a CRLF.
fn content() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"\r".to_vec()),
        Just(b"{\"k\":1}".to_vec()),
        Just(b" ".to_vec()),
        Just("\u{e9}".as_bytes().to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..8).prop_map(|tokens| {
        let mut bytes: Vec<u8> = tokens
            .concat()
            .into_iter()
            .filter(|&b| b != b'\n')
            .collect();
        while bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        bytes
    })
}

fn terminator() -> impl Strategy<Value = Terminator> {
    prop_oneof![Just(Terminator::Lf), Just(Terminator::CrLf)]
}

/// A body drawn from the bytes that matter to framing, so CRs and LFs meet at chunk boundaries.
fn jsonl_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"{}".to_vec()),
        Just(b"x".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

fn any_limit() -> impl Strategy<Value = usize> {
    prop_oneof![Just(DEFAULT_LIMIT), 0usize..12]
}

/// The plain reading: split the whole body at every LF, drop one CR before it, and leave what
/// follows the last LF unterminated. It has no limit, so it is compared at the default one.
fn model(bytes: &[u8]) -> Outcome {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let rest = pieces.pop().unwrap_or_default();
    let lines = pieces
        .into_iter()
        .map(|piece| {
            let (content, terminator) = match piece.strip_suffix(b"\r") {
                Some(content) => (content, Terminator::CrLf),
                None => (piece, Terminator::Lf),
            };
            if content.is_empty() {
                Line::KeepAlive { terminator }
            } else {
                Line::Text {
                    bytes: content.to_vec(),
                    terminator,
                }
            }
        })
        .collect();
    Outcome {
        lines,
        error: None,
        finish: if rest.is_empty() {
            Ok(())
        } else {
            Err(LineError::Unterminated { len: rest.len() })
        },
    }
}

fn assert_split_invariant(limit: usize, bytes: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let whole = run(limit, [bytes]);
    for cut in 0..=bytes.len() {
        prop_assert_eq!(&run_split(limit, bytes, &[cut]), &whole, "split at {}", cut);
    }
    prop_assert_eq!(
        &run_split(limit, bytes, cuts),
        &whole,
        "split at {:?}",
        cuts
    );
    Ok(())
}

proptest! {
    // These cases are cheap, and the edge cases (a CR at a cut, a limit crossed exactly at a
    // cut) are rare draws, so more of them are run than proptest's default 256.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn framed_lines_split_back(lines in prop::collection::vec((content(), terminator()), 0..8)) {
        let mut body = Vec::new();
        let mut expected = Vec::new();
        for (bytes, terminator) in &lines {
            body.extend_from_slice(bytes);
            body.extend_from_slice(terminator.as_bytes());
            expected.push(if bytes.is_empty() {
                Line::KeepAlive { terminator: *terminator }
            } else {
                Line::Text { bytes: bytes.clone(), terminator: *terminator }
            });
        }
        let outcome = run(DEFAULT_LIMIT, [body.as_slice()]);
        prop_assert_eq!(outcome.lines, expected);
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.finish, Ok(()));
    }

    #[test]
    fn splitter_agrees_with_splitting_at_every_lf(
        bytes in prop_oneof![jsonl_ish_bytes(), prop::collection::vec(any::<u8>(), 0..160)],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        prop_assert_eq!(run_split(DEFAULT_LIMIT, &bytes, &cuts), model(&bytes));
    }

    #[test]
    fn chunking_never_changes_the_lines(
        limit in any_limit(),
        bytes in jsonl_ish_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        assert_split_invariant(limit, &bytes, &cuts)?;
    }

    #[test]
    fn chunking_never_changes_arbitrary_bytes(
        limit in any_limit(),
        bytes in prop::collection::vec(any::<u8>(), 0..160),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        assert_split_invariant(limit, &bytes, &cuts)?;
    }
}
