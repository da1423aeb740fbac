//! `subscribeRepos` and `subscribeLabels`: WebSocket streams of stored frames, pulled from the log.
//!
//! Without a cursor a subscriber starts live. With one it gets every frame
//! with `seq > cursor` still kept, then live; a cursor before the oldest kept
//! frame gets `#info OutdatedCursor` first, one beyond the newest `seq` an
//! error frame `FutureCursor` and a close. A subscriber that has caught up
//! and then falls more than `consumer_buffer` frames behind gets an error
//! frame `ConsumerTooSlow` and a close. The socket is fed by a [`Follower`]
//! (see [`crate::core::follow`]) around the firehose feed: frames are pulled
//! from the log (from its in-memory tail, shared by every subscriber and sent
//! without a copy, or from the store for a subscriber behind it), so a slow
//! subscriber holds at most one read batch. The keep-alive, after
//! `ping_interval` without a frame, is a WebSocket ping; pings from the
//! client are answered.

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
use crate::core::follow::{End, Feed, Follower, LogCursor, Pace, Step};
use crate::defects::Defect;

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

/// What the firehose feed hands the socket.
#[derive(Debug)]
enum Out {
    /// Stored frames, shared with every other subscriber; flushed together.
    Frames(Vec<Bytes>),
    /// The keep-alive.
    Ping,
    /// The subscriber fell too far behind: the frames read before it
    /// noticed, then an error frame and a close.
    TooSlow(Vec<Bytes>),
}

/// The frames of one log stream, for the [`Follower`].
struct FirehoseFeed {
    /// Caught up once: from here on, falling behind cuts the subscriber.
    live: bool,
    consumer_buffer: u64,
    cut_laggards: bool,
    repeat_frames: bool,
}

impl Feed for FirehoseFeed {
    type Out = Out;
    type Place = LogCursor;

    async fn step(&mut self, cursor: &mut LogCursor, batch: usize) -> Step<Out> {
        let Ok(read) = cursor.read(batch).await else {
            return Step::End(End::StoreFailed, None);
        };
        let mut frames = Vec::with_capacity(read.records.len());
        for record in read.records {
            let behind = cursor.newest().saturating_sub(record.position);
            if self.cut_laggards && self.live && behind > self.consumer_buffer {
                return Step::End(End::Finished, Some(Out::TooSlow(frames)));
            }
            if self.repeat_frames && record.position % 4 == 0 {
                frames.push(record.payload.clone());
            }
            frames.push(record.payload);
            cursor.after = record.position;
        }
        cursor.after = cursor.after.max(read.scanned_to);
        match (read.reached_end, frames.is_empty()) {
            (false, true) => Step::Again,
            (false, false) => Step::Send(Out::Frames(frames)),
            (true, empty) => {
                self.live = true;
                if empty {
                    Step::CaughtUp
                } else {
                    Step::SendCaughtUp(Out::Frames(frames))
                }
            }
        }
    }

    fn keepalive(&mut self, _at: &LogCursor) -> Option<Out> {
        Some(Out::Ping)
    }
}

async fn serve(
    state: &Ctx,
    stream: &'static str,
    cursor: Option<u64>,
    head: u64,
    socket: WebSocket,
) -> Result<(), axum::Error> {
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
    let Some((position, live)) = start(state, stream, cursor, head, &mut tx).await? else {
        return Ok(());
    };
    let defects = &state.config.defects;
    let cursor = LogCursor::new(&state.log, stream, position);
    let feed = FirehoseFeed {
        live,
        consumer_buffer: state.config.atproto.consumer_buffer,
        cut_laggards: !defects.contains(Defect::NoSlowConsumerCut),
        repeat_frames: defects.contains(Defect::RepeatFrames),
    };
    let pace = Pace {
        stop: state.hub.token("atproto"),
        keepalive: state.config.atproto.ping_interval,
        read_batch: state.config.subscribers.read_batch,
    };
    let mut follower = Follower::new(feed, cursor, &state.hub, pace);
    loop {
        let out = tokio::select! {
            out = follower.next() => out,
            () = gone.cancelled() => return Ok(()),
        };
        match out {
            None => break,
            Some(Out::Frames(frames)) => {
                for frame in frames {
                    feed_frame(&mut tx, frame).await?;
                }
                // One flush (one socket write, as far as the socket takes it) per batch read.
                tx.flush().await?;
            }
            Some(Out::Ping) => tx.send(Message::Ping(Bytes::new())).await?,
            Some(Out::TooSlow(frames)) => {
                for frame in frames {
                    feed_frame(&mut tx, frame).await?;
                }
                return fail(
                    state,
                    &mut tx,
                    "ConsumerTooSlow",
                    "Stream consumer too slow",
                )
                .await;
            }
        }
    }
    if follower.ended() == Some(End::Stopped) {
        tx.send(Message::Close(None)).await?;
    }
    Ok(())
}

/// Where a subscriber starts, and whether it starts live: after the head
/// without a cursor, after the cursor with one (an `OutdatedCursor` info
/// first when it is before the window), or nowhere (`None`) for a cursor in
/// the future, which gets an error frame and a close.
async fn start(
    state: &Ctx,
    stream: &'static str,
    cursor: Option<u64>,
    head: u64,
    tx: &mut Sink,
) -> Result<Option<(u64, bool)>, axum::Error> {
    let defects = &state.config.defects;
    let labels = stream == LABELS_STREAM;
    let cursor = match cursor {
        Some(cursor)
            if labels && cursor > head && defects.contains(Defect::LabelsFutureCursorLive) =>
        {
            None
        }
        Some(_) if labels && defects.contains(Defect::LabelsReplayFromStart) => Some(0),
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
    match cursor {
        None => Ok(Some((head, true))),
        Some(cursor) if cursor > head => {
            fail(state, tx, "FutureCursor", "Cursor in the future.").await?;
            Ok(None)
        }
        Some(cursor) => {
            let first = state.log.bounds(stream).ok().and_then(|b| b.first);
            if first.is_some_and(|first| cursor + 1 < first)
                && !defects.contains(Defect::NoOutdatedCursor)
                && !(labels && defects.contains(Defect::LabelsNoOutdatedCursor))
            {
                let message = "Requested cursor exceeded limit. Possibly missing events";
                send_frame(tx, events::info("OutdatedCursor", message)).await?;
            }
            Ok(Some((cursor, false)))
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

#[cfg(test)]
mod tests;
