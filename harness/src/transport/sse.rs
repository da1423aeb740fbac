//! Server-sent events: the SSE framing of a recorded [`Stream`], and opening one.

use std::time::Duration;

use scenarios::transcript::Observed;
use wire::sse::{SseEvent, SseItem, SseLimits, SseParser};

use super::{Events, Framing, Observe, Stream};
use crate::record::{self, CallError, HttpResponse, ReadLimits, Recorder};

/// An open SSE response.
pub type SseConn = Stream<Sse>;

/// The SSE framing, within the parser's limits; events, comments and
/// `retry` fields are recorded as what they are.
#[derive(Debug)]
pub struct Sse(SseParser);

impl Sse {
    pub fn new(limits: SseLimits) -> Sse {
        Sse(SseParser::new(limits))
    }
}

impl Framing for Sse {
    type Item = SseItem;

    fn push(&mut self, chunk: &[u8]) {
        self.0.push(chunk);
    }

    fn next(&mut self) -> Result<Option<SseItem>, String> {
        self.0
            .next_item()
            .map_err(|error| format!("the stream broke the SSE limits: {error}"))
    }

    fn finish(&mut self) -> String {
        match self.0.finish().ok().flatten() {
            Some(_) => "end of stream inside an unterminated event",
            None => "end of stream",
        }
        .to_owned()
    }
}

impl Observe for Sse {
    fn observe(&self, item: &SseItem) -> Observed {
        match item {
            SseItem::Event(event) => Observed::SseEvent {
                id: event.id_field_seen.then(|| event.last_event_id.clone()),
                event: event.event_type.clone(),
                data: event.data.clone(),
            },
            SseItem::Comment(text) => Observed::SseComment { text: text.clone() },
            SseItem::Retry(ms) => Observed::Note {
                text: format!("retry: {ms}"),
            },
        }
    }
}

/// Opens a stream. A non-2xx answer is read whole and returned as `Err(response)`.
pub async fn open_sse(
    recorder: &Recorder,
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    limits: &ReadLimits,
    timeout: Duration,
) -> Result<Result<SseConn, HttpResponse>, CallError> {
    let opened = record::open_stream(recorder, client, request, limits, timeout).await?;
    Ok(opened.map(|open| Stream::new(open, Sse::new(limits.sse), recorder)))
}

impl Events for SseConn {
    type Event = SseEvent;

    /// The next event within `wait` (comments recorded and skipped).
    async fn next_event(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let SseItem::Event(event) = self.next(left).await? {
                return Some(event);
            }
        }
    }
}
