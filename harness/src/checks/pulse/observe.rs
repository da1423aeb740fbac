//! What a case published and what its consumers read, in the form the delivery oracle takes.

use std::time::Duration;

use scenarios::delivery::Expected;
use scenarios::pulse::plans::{self, Change, Identity, ModelEvent, Table};
use serde_json::Value;
use wire::sse::SseEvent;

use super::Pulse;
use crate::transport::Events;
use crate::transport::sse::SseConn;

/// The event id in a frame's data, which is what the case published; the
/// SSE id field is what a reconnecting client sends back ([`resume_id`]).
pub fn event_id(event: &SseEvent) -> Option<String> {
    serde_json::from_str::<Value>(&event.data)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
}

/// What an EventSource would send as `Last-Event-ID` after reading `event`:
/// the last SSE id field seen, if any.
pub fn resume_id(event: &SseEvent) -> Option<String> {
    Some(event.last_event_id.clone()).filter(|id| !id.is_empty())
}

/// Reads events until the one with event id `stop` arrives (inclusive),
/// `max` events have come, the stream ends, or `wait` passes.
pub async fn read_until(
    conn: &mut SseConn,
    stop: &str,
    max: usize,
    wait: Duration,
) -> Vec<SseEvent> {
    conn.read_until(wait, max, |event| event_id(event).as_deref() == Some(stop))
        .await
}

/// How long a subscription read waits for each sentinel before it publishes
/// another. A subscription may lose any event (it promises at most once), the
/// sentinel too, so a case reads up to a sentinel that came rather than
/// waiting out a timeout for one that was lost.
const SENTINEL_WAITS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Reads a subscription up to a sentinel: publishes `sentinel(key)` (changes
/// on a fresh row whose last event the subscription passes) and reads until
/// that event arrives; when it has not come within a short wait, publishes
/// another on the next row, up to four. Every sentinel is in `published`.
pub async fn read_live(
    pulse: &Pulse,
    conn: &mut SseConn,
    published: &mut Published,
    model: &str,
    sentinel: impl Fn(u32) -> Vec<Change>,
) -> Result<Vec<SseEvent>, String> {
    let mut events = Vec::new();
    for (round, wait) in (0u32..).zip(SENTINEL_WAITS) {
        published
            .changes(pulse, model, &sentinel(plans::SENTINEL_KEY + round))
            .await?;
        let stop = published.last_id();
        let max = (2 * published.events.len() + 2).saturating_sub(events.len());
        let read = read_until(conn, &stop, max, wait).await;
        let arrived = read
            .iter()
            .any(|event| event_id(event).as_deref() == Some(stop.as_str()));
        events.extend(read);
        if arrived || conn.closed.is_some() {
            break;
        }
    }
    Ok(events)
}

/// The (event id, content) of delivered frames, from their data.
pub fn deliveries(events: &[SseEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|event| match serde_json::from_str::<Value>(&event.data) {
            Ok(data) => (
                data["id"].as_str().unwrap_or("<no id>").to_owned(),
                plans::delivered_content(&data),
            ),
            Err(_) => ("<data is not JSON>".to_owned(), event.data.clone()),
        })
        .collect()
}

/// What the delivery oracle expects of published events.
pub fn expected(model: &str, published: &[(String, ModelEvent)]) -> Vec<Expected> {
    published
        .iter()
        .map(|(id, event)| Expected {
            id: id.clone(),
            content: event.content(model),
        })
        .collect()
}

/// What a case has published to one model, in order, each event id beside
/// the model's event.
#[derive(Debug)]
pub struct Published {
    table: Table,
    pub events: Vec<(String, ModelEvent)>,
}

impl Published {
    pub fn new(identity: Identity) -> Self {
        Self {
            table: Table::new(identity),
            events: Vec::new(),
        }
    }

    /// Makes `change` and keeps its event; returns its id.
    pub async fn change(
        &mut self,
        pulse: &Pulse,
        model: &str,
        change: &Change,
    ) -> Result<String, String> {
        let event = self
            .table
            .apply(change)
            .ok_or("the plan makes a change that cannot happen")?;
        let id = pulse.change(model, change).await?;
        self.events.push((id.clone(), event));
        Ok(id)
    }

    /// Makes `changes` in order.
    pub async fn changes(
        &mut self,
        pulse: &Pulse,
        model: &str,
        changes: &[Change],
    ) -> Result<(), String> {
        for change in changes {
            self.change(pulse, model, change).await?;
        }
        Ok(())
    }

    /// Creates `count` new rows, keyed by how many events came before.
    pub async fn creates(
        &mut self,
        pulse: &Pulse,
        model: &str,
        count: usize,
    ) -> Result<(), String> {
        for _ in 0..count {
            let key = u32::try_from(self.events.len()).unwrap_or(u32::MAX);
            self.change(pulse, model, &create(key)).await?;
        }
        Ok(())
    }

    /// The id of the newest event, which a case reads up to.
    pub fn last_id(&self) -> String {
        self.events
            .last()
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    pub fn ids(&self) -> Vec<String> {
        self.events.iter().map(|(id, _)| id.clone()).collect()
    }
}

/// A create of row `key` with no other fields.
pub fn create(key: u32) -> Change {
    Change {
        action: plans::Action::Create,
        key,
        fields: plans::Fields::new(),
    }
}
