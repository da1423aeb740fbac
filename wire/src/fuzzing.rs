//! Fuzzing entry points: one check per decoder, shared by the `cargo fuzz` targets in `fuzz/` and the regression tests over `fixtures/fuzz/`.
//!
//! Each function takes arbitrary bytes and panics if the decoder breaks a
//! promise: a panic inside it, a result that depends on how the input was
//! split into chunks, a broken size limit, or a decode that does not
//! round-trip. Bad input itself is never a failure; a typed error is the
//! right answer to it.

use crate::car::{self, CarLimits};
use crate::cbor::{self, DecodeLimits};
use crate::cid::Cid;
use crate::frame;
use crate::http1::{BodyDecoder, BodyKind, Http1Error, parse_head};
use crate::jsonl::{Line, LineError, LineSplitter, Terminator};
use crate::sse::{Discarded, SseError, SseItem, SseLimits, SseParser};

/// Chunk sizes for feeding a stream decoder: a small generator seeded by one input byte, so the
/// fuzzer controls the split without spending many bytes on it.
struct Chunks {
    state: u32,
}

impl Chunks {
    fn new(seed: u8) -> Self {
        Self {
            state: u32::from(seed) | 0x100,
        }
    }

    /// The next chunk size, from 1 to 64 bytes.
    fn next_len(&mut self) -> usize {
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        ((self.state >> 16) % 64) as usize + 1
    }

    /// Splits `data` into consecutive non-empty chunks.
    fn split<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let (head, rest) = data.split_at(self.next_len().min(data.len()));
            out.push(head);
            data = rest;
        }
        out
    }
}

/// Everything an SSE parser reports for one stream.
#[derive(Debug, PartialEq, Eq)]
struct SseOutcome {
    items: Vec<SseItem>,
    end: Result<Option<Discarded>, SseError>,
    last_event_id: String,
    reconnection_time: Option<u64>,
}

fn sse_run(chunks: &[&[u8]], limits: SseLimits) -> SseOutcome {
    let mut parser = SseParser::new(limits);
    let mut items = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_item() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(err) => {
                    return SseOutcome {
                        items,
                        end: Err(err),
                        last_event_id: parser.last_event_id().to_owned(),
                        reconnection_time: parser.reconnection_time(),
                    };
                }
            }
        }
    }
    let end = parser.finish();
    SseOutcome {
        items,
        end,
        last_event_id: parser.last_event_id().to_owned(),
        reconnection_time: parser.reconnection_time(),
    }
}

/// Byte 0 seeds the chunk sizes; byte 1 picks the limits (the defaults, or small ones so that
/// both limit errors are reachable); the rest is the stream. Fed whole and fed in chunks, the
/// parser must report the same items, error, discarded tail and last event ID.
pub fn sse(data: &[u8]) {
    let [seed, limits_byte, stream @ ..] = data else {
        return;
    };
    let limits = if *limits_byte < 0x80 {
        SseLimits::default()
    } else {
        SseLimits {
            max_line_bytes: usize::from(limits_byte & 0x0f) * 4,
            max_event_bytes: usize::from((limits_byte >> 4) & 0x07) * 8,
        }
    };
    let whole = sse_run(&[stream], limits);
    let split = sse_run(&Chunks::new(*seed).split(stream), limits);
    assert_eq!(
        whole, split,
        "splitting the stream changed what the parser reported"
    );
}

/// Everything a line splitter reports for one stream.
#[derive(Debug, PartialEq, Eq)]
struct LinesOutcome {
    lines: Vec<Line>,
    end: Result<(), LineError>,
}

fn jsonl_run(chunks: &[&[u8]], limit: usize) -> LinesOutcome {
    let mut splitter = LineSplitter::new(limit);
    let mut lines = Vec::new();
    for chunk in chunks {
        splitter.push(chunk);
        loop {
            match splitter.next_line() {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(err) => {
                    return LinesOutcome {
                        lines,
                        end: Err(err),
                    };
                }
            }
        }
    }
    let end = splitter.finish();
    LinesOutcome { lines, end }
}

/// Byte 0 seeds the chunk sizes; byte 1 is the line limit (255 means 1 MiB); the rest is the
/// stream. Fed whole and in chunks, the splitter must report the same lines and end; no line
/// may exceed the limit or hold a `\n`; and the lines with their terminators, plus any
/// unterminated tail, must give back the input.
pub fn jsonl(data: &[u8]) {
    let [seed, limit_byte, stream @ ..] = data else {
        return;
    };
    let limit = if *limit_byte == 0xff {
        1 << 20
    } else {
        usize::from(*limit_byte)
    };
    let whole = jsonl_run(&[stream], limit);
    let split = jsonl_run(&Chunks::new(*seed).split(stream), limit);
    assert_eq!(whole, split, "splitting the stream changed the lines");
    let mut rebuilt = Vec::new();
    for line in &whole.lines {
        let bytes = line.bytes();
        assert!(
            bytes.len() <= limit,
            "a line of {} bytes passed the limit of {limit}",
            bytes.len()
        );
        assert!(!bytes.contains(&b'\n'), "a line holds a line feed");
        assert_eq!(matches!(line, Line::KeepAlive { .. }), bytes.is_empty());
        // A lone `\r` is content, but one right before `\n` belongs to the terminator.
        if line.terminator() == Terminator::Lf {
            assert!(
                bytes.last() != Some(&b'\r'),
                "an LF line kept the `\\r` of a CRLF"
            );
        }
        rebuilt.extend_from_slice(bytes);
        rebuilt.extend_from_slice(line.terminator().as_bytes());
    }
    match whole.end {
        Ok(()) => assert_eq!(rebuilt, stream, "the lines do not add up to the input"),
        Err(LineError::Unterminated { len }) => {
            assert!(len > 0);
            rebuilt.extend_from_slice(stream.get(stream.len() - len..).unwrap_or_default());
            assert_eq!(
                rebuilt, stream,
                "the lines and the tail do not add up to the input"
            );
        }
        Err(LineError::LineTooLong { .. }) => {
            assert!(
                stream.starts_with(&rebuilt),
                "the lines before the error are not a prefix"
            );
        }
    }
}

/// The decoder is strict, so whatever it accepts is canonical: re-encoding a decoded item gives
/// back exactly the bytes it used, whole or as a prefix.
pub fn cbor(data: &[u8]) {
    let limits = DecodeLimits::default();
    match cbor::decode(data, &limits) {
        Ok(value) => {
            assert_eq!(
                cbor::encode(&value),
                data,
                "accepted DAG-CBOR is not canonical"
            );
            // The JSON form must be writable for anything the decoder accepts.
            let _ = cbor::to_atproto_json(&value);
        }
        Err(err) => {
            let _ = (err.kind(), err.offset(), err.to_string());
        }
    }
    if let Ok((value, used)) = cbor::decode_prefix(data, &limits) {
        assert!(used <= data.len() && used > 0);
        assert_eq!(
            cbor::encode(&value),
            data.get(..used).unwrap_or_default(),
            "the accepted prefix is not canonical"
        );
    }
}

/// A decoded frame re-encodes to a frame that decodes to the same thing, and its body (which
/// follows the header item) re-encodes to exactly the body bytes.
pub fn frame(data: &[u8]) {
    let limits = DecodeLimits::default();
    let frame = match frame::decode_frame(data, &limits) {
        Ok(frame) => frame,
        Err(err) => {
            let _ = (err.kind(), err.decode_error(), err.to_string());
            return;
        }
    };
    let (_, header_len) = cbor::decode_prefix(data, &limits).expect("the header decoded once");
    assert_eq!(
        cbor::encode(&frame.body),
        data.get(header_len..).unwrap_or_default(),
        "the frame body is not canonical"
    );
    let again = frame::decode_frame(&frame.encode(), &limits);
    assert_eq!(
        again.as_ref(),
        Ok(&frame),
        "the re-encoded frame reads differently"
    );
    let _ = frame.kind();
}

/// A CAR the reader accepts is written back byte for byte: the header is strict DAG-CBOR with
/// exactly `roots` and `version`, and varints and CIDs have one encoding each.
pub fn car(data: &[u8]) {
    let limits = CarLimits {
        max_bytes: 1 << 20,
        max_block_bytes: 1 << 16,
        max_blocks: 1024,
    };
    match car::read_car(data, &limits) {
        Ok(car) => {
            assert!(car.blocks.len() <= limits.max_blocks);
            assert!(
                car.blocks
                    .iter()
                    .all(|(_, b)| b.len() <= limits.max_block_bytes)
            );
            assert_eq!(
                car::write_car(&car.roots, &car.blocks),
                data,
                "CAR did not round-trip"
            );
            let _ = (car.root(), car.verify_blocks());
        }
        Err(err) => {
            let _ = (err.kind(), err.to_string());
        }
    }
}

/// Binary CIDs have one encoding, so a parsed CID writes back the bytes it came from; a CID
/// string parses back to the same CID, and the base32 form is canonical.
pub fn cid(data: &[u8]) {
    if let Ok(cid) = Cid::from_bytes(data) {
        assert_eq!(cid.to_bytes(), data, "binary CID did not round-trip");
    }
    if let Ok((cid, used)) = Cid::read_prefix(data) {
        assert_eq!(cid.to_bytes(), data.get(..used).unwrap_or_default());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cid) = Cid::parse_any_base(text) {
        let printed = cid.to_string();
        assert_eq!(Cid::parse_any_base(&printed), Ok(cid));
        assert_eq!(printed.parse::<Cid>(), Ok(cid));
    }
    if let Ok(cid) = text.parse::<Cid>() {
        assert_eq!(
            cid.to_string(),
            text,
            "a base32 CID string is not canonical"
        );
    }
}

/// What an HTTP/1.1 body decoder made of one stream: the payload, the bytes it took, how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Http1Outcome {
    payload: Vec<u8>,
    taken: usize,
    end: Result<bool, Http1Error>,
}

fn http1_run(kind: BodyKind, chunks: &[&[u8]]) -> Http1Outcome {
    let mut decoder = BodyDecoder::new(kind);
    let mut outcome = Http1Outcome {
        payload: Vec::new(),
        taken: 0,
        end: Ok(false),
    };
    for chunk in chunks {
        if decoder.is_done() {
            break;
        }
        match decoder.decode(chunk, &mut |run| outcome.payload.extend_from_slice(run)) {
            Ok(taken) => outcome.taken += taken,
            Err(error) => {
                // A broken stream is dropped: how much of it was taken is not promised.
                outcome.taken = 0;
                outcome.end = Err(error);
                return outcome;
            }
        }
    }
    outcome.end = Ok(decoder.is_done());
    outcome
}

/// The first byte picks the body framing (chunked, sized by the second byte,
/// or until close) and seeds the split; the rest is a response head followed
/// by the body. Parsing the head must not panic; the body decoder must give
/// the same payload, bytes taken and end however the stream is split, never
/// more payload than bytes, and a sized body exactly its length.
pub fn http1(data: &[u8]) {
    let [seed, length, stream @ ..] = data else {
        return;
    };
    let _ = parse_head(stream, 256);
    let kind = match seed % 3 {
        0 => BodyKind::Chunked,
        1 => BodyKind::Length(u64::from(*length)),
        _ => BodyKind::UntilClose,
    };
    let whole = http1_run(kind, &[stream]);
    let split = http1_run(kind, &Chunks::new(*seed).split(stream));
    assert_eq!(whole, split, "splitting the stream changed the body");
    assert!(whole.taken <= stream.len());
    assert!(
        whole.payload.len() <= stream.len(),
        "more payload than bytes"
    );
    if whole.end.is_ok() {
        assert!(
            whole.payload.len() <= whole.taken,
            "more payload than bytes taken"
        );
    }
    if let BodyKind::Length(_) = kind {
        let n = usize::from(*length).min(stream.len());
        assert_eq!(
            whole.payload,
            &stream[..n],
            "a sized body is its first bytes"
        );
        assert_eq!(whole.end, Ok(n == usize::from(*length)));
    }
}
