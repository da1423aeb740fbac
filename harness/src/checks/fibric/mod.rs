//! The Fibric envelope stream's checks (seed 004) and their driver.
//!
//! The driver publishes envelopes whose event ids the harness chooses
//! (`ev_<case nonce>_<n>`), so every delivery can be matched to its publish.
//! Streams opened without a cursor start at "now", which is what keeps cases
//! apart on a shared target.
//!
//! # Layout
//!
//! - [`basic`]: auth, content type, caching, keep-alive, frame shape, live filters and tenancy.
//! - [`list`]: the list's tenancy and filters.
//! - [`readonly`]: two consumers of one filter set both see everything.
//! - [`replay`]: filters and tenancy of what a resumed stream replays.
//! - [`shape`]: what an envelope frame must look like (for [`basic`]'s frame-shape check).
//! - [`resume`]: starting at now, order, resuming by cursor and by Last-Event-ID, cursor binding and expiry.
//! - [`paging`]: the list's pages, its `limit` and `data`, and the backfill-then-tail seam.
//! - [`cuts`]: at-least-once across connections cut by the fault proxy.

mod basic;
mod cuts;
mod list;
mod paging;
mod readonly;
mod replay;
mod resume;
mod shape;

use std::time::Duration;

use scenarios::Finding;
use scenarios::delivery::Expected;
use scenarios::fibric::plans::EnvelopeSpec;
use scenarios::transcript::Observed;
use serde_json::{Value, json};
use wire::sse::{SseEvent, SseItem};

use super::case::{Case, Stop};
pub(crate) use super::{fixed_property, generated_property, needs_producer};
use crate::client::fibric;
use crate::property::PropertyCheck;
use crate::record::HttpResponse;
use crate::runner::{Check, CheckContext};
use crate::transport::Events;
use crate::transport::sse::SseConn;

/// Every Fibric check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    vec![
        PropertyCheck::boxed(basic::AuthRequired),
        PropertyCheck::boxed(basic::Tenancy),
        PropertyCheck::boxed(list::ListTenancy),
        PropertyCheck::boxed(basic::ContentType),
        PropertyCheck::boxed(basic::NoStore),
        PropertyCheck::boxed(basic::FrameShape),
        PropertyCheck::boxed(basic::KeepAlive),
        PropertyCheck::boxed(basic::Glob),
        PropertyCheck::boxed(basic::AndFilters),
        PropertyCheck::boxed(list::ListFilters),
        PropertyCheck::boxed(replay::Replayed),
        PropertyCheck::boxed(resume::StartsAtNow),
        PropertyCheck::boxed(resume::Order),
        PropertyCheck::boxed(readonly::ReadOnly),
        PropertyCheck::boxed(resume::ResumeCursor),
        PropertyCheck::boxed(resume::ResumeLastEventId),
        PropertyCheck::boxed(resume::CursorBound),
        PropertyCheck::boxed(resume::CursorExpired),
        PropertyCheck::boxed(cuts::Cuts),
        PropertyCheck::boxed(paging::Seam),
        PropertyCheck::boxed(paging::Pages),
        PropertyCheck::boxed(paging::Limit),
        PropertyCheck::boxed(cuts::SlowConsumer),
    ]
}

pub use super::case::PROMPT;

/// One case's view of the Fibric API.
#[derive(Debug)]
pub struct Fibric {
    case: Case,
}

impl std::ops::Deref for Fibric {
    type Target = Case;

    fn deref(&self) -> &Case {
        &self.case
    }
}

impl Fibric {
    pub fn new(ctx: &CheckContext) -> Self {
        Self {
            case: Case::new(ctx),
        }
    }

    /// The API key of tenant 0 or 1.
    pub fn key(&self, tenant: usize) -> &str {
        &self.ctx.credentials.fibric_keys[tenant]
    }

    pub fn tenant(&self, tenant: usize) -> &str {
        &self.ctx.credentials.fibric_tenants[tenant]
    }

    /// The event id of the case's `n`-th envelope.
    pub fn event_id(&self, n: usize) -> String {
        format!("ev_{}_{n}", self.nonce)
    }

    /// What the oracle compares deliveries with: the fields the case published.
    pub fn content(&self, spec: &EnvelopeSpec, n: usize) -> String {
        json!({
            "event_type": spec.event_type,
            "source": spec.source,
            "workspace_id": spec.workspace_id,
            "payload": {"case": self.nonce, "n": n},
        })
        .to_string()
    }

    /// The same rendering of a delivered envelope.
    pub fn delivered_content(envelope: &Value) -> String {
        json!({
            "event_type": envelope["event_type"],
            "source": envelope["source"],
            "workspace_id": envelope["workspace_id"],
            "payload": envelope["payload"],
        })
        .to_string()
    }

    pub fn expected(&self, specs: &[(usize, &EnvelopeSpec)]) -> Vec<Expected> {
        specs
            .iter()
            .map(|(n, spec)| Expected {
                id: self.event_id(*n),
                content: self.content(spec, *n),
            })
            .collect()
    }

    /// Publishes envelopes, each as (tenant index, case number, spec), in order.
    pub async fn publish(&self, items: &[(usize, usize, &EnvelopeSpec)]) -> Result<(), String> {
        let envelopes: Vec<Value> = items
            .iter()
            .map(|(tenant, n, spec)| {
                json!({
                    "tenant_id": self.tenant(*tenant),
                    "event_id": self.event_id(*n),
                    "event_type": spec.event_type,
                    "source": spec.source,
                    "workspace_id": spec.workspace_id,
                    "entities": spec.entities,
                    "payload": {"case": self.nonce, "n": n},
                })
            })
            .collect();
        self.send(envelopes).await
    }

    /// Publishes prepared envelopes (with their event ids) and records them.
    pub async fn send(&self, envelopes: Vec<Value>) -> Result<(), String> {
        if envelopes.is_empty() {
            return Ok(());
        }
        if let Some(producer) = &self.ctx.producer {
            for envelope in &envelopes {
                producer
                    .request(&json!({"api": "fibric", "action": "append", "envelope": envelope}))
                    .await?;
            }
        } else {
            let request = self
                .ctx
                .http
                .post(format!("{}{}", self.base(), fibric::ENVELOPES))
                .bearer_auth(self.ctx.target.control_token())
                .json(&fibric::envelopes(&envelopes));
            let response = self
                .call(request)
                .await
                .map_err(|e| format!("publishing through the control API: {e}"))?;
            if response.status != 201 {
                return Err(format!(
                    "the control API refused the envelopes: {} {}",
                    response.status, response.body
                ));
            }
        }
        for envelope in envelopes {
            let id = envelope["event_id"].as_str().unwrap_or_default().to_owned();
            self.recorder.record(
                0,
                Observed::Published {
                    id,
                    detail: envelope,
                },
            );
        }
        Ok(())
    }

    /// Opens the stream at `base` (the target or a proxy in front of it).
    pub async fn open(
        &self,
        base: &str,
        key: Option<&str>,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Result<Result<SseConn, HttpResponse>, String> {
        let mut request = self
            .ctx
            .http
            .get(format!("{base}{}", fibric::stream_path(query)))
            .header("accept", "text/event-stream");
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(id) = last_event_id {
            request = request.header(fibric::LAST_EVENT_ID, id);
        }
        self.open_sse(request).await
    }

    /// Opens the stream on the target, expecting 200; anything else is an `Err`
    /// describing it, for a finding: another status, or no answer in time (a
    /// silent or trickling server is the target's failure, not the harness's).
    pub async fn open_ok(
        &self,
        key: usize,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseConn, Stop> {
        let problem = match self
            .open(self.base(), Some(self.key(key)), query, last_event_id)
            .await
        {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(response)) => {
                format!("the stream answered {} {}", response.status, response.body)
            }
            Err(error) => format!("the stream did not open: {error}"),
        };
        Err(Finding::new("status", problem).into())
    }

    /// `GET /v1/events?query` as the given key (or none).
    pub async fn list(&self, key: Option<&str>, query: &str) -> Result<HttpResponse, String> {
        let separator = if query.is_empty() { "" } else { "?" };
        let mut request = self
            .ctx
            .http
            .get(format!("{}/v1/events{separator}{query}", self.base()));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.call(request).await
    }
}

/// An envelope of the given type and source, with no workspace or entities.
pub fn spec(event_type: &str, source: &str) -> EnvelopeSpec {
    EnvelopeSpec {
        event_type: event_type.to_owned(),
        source: source.to_owned(),
        workspace_id: None,
        entities: vec![],
    }
}

/// Reads events until the one whose data has `event_id` arrives (inclusive),
/// `max` events have come, the stream ends, or `wait` passes. Publishing a
/// sentinel last and reading up to it tells "everything has arrived" from
/// "something was lost" without waiting out a timeout.
pub async fn read_until(
    conn: &mut SseConn,
    event_id: &str,
    max: usize,
    wait: Duration,
) -> Vec<SseEvent> {
    read_until_any(conn, &[event_id], max, wait).await
}

/// [`read_until`] for several last envelopes: the read ends at the first of
/// them to arrive. A case that publishes a sentinel for the reader and then
/// one for the other tenant ends at once on a server that shows the reader
/// the wrong tenant, instead of waiting out `wait`.
pub async fn read_until_any(
    conn: &mut SseConn,
    event_ids: &[&str],
    max: usize,
    wait: Duration,
) -> Vec<SseEvent> {
    conn.read_until(wait, max, |event| {
        serde_json::from_str::<Value>(&event.data)
            .is_ok_and(|v| event_ids.iter().any(|id| v["event_id"] == *id))
    })
    .await
}

/// An envelope every given filter admits: the last of a case, read up to with [`read_until`].
pub fn sentinel_for(filters: &scenarios::fibric::plans::Filters) -> EnvelopeSpec {
    let event_type = match &filters.event_type {
        Some(glob) => glob
            .split('.')
            .map(|s| if s == "*" { "sentinel" } else { s })
            .collect::<Vec<_>>()
            .join("."),
        None => "harness.sentinel".to_owned(),
    };
    EnvelopeSpec {
        event_type,
        source: filters
            .source
            .clone()
            .unwrap_or_else(|| "harness".to_owned()),
        workspace_id: filters.workspace_id.clone(),
        entities: filters.entity.iter().cloned().collect(),
    }
}

/// The (event id, content) of delivered frames, from their data.
pub fn deliveries(events: &[SseEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|event| match serde_json::from_str::<Value>(&event.data) {
            Ok(envelope) => (
                envelope["event_id"]
                    .as_str()
                    .unwrap_or("<no event_id>")
                    .to_owned(),
                Fibric::delivered_content(&envelope),
            ),
            Err(_) => ("<data is not JSON>".to_owned(), event.data.clone()),
        })
        .collect()
}

/// The (event id, content) of envelopes a list page holds.
pub fn listed(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| {
            (
                item["event_id"]
                    .as_str()
                    .unwrap_or("<no event_id>")
                    .to_owned(),
                Fibric::delivered_content(item),
            )
        })
        .collect()
}

/// The error code a JSON error body names. The seed names codes
/// (`400 invalid_cursor`) but not where the body carries them, so the usual
/// places are all accepted: `{"error": {"code"}}` (the reference server's),
/// `{"code"}`, and `{"error": "<code>"}`.
pub fn error_code(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    [&value["error"]["code"], &value["code"], &value["error"]]
        .into_iter()
        .find_map(|v| v.as_str().map(str::to_owned))
}

/// Reads events until the one whose data has `event_id` arrives, `max`
/// events have come, the stream ends, `wait` passes, or a second comment
/// frame arrives. A keep-alive is written only after a stream has been idle,
/// so a second one shows the server had nothing more to send this consumer
/// (the first may have raced the publish): a server that gave the sentinel
/// to another consumer ends the read there, not at a timeout. An empty
/// `event_id` matches no envelope: the read counts up to `max` frames.
pub async fn read_until_or_idle(
    conn: &mut SseConn,
    event_id: &str,
    max: usize,
    wait: Duration,
) -> Vec<SseEvent> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = Vec::new();
    let mut comments = 0;
    while events.len() < max && comments < 2 {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match conn.next(left).await {
            Some(SseItem::Event(event)) => {
                let last = serde_json::from_str::<Value>(&event.data)
                    .is_ok_and(|v| v["event_id"] == event_id);
                events.push(event);
                if last {
                    break;
                }
            }
            Some(SseItem::Comment(_)) => comments += 1,
            Some(SseItem::Retry(_)) => {}
            None => break,
        }
    }
    events
}
