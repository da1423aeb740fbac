//! Streams: one reader per framing (SSE, JSON lines, WebSocket messages), with its limits and timeouts; recording layered on top.
//!
//! A [`Framing`] turns a body's bytes into items and enforces its size
//! limits:
//!
//! - [`sse::Sse`]: server-sent events (Fibric, Pulse), over `wire::sse`;
//! - [`lines::Lines`]: JSON lines (Fauna's `/stream/1`, Actyx's NDJSON
//!   feeds), over `wire::jsonl`; each API decodes its lines on top;
//! - [`ws`]: WebSocket messages, whose limit tungstenite enforces.
//!
//! Recording is a layer of its own: [`Observe`] says what the transcript
//! keeps of an item, and [`Stream`] (the checks' reader) records every item
//! it reads, plus the end of the stream and why (once, also when the stream
//! is dropped). The load subscriber reads through the same framings
//! ([`framed`]) and records nothing, so it does not pay for a transcript; on
//! plain `http://` it reads through its own HTTP/1.1 client ([`http1`]),
//! which keeps no buffer while a stream is idle.
//!
//! Recorded streams are opened with [`crate::record::open_stream`], which
//! records the request and the response head.

pub mod http1;
pub mod lines;
pub mod sse;
pub mod ws;

use std::time::Duration;

use scenarios::transcript::Observed;

use crate::record::{OpenStream, Recorder};

/// How a stream's bytes become items.
pub trait Framing {
    type Item;
    /// Bytes as they came.
    fn push(&mut self, chunk: &[u8]);
    /// The next complete item; `Err` with the reason to close the stream when
    /// the bytes broke the framing's limits.
    fn next(&mut self) -> Result<Option<Self::Item>, String>;
    /// Why the stream ended, once the body is over (an unfinished item says so).
    fn finish(&mut self) -> String;
}

/// What a recorded stream's transcript keeps of each item.
pub trait Observe: Framing {
    fn observe(&self, item: &Self::Item) -> Observed;
}

/// A streamed response's body: through reqwest, or through the load
/// subscriber's own HTTP/1.1 client ([`http1`]).
pub enum Body {
    Reqwest(futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>),
    Http1(http1::Response),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Reqwest(_) => f.write_str("Body::Reqwest"),
            Body::Http1(response) => f.debug_tuple("Body::Http1").field(response).finish(),
        }
    }
}

impl From<reqwest::Response> for Body {
    fn from(response: reqwest::Response) -> Body {
        use futures_util::stream::StreamExt;
        Body::Reqwest(response.bytes_stream().boxed())
    }
}

impl Body {
    /// Reads once and hands the bytes to `payload`; `None` once the body is
    /// over, `Err` when the connection broke.
    fn poll_read(
        &mut self,
        cx: &mut std::task::Context<'_>,
        payload: &mut dyn FnMut(&[u8]),
    ) -> std::task::Poll<Option<Result<(), String>>> {
        use futures_util::stream::StreamExt;
        match self {
            Body::Http1(response) => response.poll_read(cx, payload),
            Body::Reqwest(chunks) => chunks.poll_next_unpin(cx).map(|chunk| {
                chunk.map(|chunk| {
                    chunk
                        .map(|bytes| payload(&bytes))
                        .map_err(|e| e.to_string())
                })
            }),
        }
    }
}

/// A body read a read at a time: each read's bytes go to `push`, then
/// `drain` says what they completed (`Ok(None)`: nothing yet, read on). A
/// broken connection or a `drain` error ends the stream with that `Err`.
pub fn reads<S, T>(
    body: impl Into<Body>,
    mut state: S,
    push: fn(&mut S, &[u8]),
    mut drain: impl FnMut(&mut S) -> Result<Option<T>, String> + Send + 'static,
) -> futures_util::stream::BoxStream<'static, Result<T, String>>
where
    S: Send + 'static,
    T: Send + 'static,
{
    use futures_util::stream::StreamExt;
    use std::task::Poll;
    let mut body = body.into();
    let mut failed = false;
    futures_util::stream::poll_fn(move |cx| {
        loop {
            if failed {
                return Poll::Ready(None);
            }
            let read = std::task::ready!(body.poll_read(cx, &mut |bytes| push(&mut state, bytes)));
            let drained = match read {
                None => return Poll::Ready(None),
                Some(Err(error)) => Err(error),
                Some(Ok(())) => drain(&mut state),
            };
            match drained {
                Ok(None) => {}
                Ok(Some(done)) => return Poll::Ready(Some(Ok(done))),
                Err(error) => {
                    failed = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    })
    .boxed()
}

/// The items of a body, unrecorded, each made a `T` by `each`, which also
/// gets the bytes read since the item before it (so the bytes of all items
/// add up to those of the body; a second item out of one read gets none).
/// The items come a read at a time, as the body delivered them, so a reader
/// does its per-read work (a clock read, a lock) once per read. A read that
/// completes no item yields nothing. A broken limit or connection ends the
/// stream with an `Err`.
pub fn framed<F, T>(
    body: impl Into<Body>,
    framing: F,
    mut each: impl FnMut(F::Item, usize) -> T + Send + 'static,
) -> futures_util::stream::BoxStream<'static, Result<Vec<T>, String>>
where
    F: Framing + Send + 'static,
    T: Send + 'static,
{
    fn push<F: Framing>((framing, unread): &mut (F, usize), bytes: &[u8]) {
        framing.push(bytes);
        *unread += bytes.len();
    }
    reads(body, (framing, 0), push::<F>, move |(framing, unread)| {
        let mut items = Vec::new();
        while let Some(item) = framing.next()? {
            items.push(each(item, std::mem::take(unread)));
        }
        Ok((!items.is_empty()).then_some(items))
    })
}

/// A stream read event by event (what an event is, each framing's API says).
pub trait Events {
    type Event;
    /// The next event within `wait`; `None` on timeout or once the stream has ended.
    fn next_event(&mut self, wait: Duration) -> impl Future<Output = Option<Self::Event>> + Send;

    /// Events until one satisfies `last` (kept), `max` have come, the
    /// stream ends, or `wait` passes. A case publishes a sentinel last and
    /// reads up to it, which tells "everything has arrived" from "something
    /// was lost" without waiting out a timeout.
    fn read_until(
        &mut self,
        wait: Duration,
        max: usize,
        last: impl Fn(&Self::Event) -> bool + Send,
    ) -> impl Future<Output = Vec<Self::Event>> + Send
    where
        Self: Send,
        Self::Event: Send,
    {
        async move {
            let deadline = tokio::time::Instant::now() + wait;
            let mut items = Vec::new();
            while items.len() < max {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let Some(item) = self.next_event(left).await else {
                    break;
                };
                let done = last(&item);
                items.push(item);
                if done {
                    break;
                }
            }
            items
        }
    }
}

/// What one read of a stream came to.
#[derive(Debug)]
pub enum Read<T> {
    Item(T),
    /// Nothing complete came in time; the stream is still open.
    Timeout,
    /// The stream ended (or broke the limits), with why.
    Ended(String),
}

/// An open streamed response, read one item at a time, every item recorded.
#[derive(Debug)]
pub struct Stream<F: Observe> {
    pub conn: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    response: Option<reqwest::Response>,
    framing: F,
    recorder: Recorder,
    /// Set once the stream has ended, with why.
    pub closed: Option<String>,
}

impl<F: Observe> Stream<F> {
    /// Reads `open`'s body with `framing`, recording into `recorder`.
    pub fn new(open: OpenStream, framing: F, recorder: &Recorder) -> Stream<F> {
        Stream {
            conn: open.conn,
            status: open.status,
            headers: open.headers,
            response: Some(open.response),
            framing,
            recorder: recorder.clone(),
            closed: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        scenarios::transcript::header(&self.headers, name)
    }

    /// The next item within `wait`, recorded.
    pub async fn read(&mut self, wait: Duration) -> Read<F::Item> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.framing.next() {
                Ok(Some(item)) => {
                    let observed = self.framing.observe(&item);
                    self.recorder.record(self.conn, observed);
                    return Read::Item(item);
                }
                Ok(None) => {}
                Err(reason) => return Read::Ended(self.close(reason)),
            }
            let Some(response) = self.response.as_mut() else {
                return Read::Ended(self.closed.clone().unwrap_or_default());
            };
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Err(_) => return Read::Timeout,
                Ok(Ok(Some(chunk))) => self.framing.push(&chunk),
                Ok(Ok(None)) => {
                    let reason = self.framing.finish();
                    return Read::Ended(self.close(reason));
                }
                Ok(Err(error)) => {
                    return Read::Ended(self.close(format!("connection error: {error}")));
                }
            }
        }
    }

    /// The next item within `wait`; `None` on timeout or once the stream has ended.
    pub async fn next(&mut self, wait: Duration) -> Option<F::Item> {
        match self.read(wait).await {
            Read::Item(item) => Some(item),
            Read::Timeout | Read::Ended(_) => None,
        }
    }

    /// Whether the stream ends within `wait`; what comes meanwhile is read and recorded.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next(left).await.is_none() {
                break;
            }
        }
        self.closed.is_some()
    }

    /// Closes the stream from the harness's side (or records why it ended); returns the reason.
    pub fn close(&mut self, reason: String) -> String {
        if self.closed.is_none() {
            self.recorder.record(
                self.conn,
                Observed::Closed {
                    reason: reason.clone(),
                },
            );
            self.closed = Some(reason.clone());
        }
        self.response = None;
        reason
    }
}

impl<F: Observe> Drop for Stream<F> {
    fn drop(&mut self) {
        self.close("closed by the harness".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use wire::sse::{SseItem, SseLimits};

    use super::lines::{LineLimit, Lines};
    use super::sse::Sse;
    use super::*;

    /// A response whose body comes in `chunks`.
    fn response(chunks: &[&str]) -> reqwest::Response {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            chunks.iter().map(|c| Ok(c.as_bytes().to_vec())).collect();
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        reqwest::Response::from(tokio_tungstenite::tungstenite::http::Response::new(body))
    }

    struct Four;

    impl LineLimit for Four {
        const BROKE: &'static str = "a line passed four bytes";
    }

    #[tokio::test]
    async fn framed_items_carry_every_byte_read_since_the_item_before() {
        let limits = SseLimits {
            max_line_bytes: 64,
            max_event_bytes: 64,
        };
        let chunks = ["data: a\n", "\ndata: b\n\n", "data: c\n\n"];
        let items: Vec<(String, usize)> =
            framed(response(&chunks), Sse::new(limits), |item, n| match item {
                SseItem::Event(event) => (event.data, n),
                other => (format!("{other:?}"), n),
            })
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .await
            .concat();
        // The first chunk completes nothing: its bytes go to the event it begins.
        let expected = [("a", 18), ("b", 0), ("c", 9)].map(|(d, n)| (d.to_owned(), n));
        assert_eq!(items, expected);
        let body: usize = chunks.iter().map(|c| c.len()).sum();
        assert_eq!(items.iter().map(|(_, n)| n).sum::<usize>(), body);
    }

    /// A server on loopback that answers any request with `parts`, a pause between them.
    async fn raw_server(parts: &'static [&'static [u8]]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/stream", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            for part in parts {
                socket.write_all(part).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        url
    }

    #[tokio::test]
    async fn a_plain_http_stream_is_read_through_the_own_client_until_its_chunking_breaks() {
        let url = raw_server(&[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nab\nc\r\n",
            b"3\r\nd\ne\r\n",
            b"zz\r\n",
        ])
        .await;
        let request = reqwest::Client::new().get(&url).build().unwrap();
        let response = http1::send(&request).await.unwrap();
        assert_eq!(response.head.status, 200, "the interim 100 is skipped");
        let reads: Vec<Result<Vec<Vec<u8>>, String>> =
            framed(Body::Http1(response), Lines::<Four>::new(4), |line, _| {
                line.bytes().to_vec()
            })
            .collect()
            .await;
        let (lines, ends): (Vec<_>, Vec<_>) = reads.into_iter().partition(Result::is_ok);
        let lines: Vec<Vec<u8>> = lines.into_iter().flat_map(Result::unwrap).collect();
        assert_eq!(lines, [b"ab".to_vec(), b"cd".to_vec()]);
        let ends: Vec<String> = ends.into_iter().map(Result::unwrap_err).collect();
        assert_eq!(
            ends,
            ["a chunk-size line is malformed"],
            "one error, then nothing"
        );
    }

    #[tokio::test]
    async fn a_refused_or_cut_response_head_is_an_error_not_a_hang() {
        let url = raw_server(&[b"HTTP/1.1 200 OK\r\ncontent-le"]).await;
        let request = reqwest::Client::new().get(&url).build().unwrap();
        let error = http1::send(&request).await.unwrap_err();
        assert_eq!(error, "the connection closed before a response head");
        let url = raw_server(&[b"HTTP/1.1 2x0 OK\r\n\r\n"]).await;
        let request = reqwest::Client::new().get(&url).build().unwrap();
        let error = http1::send(&request).await.unwrap_err();
        assert!(
            error.starts_with("the response head is malformed"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn framed_lines_end_with_the_limit_they_broke() {
        let chunks = ["ab\ncd", "\n", "toolong\n", "ef\n"];
        type Read = Result<Vec<(Vec<u8>, usize)>, String>;
        let items: Vec<Read> = framed(response(&chunks), Lines::<Four>::new(4), |line, n| {
            (line.bytes().to_vec(), n)
        })
        .collect()
        .await;
        // One item per chunk that completes one; the chunk "ab\ncd" completes "ab".
        assert_eq!(items[0], Ok(vec![(b"ab".to_vec(), 5)]));
        assert_eq!(items[1], Ok(vec![(b"cd".to_vec(), 1)]));
        assert_eq!(items.len(), 3, "nothing after the error: {items:?}");
        let broke = items[2].as_ref().unwrap_err();
        assert!(broke.starts_with("a line passed four bytes"), "{broke}");
    }
}
