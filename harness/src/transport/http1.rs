//! The load subscriber's own HTTP/1.1 client for plain `http://` streams: one request per connection, each read decoded in place, so an idle subscriber holds no read buffer.
//!
//! A load run holds thousands of streams open. Through reqwest each one
//! keeps hyper's read and write buffers and its dispatch channel, about
//! 27 KiB of heap, while it waits for the next event. Here a stream keeps
//! its socket and the body decoder's few bytes of state: a read goes into
//! a buffer on the stack and [`wire::http1::BodyDecoder`] hands the payload
//! in it straight to the reader's framing.
//!
//! Only what a subscription needs is spoken: the request reqwest built
//! (method, path, headers, a body of bytes), a response head, and a
//! chunked, sized or close-delimited body. Anything else (TLS, a proxy from
//! the environment, a streamed request body) goes through reqwest, which
//! [`usable`] says.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use wire::http1::{BodyDecoder, Head, parse_head};

/// The longest response head a stream may send.
const MAX_HEAD: usize = 64 * 1024;

/// How much one read takes off the socket (on the stack, not kept).
const READ: usize = 32 * 1024;

/// The environment variables through which reqwest would send `http://` to a proxy.
const PROXY_VARIABLES: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/// Whether this client can send `request`: plain `http://`, a body of bytes
/// (or none), and no proxy for reqwest to honour.
pub fn usable(request: &reqwest::Request) -> bool {
    request.url().scheme() == "http"
        && request.body().is_none_or(|body| body.as_bytes().is_some())
        && PROXY_VARIABLES
            .iter()
            .all(|name| std::env::var_os(name).is_none_or(|v| v.is_empty()))
}

/// An open response whose head has been read.
#[derive(Debug)]
pub struct Response {
    pub head: Head,
    io: TcpStream,
    decoder: BodyDecoder,
    /// Body bytes that came in the head's last read, decoded by the first poll.
    early: Option<Vec<u8>>,
}

/// Connects, sends `request` and reads the response head.
pub async fn send(request: &reqwest::Request) -> Result<Response, String> {
    let url = request.url();
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    // An IPv6 literal is written in brackets in the URL and the Host header, not to connect.
    let address = host.trim_start_matches('[').trim_end_matches(']');
    let mut io = TcpStream::connect((address, port))
        .await
        .map_err(|e| format!("could not connect to {host}:{port}: {e}"))?;
    io.set_nodelay(true).map_err(|e| e.to_string())?;
    io.write_all(&request_bytes(request))
        .await
        .map_err(|e| format!("could not send the request: {e}"))?;
    let (head, early) = read_head(&mut io).await?;
    Ok(Response {
        decoder: BodyDecoder::new(head.body),
        head,
        io,
        early: (!early.is_empty()).then_some(early),
    })
}

/// `request` as HTTP/1.1 bytes, with a Host header and the body's length.
fn request_bytes(request: &reqwest::Request) -> Vec<u8> {
    let url = request.url();
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default();
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut bytes =
        format!("{} {target} HTTP/1.1\r\nhost: {host}\r\n", request.method()).into_bytes();
    for (name, value) in request.headers() {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || request.method() != reqwest::Method::GET {
        bytes.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// The final response head (interim `1xx` heads skipped) and the bytes read past it.
async fn read_head(io: &mut TcpStream) -> Result<(Head, Vec<u8>), String> {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        while let Some((head, used)) = parse_head(&buffer, MAX_HEAD).map_err(|e| e.to_string())? {
            buffer.drain(..used);
            if !head.is_interim() {
                buffer.shrink_to_fit();
                return Ok((head, buffer));
            }
        }
        buffer.reserve(4096);
        let read = io
            .read_buf(&mut buffer)
            .await
            .map_err(|e| format!("connection error: {e}"))?;
        if read == 0 {
            return Err("the connection closed before a response head".to_owned());
        }
    }
}

impl Response {
    /// Reads once and hands the payload in the read to `payload`; `None`
    /// once the body is over, `Err` when the connection broke or the server
    /// broke HTTP/1.1 framing.
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        payload: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<Result<(), String>>> {
        if let Some(early) = self.early.take() {
            return Poll::Ready(Some(self.decode(&early, payload)));
        }
        if self.decoder.is_done() {
            return Poll::Ready(None);
        }
        let mut buffer = [MaybeUninit::<u8>::uninit(); READ];
        let mut read = ReadBuf::uninit(&mut buffer);
        if let Err(error) = ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)) {
            return Poll::Ready(Some(Err(format!("connection error: {error}"))));
        }
        if read.filled().is_empty() {
            return Poll::Ready(match self.decoder.finish() {
                Ok(()) => None,
                Err(error) => Some(Err(error.to_string())),
            });
        }
        Poll::Ready(Some(self.decode(read.filled(), payload)))
    }

    fn decode(&mut self, bytes: &[u8], payload: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        self.decoder
            .decode(bytes, &mut |run| payload(run))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: reqwest::Method, url: &str, body: Option<&'static str>) -> reqwest::Request {
        let client = reqwest::Client::new();
        let mut builder = client
            .request(method, url)
            .bearer_auth("key")
            .header("accept", "text/event-stream");
        if let Some(body) = body {
            builder = builder.body(body);
        }
        builder.build().unwrap()
    }

    #[test]
    fn a_request_is_written_with_its_target_host_headers_and_body_length() {
        let post = request(
            reqwest::Method::POST,
            "http://127.0.0.1:8080/v2/events/subscribe?x=1",
            Some(r#"{"query":"FROM allEvents"}"#),
        );
        let text = String::from_utf8(request_bytes(&post)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("POST /v2/events/subscribe?x=1 HTTP/1.1"));
        let headers: Vec<&str> = lines.collect();
        for expected in [
            "host: 127.0.0.1:8080",
            "authorization: Bearer key",
            "accept: text/event-stream",
            "content-length: 26",
        ] {
            assert!(headers.contains(&expected), "{expected} in {headers:?}");
        }
        assert_eq!(body, r#"{"query":"FROM allEvents"}"#);
        let get = request(reqwest::Method::GET, "http://[::1]/v1/events", None);
        let text = String::from_utf8(request_bytes(&get)).unwrap();
        assert!(
            text.starts_with("GET /v1/events HTTP/1.1\r\nhost: [::1]\r\n"),
            "{text}"
        );
        assert!(
            !text.contains("content-length"),
            "a GET without a body says no length: {text}"
        );
    }

    #[test]
    fn tls_and_streamed_bodies_stay_with_reqwest() {
        let plain = request(reqwest::Method::GET, "http://localhost:1/", None);
        let tls = request(reqwest::Method::GET, "https://localhost:1/", None);
        assert!(!usable(&tls));
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(vec![1u8])]);
        let streamed = reqwest::Client::new()
            .post("http://localhost:1/")
            .body(reqwest::Body::wrap_stream(stream))
            .build()
            .unwrap();
        assert!(!usable(&streamed));
        // Unless the environment names a proxy, which this test does not set.
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        assert_eq!(usable(&plain), !proxied);
    }
}
