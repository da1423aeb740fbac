//! `subscribeRepos` and `subscribeLabels`: WebSocket streams of stored frames, pulled from the log.
//!
//! Without a cursor a subscriber starts live. With one it gets every frame
//! with `seq > cursor` still kept, then live; a cursor before the oldest kept
//! frame gets `#info OutdatedCursor` first, one beyond the newest `seq` an
//! error frame `FutureCursor` and a close. A subscriber that has caught up
//! and then falls more than `consumer_buffer` frames behind gets an error
//! frame `ConsumerTooSlow` and a close. Frames are pulled from the log (from
//! its in-memory tail, shared by every subscriber and sent without a copy, or
//! from the store for a subscriber behind it), so a slow subscriber holds at
//! most one read batch. After `ping_interval`
//! without a frame the server sends a WebSocket ping; pings from the client
//! are answered.

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::xrpc::XrpcError;
use super::{LABELS_STREAM, REPOS_STREAM, events};
use crate::atproto::Ctx;
use crate::defects::Defect;
use crate::store::ReadLimit;

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn cursor(query: &CursorQuery) -> Result<Option<u64>, XrpcError> {
    query
        .cursor
        .as_deref()
        .map(|text| {
            text.parse::<u64>()
                .map_err(|_| XrpcError::invalid("cursor must be a non-negative integer"))
        })
        .transpose()
}

pub async fn subscribe_repos(
    State(state): State<Ctx>,
    Query(query): Query<CursorQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    subscribe(state, REPOS_STREAM, query, upgrade)
}

pub async fn subscribe_labels(
    State(state): State<Ctx>,
    Query(query): Query<CursorQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    subscribe(state, LABELS_STREAM, query, upgrade)
}

fn subscribe(
    state: Ctx,
    stream: &'static str,
    query: CursorQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let cursor = match cursor(&query) {
        Ok(cursor) => cursor,
        Err(e) => return e.into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return XrpcError::invalid("subscriptions need a WebSocket upgrade").into_response();
    };
    // "Now" is fixed before the handshake answers, so a client that writes
    // right after connecting sees its own write.
    let head = state.log.head(stream).unwrap_or(0);
    upgrade
        .max_message_size(64 * 1024)
        // A subscriber only sends pings and a close: tungstenite's default
        // 128 KiB read buffer, zeroed per connection, was most of what an idle
        // subscriber cost (~120 KiB each); it grows when a message needs it.
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| async move {
            if let Err(error) = serve(&state, stream, cursor, head, socket).await {
                tracing::debug!(%error, stream, "subscriber ended");
            }
        })
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

async fn send_frame(tx: &mut Sink, frame: Vec<u8>) -> Result<(), axum::Error> {
    tx.send(Message::Binary(Bytes::from(frame))).await
}

/// Queues a frame without flushing: the frames of one read go out together.
/// The frame is the stored payload itself, shared with every other subscriber.
async fn feed_frame(tx: &mut Sink, frame: Bytes) -> Result<(), axum::Error> {
    tx.feed(Message::Binary(frame)).await
}

/// An error frame, then a close.
async fn fail(state: &Ctx, tx: &mut Sink, error: &str, message: &str) -> Result<(), axum::Error> {
    let typed = state.config.defects.contains(Defect::ErrorFrameWithType);
    send_frame(tx, events::error(error, message, typed)).await?;
    tx.send(Message::Close(None)).await
}

async fn serve(
    state: &Ctx,
    stream: &'static str,
    cursor: Option<u64>,
    head: u64,
    socket: WebSocket,
) -> Result<(), axum::Error> {
    let _guard = state.hub.open_stream();
    let token = state.hub.token("atproto");
    let config = &state.config.atproto;
    let (mut tx, mut rx) = socket.split();
    // Reading answers the client's pings and notices its close.
    let gone = CancellationToken::new();
    let reader = tokio::spawn({
        let gone = gone.clone();
        async move {
            while let Some(Ok(message)) = rx.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
            gone.cancel();
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut watch = state.log.watch(stream);
    let defects = &state.config.defects;
    let cursor = match cursor {
        Some(0) if defects.contains(Defect::CursorZeroLive) => None,
        Some(cursor) if cursor > head && defects.contains(Defect::FutureCursorIgnored) => None,
        Some(cursor) if defects.contains(Defect::ReplayIncludesCursor) => {
            Some(cursor.saturating_sub(1))
        }
        Some(cursor)
            if cursor > 0 && cursor < head && defects.contains(Defect::DropOnReconnect) =>
        {
            Some(cursor + 1)
        }
        other => other,
    };
    let mut position = match cursor {
        None => head,
        Some(cursor) if cursor > head => {
            return fail(state, &mut tx, "FutureCursor", "Cursor in the future.").await;
        }
        Some(cursor) => {
            let first = state.log.bounds(stream).ok().and_then(|b| b.first);
            if first.is_some_and(|first| cursor + 1 < first)
                && !defects.contains(Defect::NoOutdatedCursor)
            {
                let message = "Requested cursor exceeded limit. Possibly missing events";
                send_frame(&mut tx, events::info("OutdatedCursor", message)).await?;
            }
            cursor
        }
    };
    let mut live = cursor.is_none();
    let cut_laggards = !defects.contains(Defect::NoSlowConsumerCut);
    let repeat_frames = defects.contains(Defect::RepeatFrames);
    let batch = state.config.subscribers.read_batch;
    loop {
        let read = state
            .log
            .read_after(
                stream,
                position,
                ReadLimit::records(batch),
                Box::new(|_| true),
            )
            .await
            .map_err(axum::Error::new)?;
        for record in read.records {
            let newest = *watch.borrow();
            if cut_laggards
                && live
                && newest.saturating_sub(record.position) > config.consumer_buffer
            {
                return fail(
                    state,
                    &mut tx,
                    "ConsumerTooSlow",
                    "Stream consumer too slow",
                )
                .await;
            }
            if repeat_frames && record.position % 4 == 0 {
                feed_frame(&mut tx, record.payload.clone()).await?;
            }
            feed_frame(&mut tx, record.payload).await?;
            position = record.position;
        }
        // One flush (one socket write, as far as the socket takes it) per batch read.
        tx.flush().await?;
        position = position.max(read.scanned_to);
        if !read.reached_end {
            continue;
        }
        live = true;
        loop {
            if *watch.borrow_and_update() > position {
                break;
            }
            tokio::select! {
                changed = watch.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                () = tokio::time::sleep(config.ping_interval) => {
                    tx.send(Message::Ping(Bytes::new())).await?;
                }
                () = token.cancelled() => {
                    return tx.send(Message::Close(None)).await;
                }
                () = gone.cancelled() => return Ok(()),
            }
        }
    }
}

/// Aborts the reader task when the stream ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
