//! The node: its identity, its Lamport clock, the streams it knows, and the two ways events arrive (publish, replication).
//!
//! Every Actyx stream is one log stream (`actyx.<stream id>`, position =
//! offset + 1), so offsets are contiguous, never reused and durable with the
//! store. What else must survive a restart sits in the key-value space and is
//! written in the same commit as the events it describes: the node id and
//! token secret (`actyx.node`), the Lamport clock (`actyx.node/lamport`), and
//! the known streams with the offset the swarm has announced for each
//! (`actyx.streams`).
//!
//! A write holds the writer lock only while it builds and enqueues its commit
//! and moves the clock; it waits for the disk after letting go, so concurrent
//! publishers share fsyncs. What readers see (`present`, the change counter)
//! moves only once the commit is durable.

use std::collections::BTreeMap;
use std::sync::RwLock;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::model::LineCache;
use super::model::{Event, EventKey, NodeId, Stored, StreamId, log_stream};
use crate::log::Log;
use crate::store::{NewRecord, WriteBatch};

const NODE_NS: &str = "actyx.node";
const STREAMS_NS: &str = "actyx.streams";
/// The stream number this node's apps publish to.
pub const LOCAL_STREAM_NR: u64 = 0;

/// What the node knows about one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The newest offset stored here, if any.
    #[serde(skip)]
    pub present: Option<u64>,
    /// The lamport of the newest event stored here; lamports grow along a stream.
    #[serde(skip)]
    pub last_lamport: Option<u64>,
    /// The newest offset the swarm has announced (replication target), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<u64>,
}

impl StreamInfo {
    /// Events announced but not yet here.
    pub fn to_replicate(&self) -> u64 {
        let have = self.present.map_or(0, |p| p + 1);
        self.announced.map_or(0, |a| (a + 1).saturating_sub(have))
    }
}

/// An event that arrives from another node through the control API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForeignEvent {
    pub offset: u64,
    pub lamport: u64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "foreign_app")]
    pub app_id: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Microseconds since the epoch; the arrival time when absent.
    #[serde(default)]
    pub timestamp: Option<u64>,
}

fn foreign_app() -> String {
    "com.example.foreign".to_owned()
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Invalid(String),
    /// The events do not continue the stream where it ends.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What writers decide from: it runs ahead of what is durable by the commits
/// enqueued and not yet fsync'd.
#[derive(Debug)]
struct Writer {
    /// The Lamport clock.
    lamport: u64,
    /// Other nodes' streams as they will be once every enqueued commit is
    /// durable; replication continues from here.
    foreign: BTreeMap<StreamId, StreamInfo>,
}

#[derive(Debug)]
pub struct Node {
    pub id: NodeId,
    /// Signs auth tokens; kept so that tokens survive a restart.
    pub secret: [u8; 32],
    /// Serialises writes: held while a commit is built and enqueued, not
    /// while it waits for the disk.
    writer: tokio::sync::Mutex<Writer>,
    /// The streams as far as they are durable: what readers and subscribers see.
    streams: RwLock<BTreeMap<StreamId, StreamInfo>>,
    /// Counts commits; subscribers wait on it for news of any stream.
    changed: watch::Sender<u64>,
}

impl Node {
    /// Loads the node's identity, clock and streams, creating the identity on first start.
    pub fn load(log: &Log, now_micros: u64) -> anyhow::Result<Self> {
        let store = log;
        let (id, secret) = identity(store, now_micros)?;
        let lamport = match store.kv_get(NODE_NS, "lamport")? {
            Some(bytes) => String::from_utf8_lossy(&bytes)
                .parse()
                .context("the stored Actyx lamport clock is not a number")?,
            None => 0,
        };
        let mut streams = BTreeMap::new();
        for (name, value) in store
            .kv_scan(STREAMS_NS)
            .context("reading the Actyx streams")?
        {
            let stream: StreamId = name
                .parse()
                .map_err(|e| anyhow::anyhow!("stored Actyx stream: {e}"))?;
            let mut info: StreamInfo = serde_json::from_slice(&value)
                .with_context(|| format!("the stored Actyx stream {name} is corrupt"))?;
            let name = log_stream(&stream);
            if let Some(last) = store.bounds(&name)?.last {
                let record = store
                    .get(&name, last)?
                    .with_context(|| format!("the newest event of {stream} is missing"))?;
                let event = Event::from_record(stream, &record).map_err(anyhow::Error::msg)?;
                info.present = Some(last - 1);
                info.last_lamport = Some(event.key.lamport);
            }
            streams.insert(stream, info);
        }
        let foreign = streams
            .iter()
            .filter(|(stream, _)| stream.node != id)
            .map(|(stream, info)| (*stream, *info))
            .collect();
        Ok(Self {
            id,
            secret,
            writer: tokio::sync::Mutex::new(Writer { lamport, foreign }),
            streams: RwLock::new(streams),
            changed: watch::channel(0).0,
        })
    }

    /// The stream this node's apps publish to.
    pub fn local_stream(&self) -> StreamId {
        id_stream(self.id)
    }

    /// Every known stream and what is known of it.
    pub fn streams(&self) -> BTreeMap<StreamId, StreamInfo> {
        self.streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The newest offset of each stream that has events.
    pub fn present(&self) -> BTreeMap<StreamId, u64> {
        let streams = self.streams.read().unwrap_or_else(|p| p.into_inner());
        streams
            .iter()
            .filter_map(|(s, info)| info.present.map(|p| (*s, p)))
            .collect()
    }

    /// A receiver that changes after every commit of events.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Publishes events to the local stream: each gets the next lamport and offset.
    pub async fn publish(
        &self,
        log: &Log,
        app_id: &str,
        events: Vec<(Vec<String>, serde_json::Value)>,
        now_micros: u64,
    ) -> Result<Vec<Event>, WriteError> {
        let stream = self.local_stream();
        let name = log_stream(&stream);
        let mut writer = self.writer.lock().await;
        let mut lamport = writer.lamport;
        let mut batch = WriteBatch::new();
        let mut stored = Vec::with_capacity(events.len());
        for (tags, payload) in events {
            lamport += 1;
            let record = Stored {
                lamport,
                tags,
                app_id: app_id.to_owned(),
                payload,
            };
            batch.append(&name, new_record(&record, now_micros));
            stored.push(record);
        }
        if stored.is_empty() {
            return Ok(Vec::new());
        }
        batch.put(NODE_NS, "lamport", lamport.to_string().into_bytes());
        batch.put(STREAMS_NS, &stream.to_string(), b"{}".to_vec());
        let enqueued = log.enqueue(batch)?;
        writer.lamport = lamport;
        drop(writer);
        let committed = enqueued.durable().await?;
        self.advance_stream(
            stream,
            StreamInfo {
                present: committed.positions.last().map(|p| p - 1),
                last_lamport: Some(lamport),
                announced: None,
            },
        );
        self.changed.send_modify(|n| *n += 1);
        Ok(stored
            .into_iter()
            .zip(committed.positions)
            .map(|(s, position)| Event {
                key: EventKey {
                    lamport: s.lamport,
                    stream,
                    offset: position - 1,
                },
                timestamp: now_micros,
                tags: s.tags,
                app_id: s.app_id,
                payload: s.payload,
                line_cache: LineCache::default(),
            })
            .collect())
    }

    /// Takes events of another node's stream, as replication would deliver
    /// them: in offset order, continuing where the stream ends here. The
    /// Lamport clock moves past the highest lamport seen. `announce` raises
    /// the offset the swarm claims for the stream (for `toReplicate`).
    pub async fn replicate(
        &self,
        log: &Log,
        stream: StreamId,
        events: Vec<ForeignEvent>,
        announce: Option<u64>,
        now_micros: u64,
    ) -> Result<(), WriteError> {
        if stream.node == self.id {
            return Err(WriteError::Invalid(format!(
                "{stream} belongs to this node; foreign events need another node id"
            )));
        }
        let mut writer = self.writer.lock().await;
        let mut info = writer.foreign.get(&stream).copied().unwrap_or_default();
        let first = info.present.map_or(0, |p| p + 1);
        let name = log_stream(&stream);
        let mut batch = WriteBatch::new();
        let mut lamport = writer.lamport;
        let mut previous = info.last_lamport;
        for (expected, event) in (first..).zip(&events) {
            if previous.is_some_and(|p| event.lamport <= p) {
                return Err(WriteError::Conflict(format!(
                    "stream {stream} offset {}: lamport {} must be above the stream's previous lamport {}",
                    event.offset,
                    event.lamport,
                    previous.unwrap_or(0)
                )));
            }
            previous = Some(event.lamport);
            if event.offset != expected {
                return Err(WriteError::Conflict(format!(
                    "stream {stream} continues at offset {expected}, not {}: replication delivers a stream's events in order without gaps",
                    event.offset
                )));
            }
            lamport = lamport.max(event.lamport);
            let mut tags = event.tags.clone();
            tags.sort_unstable();
            tags.dedup();
            let record = Stored {
                lamport: event.lamport,
                tags,
                app_id: event.app_id.clone(),
                payload: event.payload.clone(),
            };
            batch.append(
                &name,
                new_record(&record, event.timestamp.unwrap_or(now_micros)),
            );
        }
        if let Some(offset) = announce {
            info.announced = Some(info.announced.map_or(offset, |a| a.max(offset)));
        }
        let value = serde_json::to_vec(&info).map_err(|e| WriteError::Invalid(e.to_string()))?;
        batch.put(STREAMS_NS, &stream.to_string(), value);
        batch.put(NODE_NS, "lamport", lamport.to_string().into_bytes());
        let enqueued = log.enqueue(batch)?;
        writer.lamport = lamport;
        let count = events.len() as u64;
        if count > 0 {
            info.present = Some(first + count - 1);
        }
        info.last_lamport = previous;
        writer.foreign.insert(stream, info);
        drop(writer);
        let committed = enqueued.durable().await?;
        self.advance_stream(
            stream,
            StreamInfo {
                present: committed.positions.last().map(|p| p - 1),
                ..info
            },
        );
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// The current value of the Lamport clock.
    pub async fn lamport(&self) -> u64 {
        self.writer.lock().await.lamport
    }

    /// Records that `durable` is on disk. Commits finish in order but their
    /// writers may wake in any order, so every field only moves forward.
    fn advance_stream(&self, stream: StreamId, durable: StreamInfo) {
        let mut streams = self.streams.write().unwrap_or_else(|p| p.into_inner());
        let info = streams.entry(stream).or_default();
        info.present = info.present.max(durable.present);
        info.last_lamport = info.last_lamport.max(durable.last_lamport);
        info.announced = info.announced.max(durable.announced);
    }
}

fn new_record(stored: &Stored, timestamp_micros: u64) -> NewRecord {
    NewRecord {
        timestamp_micros,
        // Serialising a struct of strings and JSON values cannot fail.
        payload: serde_json::to_vec(stored).unwrap_or_default(),
    }
}

fn id_stream(node: NodeId) -> StreamId {
    StreamId {
        node,
        nr: LOCAL_STREAM_NR,
    }
}

/// The routing table a fresh node writes to its stream 0 before anything
/// else: stream name and number, as lamports and offsets 0 to 3.
const ROUTING: &[(&str, u64)] = &[
    ("default", 0),
    ("discovery", 1),
    ("metrics", 2),
    ("files", 3),
];

/// The node id and token secret, made and stored on first start together
/// with the routing events a real node starts its stream 0 with.
fn identity(store: &Log, now_micros: u64) -> anyhow::Result<(NodeId, [u8; 32])> {
    let id = store.kv_get(NODE_NS, "id")?;
    let secret = store.kv_get(NODE_NS, "secret")?;
    if let (Some(id), Some(secret)) = (id, secret) {
        let id: [u8; 32] = id
            .try_into()
            .map_err(|_| anyhow::anyhow!("the stored Actyx node id is not 32 bytes"))?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| anyhow::anyhow!("the stored Actyx token secret is not 32 bytes"))?;
        return Ok((NodeId(id), secret));
    }
    let (id, secret) = (crate::random::bytes32(), crate::random::bytes32());
    let local = id_stream(NodeId(id));
    let mut batch = WriteBatch::new();
    batch.put(NODE_NS, "id", id.to_vec());
    batch.put(NODE_NS, "secret", secret.to_vec());
    for (lamport, (name, nr)) in (0u64..).zip(ROUTING) {
        let record = Stored {
            lamport,
            tags: vec!["event_routing".to_owned()],
            app_id: "com.actyx".to_owned(),
            payload: serde_json::json!({"streamName": name, "streamNr": nr}),
        };
        batch.append(&log_stream(&local), new_record(&record, now_micros));
    }
    batch.put(
        NODE_NS,
        "lamport",
        (ROUTING.len() as u64 - 1).to_string().into_bytes(),
    );
    batch.put(STREAMS_NS, &local.to_string(), b"{}".to_vec());
    store
        .commit_at_start(batch)
        .context("storing the Actyx node identity")?;
    Ok((NodeId(id), secret))
}
