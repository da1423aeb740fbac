//! The AT Protocol script's own watch of the firehose: where its frames lie, so that the snapshotted subscriptions can start around them.

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::snapshot::exchange::{MAX_BODY, ScriptError, WAIT};
use crate::transport::ws::{self, Socket};

/// A subscription that is not snapshotted.
pub(super) async fn connect(base: &str, path: &str) -> Result<Socket, ScriptError> {
    let url = crate::client::ws_url(&format!("{base}{path}"));
    match ws::open(&url, MAX_BODY, WAIT).await {
        Ok((socket, _)) => Ok(socket),
        Err(e) => Err(ScriptError(format!("GET {path}: {e}"))),
    }
}

/// Where the script's own frames lie in the firehose: the seqs of the
/// first and the last frame about the account, and how many frames that
/// span holds (others' included).
pub(super) struct Seen {
    pub(super) first: u64,
    pub(super) last: u64,
    pub(super) count: usize,
}

/// Reads `watch` until the `#commit` of `did` at `rev`, or until it goes
/// quiet (a server under test may never send that one).
pub(super) async fn ours(watch: &mut Socket, did: &str, rev: &str) -> Result<Seen, ScriptError> {
    let mut span: Vec<(u64, bool)> = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(WAIT, watch.next()).await {
        let Message::Binary(bytes) = message else {
            continue;
        };
        // Read leniently: a server under test may send what strict DAG-CBOR
        // refuses (keys out of order), and the script must still find its frames.
        let Some(body) = crate::snapshot::cbor::frame_body(&bytes) else {
            continue;
        };
        let text = |name: &str| body.get(name).and_then(Value::as_str);
        let Some(seq) = body.get("seq").and_then(Value::as_u64) else {
            continue;
        };
        let mine = text("repo").or(text("did")) == Some(did);
        if mine || !span.is_empty() {
            span.push((seq, mine));
        }
        if mine && text("rev") == Some(rev) {
            break;
        }
    }
    let end = span
        .iter()
        .rposition(|(_, mine)| *mine)
        .ok_or_else(|| ScriptError(format!("subscribeRepos sent no frame about {did}")))?;
    Ok(Seen {
        first: span[0].0,
        last: span[end].0,
        count: end + 1,
    })
}
