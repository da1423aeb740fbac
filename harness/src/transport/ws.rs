//! WebSocket subscriptions: opening one within a deadline, with the message-size limit every reader of binary messages holds.
//!
//! The AT Protocol checks, the snapshot exchange and the load firehose
//! reader all open their sockets here, so a hostile server's oversized
//! message is refused by the same limit everywhere: tungstenite refuses a
//! message or frame over `max_message` before buffering it whole.

use std::fmt;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open WebSocket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a WebSocket did not open.
#[derive(Debug)]
pub enum OpenError {
    /// The connection or the upgrade failed.
    Failed(String),
    /// No upgrade came within the deadline.
    Late(Duration),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Failed(error) => f.write_str(error),
            OpenError::Late(wait) => write!(f, "no upgrade within {wait:?}"),
        }
    }
}

/// The limits of a socket whose messages are at most `max_message` bytes.
fn limits(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
        .read_buffer_size(READ_BUFFER)
}

/// How much tungstenite reads at once. Its default, 128 KiB, is kept per
/// connection and zeroed before every read (`read_in` resizes the buffer with
/// zeros), which cost a firehose subscriber about 100,000 instructions a
/// message and 128 KiB while idle; a frame larger than this is still read
/// whole, in more reads.
const READ_BUFFER: usize = 8 << 10;

/// Opens the `ws://` (or `wss://`) `url` within `wait`, with Nagle off.
pub async fn open(
    url: &str,
    max_message: usize,
    wait: Duration,
) -> Result<(Socket, Response), OpenError> {
    let connect =
        tokio_tungstenite::connect_async_with_config(url, Some(limits(max_message)), true);
    tokio::time::timeout(wait, connect)
        .await
        .map_err(|_| OpenError::Late(wait))?
        .map_err(|e| OpenError::Failed(e.to_string()))
}

/// Opens the `ws://` `url` within `wait` on a socket whose receive buffer is
/// `recv_buffer` bytes when given (the kernel's default otherwise).
///
/// With `recv_buffer`, segments are Ethernet-sized too (MSS 1,400): on
/// loopback the MSS is 64 KiB, which lets the server's send buffer grow to
/// megabytes at once, and bytes parked there are messages the server counts
/// as delivered. `wss://` is not supported here.
pub async fn open_with_buffer(
    url: &str,
    max_message: usize,
    wait: Duration,
    recv_buffer: Option<u32>,
) -> Result<(Socket, Response), OpenError> {
    let connect = async {
        let tcp = dial(url, recv_buffer)
            .await
            .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
        tokio_tungstenite::client_async_with_config(
            url,
            MaybeTlsStream::Plain(tcp),
            Some(limits(max_message)),
        )
        .await
    };
    tokio::time::timeout(wait, connect)
        .await
        .map_err(|_| OpenError::Late(wait))?
        .map_err(|e| OpenError::Failed(e.to_string()))
}

/// A TCP connection to the host of the `ws://` URL `url`.
async fn dial(url: &str, recv_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let invalid = |what: &str| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {url}"))
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid("not a URL"))?;
    if parsed.scheme() != "ws" {
        return Err(invalid("only ws:// subscriptions are supported"));
    }
    let host = parsed.host_str().ok_or_else(|| invalid("no host"))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| invalid("no port"))?;
    let mut last = invalid("the host resolved to no address");
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
            socket2::SockRef::from(&socket).set_tcp_mss(1_400)?;
        }
        match socket.connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
