//! Accepted connections, wrapped so that a peer that stops reading, or never sends a request, is cut off.
//!
//! A stream consumer that stops reading fills its socket buffers; the
//! server's writes then stay pending. [`StallGuard`] turns a write that has
//! been pending for `stall_timeout` into an error, which makes hyper close the
//! connection. Memory per subscriber stays bounded by the socket buffers and
//! one read batch, and the consumer's stream is ended rather than kept alive
//! forever.
//!
//! A peer that connects and sends nothing never gets as far as hyper's
//! header-read timeout: hyper first reads up to 24 bytes (the HTTP/2
//! preface's length) to tell HTTP/1.1 from h2c, and that read has no
//! deadline. [`StallGuard`] gives it one: until 24 bytes have arrived or the
//! server has written something, a read pending past the header-read timeout
//! fails, and the connection is closed. Past that point hyper's own
//! header-read timeout (set in [`crate::server`]) covers HTTP/1.1 requests
//! that stop halfway and idle keep-alive connections.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::subscribers::Hub;

/// A TCP listener whose connections carry a [`StallGuard`].
#[derive(Debug)]
pub struct GuardedListener {
    pub inner: TcpListener,
    pub stall_timeout: Duration,
    /// How long a new connection may take to send the first bytes of its request.
    pub header_read_timeout: Duration,
    pub hub: Arc<Hub>,
}

impl axum::serve::Listener for GuardedListener {
    type Io = StallGuard<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Frames are small and latency matters more than packet count.
                    let _ = stream.set_nodelay(true);
                    let guard = StallGuard::new(stream, self.stall_timeout, Arc::clone(&self.hub))
                        .with_first_bytes_deadline(self.header_read_timeout);
                    return (guard, addr);
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An I/O stream whose writes fail once they have been pending for too long.
#[derive(Debug)]
pub struct StallGuard<IO> {
    inner: IO,
    timeout: Duration,
    /// Set while a write is pending; cleared by any write that makes progress.
    deadline: Option<Pin<Box<Sleep>>>,
    hub: Arc<Hub>,
    /// Until the protocol is known (see the module docs): when reads stop being allowed to wait.
    first_bytes: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far, counted up to [`PROTOCOL_PREFIX`].
    read_so_far: usize,
}

/// How many bytes hyper reads before it knows the protocol: the HTTP/2 preface's length.
const PROTOCOL_PREFIX: usize = 24;

impl<IO> StallGuard<IO> {
    pub fn new(inner: IO, timeout: Duration, hub: Arc<Hub>) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
            hub,
            first_bytes: None,
            read_so_far: 0,
        }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &IO {
        &self.inner
    }

    /// Reads pending once `limit` has passed fail, until the first
    /// [`PROTOCOL_PREFIX`] bytes have arrived or anything has been written.
    pub fn with_first_bytes_deadline(mut self, limit: Duration) -> Self {
        self.first_bytes = Some(Box::pin(tokio::time::sleep(limit)));
        self
    }

    /// Called when the inner write is pending: arms the deadline, and fails once it passes.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.deadline = None;
                self.hub.count_stall_disconnect();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer has not read for the stall timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(&mut self, result: io::Result<T>) -> Poll<io::Result<T>> {
        self.deadline = None;
        // The server answered something, so a request arrived: hyper's own timeouts apply now.
        self.first_bytes = None;
        Poll::Ready(result)
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for StallGuard<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let Some(first_bytes) = self.first_bytes.as_mut() else {
            return result;
        };
        match result {
            Poll::Ready(Ok(())) => {
                self.read_so_far += buf.filled().len() - before;
                if self.read_so_far >= PROTOCOL_PREFIX {
                    self.first_bytes = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match first_bytes.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.first_bytes = None;
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the peer sent no request within the header-read timeout",
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for StallGuard<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => self.progressed(result),
            Poll::Pending => self.stalled(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => self.progressed(result),
            Poll::Pending => self.stalled(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => self.progressed(result),
            Poll::Pending => self.stalled(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_pending_past_the_timeout_fails_and_is_counted() {
        // A duplex pipe with a 16-byte buffer that nobody reads.
        let (writer, _reader) = tokio::io::duplex(16);
        let hub = Arc::new(Hub::default());
        let mut guard = StallGuard::new(writer, Duration::from_secs(2), Arc::clone(&hub));
        guard.write_all(&[0; 16]).await.unwrap();
        let start = tokio::time::Instant::now();
        let error = guard.write_all(&[0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "cut at the timeout, to the instant"
        );
        assert_eq!(hub.stats().stall_disconnects, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_cut() {
        use tokio::io::AsyncReadExt;
        let (writer, mut reader) = tokio::io::duplex(16);
        let hub = Arc::new(Hub::default());
        let mut guard = StallGuard::new(writer, Duration::from_secs(2), Arc::clone(&hub));
        let drain = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let mut total = 0;
            while total < 1024 {
                // Each read comes within the timeout, so no write stays pending past it.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                total += reader.read(&mut buf).await.unwrap();
            }
        });
        guard.write_all(&[0; 1024]).await.unwrap();
        drain.await.unwrap();
        assert_eq!(hub.stats().stall_disconnects, 0);
    }
}
