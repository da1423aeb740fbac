//! JSON lines: the line framing of Fauna's `/stream/1` and Actyx's NDJSON feeds, within a line limit.
//!
//! Both APIs split lines alike; they differ in what the transcript keeps of
//! a line and how a too-long line is worded, which [`LineNotes`] says. Each
//! API decodes its lines on top (`Stream<Lines<…>>` gets its own methods).

use std::marker::PhantomData;

use scenarios::transcript::Observed;
use wire::jsonl::{Line, LineSplitter};

use super::{Framing, Observe};

/// How an API words a line over the limit.
pub trait LineLimit {
    /// The reason a line over the limit closes the stream with, before the error.
    const BROKE: &'static str;
}

/// What an API's transcript keeps of its lines.
pub trait LineNotes: LineLimit {
    /// The transcript entry of a line.
    fn note(line: &Line) -> Observed;
}

/// Lines up to a length limit, recorded as `N` says.
#[derive(Debug)]
pub struct Lines<N> {
    splitter: LineSplitter,
    notes: PhantomData<N>,
}

impl<N> Lines<N> {
    /// Lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> Lines<N> {
        Lines {
            splitter: LineSplitter::new(max_line),
            notes: PhantomData,
        }
    }
}

impl<N: LineLimit> Framing for Lines<N> {
    type Item = Line;

    fn push(&mut self, chunk: &[u8]) {
        self.splitter.push(chunk);
    }

    fn next(&mut self) -> Result<Option<Line>, String> {
        self.splitter
            .next_line()
            .map_err(|error| format!("{}: {error}", N::BROKE))
    }

    /// A last line without its terminator says so.
    fn finish(&mut self) -> String {
        match self.splitter.finish() {
            Ok(()) => "end of stream".to_owned(),
            Err(error) => format!("end of stream: {error}"),
        }
    }
}

impl<N: LineNotes> Observe for Lines<N> {
    fn observe(&self, line: &Line) -> Observed {
        N::note(line)
    }
}
