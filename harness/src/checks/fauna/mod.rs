//! Fauna event streaming's checks (seed 000) and their driver.
//!
//! The driver writes through Fauna's own `POST /query/1` with FQL, as a
//! driver would against a real Fauna: each case creates a collection of its
//! own (`Harness<nonce>_<role>`), writes documents with `C.create({...})`,
//! `C.byId(id)!.update({...})` and `.delete()`, and gets event source tokens
//! from `C.all().eventSource()` or `C.where(.status == "in").eventSource()`.
//! So the checks need no control API and no `--producer`. Streams are read
//! line by line ([`lines`]) with a line-length limit and timeouts; a case
//! reads up to the event of its last write (a sentinel), so a lost event
//! fails at once rather than after a timeout.
//!
//! # Layout
//!
//! - [`lines`]: the `/stream/1` reader.
//! - [`wire`]: line format, `status` first and periodic, event shapes, `txn_ts` order, auth.
//! - [`resume`]: cursor (of a data or a status event) and `start_ts` rules,
//!   their refusals, the history window.
//! - [`errors`]: the replay limit, error events ending the stream.
//! - [`set`]: set membership as a property against a brute-force model.
//! - [`source`]: single-document sources, and tokens a stream refuses.

mod errors;
mod lines;
mod resume;
mod set;
mod source;
mod wire;

use scenarios::Finding;
use serde_json::{Map, Value, json};

use super::case::{Case, Stop};
pub(crate) use super::fixed_property;
use crate::client::fauna;
use crate::property::PropertyCheck;
use crate::record::HttpResponse;
use crate::runner::{Check, CheckContext};
pub use crate::transport::Read;
pub use lines::LineConn;

/// Every Fauna check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    vec![
        PropertyCheck::boxed(wire::LineFormat),
        PropertyCheck::boxed(wire::StatusFirst),
        PropertyCheck::boxed(wire::StatusKeepalive),
        PropertyCheck::boxed(wire::EventShape),
        PropertyCheck::boxed(wire::TxnTsOrder),
        PropertyCheck::boxed(resume::CursorResume),
        PropertyCheck::boxed(resume::StatusCursor),
        PropertyCheck::boxed(resume::StartTs),
        PropertyCheck::boxed(resume::StartTsWithCursor),
        PropertyCheck::boxed(resume::StartTooOld),
        PropertyCheck::boxed(errors::StartTooOldCode),
        PropertyCheck::boxed(errors::ReplayLimit),
        PropertyCheck::boxed(set::SetMembership),
        PropertyCheck::boxed(source::DocumentSource),
        PropertyCheck::boxed(source::TokenRefused),
        PropertyCheck::boxed(errors::ErrorEndsStream),
        PropertyCheck::boxed(errors::ErrorEventShape),
        PropertyCheck::boxed(wire::Unauthorized),
    ]
}

pub use super::case::PROMPT;

/// A secret no Fauna database has.
pub const WRONG_SECRET: &str = "fauna_harness_wrong_secret";

/// The skip rule of every Fauna check: none, the driver writes through `/query/1`.
fn never(_ctx: &CheckContext) -> Option<String> {
    None
}

/// A document the driver wrote: its id and the write's `txn_ts`.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: String,
    pub txn_ts: u64,
}

/// One case's view of Fauna.
#[derive(Debug)]
pub struct Fauna {
    case: Case,
}

impl std::ops::Deref for Fauna {
    type Target = Case;

    fn deref(&self) -> &Case {
        &self.case
    }
}

impl Fauna {
    pub fn new(ctx: &CheckContext) -> Self {
        Self {
            case: Case::new(ctx),
        }
    }

    pub fn secret(&self) -> &str {
        &self.ctx.credentials.fauna_secret
    }

    /// `POST /query/1` with FQL text and the given secret (or none), as the drivers send it.
    pub async fn query_as(&self, secret: Option<&str>, fql: &str) -> Result<HttpResponse, String> {
        let (name, value) = fauna::FORMAT;
        let mut request = self
            .ctx
            .http
            .post(format!("{}{}", self.base(), fauna::QUERY))
            .header(name, value)
            .json(&fauna::query(fql));
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        self.call(request)
            .await
            .map_err(|e| format!("POST /query/1 for `{fql}`: {e}"))
    }

    /// A query that must succeed: its `data` and `txn_ts`. Anything else
    /// means the driver cannot set the case up (an `Err`).
    pub async fn query(&self, fql: &str) -> Result<(Value, u64), String> {
        let response = self.query_as(Some(self.secret()), fql).await?;
        let body = response.json().unwrap_or_default();
        if response.status != 200 {
            return Err(format!(
                "POST /query/1 for `{fql}` answered {}: {}",
                response.status,
                clip(&response.body)
            ));
        }
        let txn_ts = body["txn_ts"].as_u64().unwrap_or(0);
        Ok((body["data"].clone(), txn_ts))
    }

    /// Creates a collection of this case, `Harness<nonce>_<role>`; its name.
    pub async fn collection(
        &self,
        role: &str,
        history_days: Option<u64>,
    ) -> Result<String, String> {
        let name = format!("Harness{}_{role}", self.nonce);
        let history = history_days
            .map(|days| format!(", history_days: {days}"))
            .unwrap_or_default();
        self.query(&format!(
            "Collection.create({{ name: {}{history} }})",
            json!(name)
        ))
        .await?;
        Ok(name)
    }

    /// Creates a document with `fields` (strings and numbers).
    pub async fn create(&self, collection: &str, fields: &Value) -> Result<Written, String> {
        let (data, txn_ts) = self
            .query(&format!("{collection}.create({})", object(fields)))
            .await?;
        let doc = data.get("@doc").unwrap_or(&data);
        let Some(id) = doc["id"].as_str() else {
            return Err(format!(
                "a create was answered without a document id: {data}"
            ));
        };
        Ok(Written {
            id: id.to_owned(),
            txn_ts,
        })
    }

    /// Creates `count` documents `{n: i}`.
    pub async fn creates(&self, collection: &str, count: usize) -> Result<Vec<Written>, String> {
        let mut written = Vec::with_capacity(count);
        for n in 0..count {
            written.push(self.create(collection, &json!({ "n": n })).await?);
        }
        Ok(written)
    }

    /// Updates a document with `fields`; the write's `txn_ts`.
    pub async fn update(&self, collection: &str, id: &str, fields: &Value) -> Result<u64, String> {
        let fql = format!(
            "{collection}.byId({})!.update({})",
            json!(id),
            object(fields)
        );
        Ok(self.query(&fql).await?.1)
    }

    /// Deletes a document; the write's `txn_ts`.
    pub async fn delete(&self, collection: &str, id: &str) -> Result<u64, String> {
        let fql = format!("{collection}.byId({})!.delete()", json!(id));
        Ok(self.query(&fql).await?.1)
    }

    /// An event source token from FQL (`....eventSource()`), and the query's `txn_ts`.
    pub async fn token(&self, fql: &str) -> Result<(String, u64), String> {
        let (data, txn_ts) = self.query(fql).await?;
        match fauna::stream_token(&data) {
            Some(token) => Ok((token.to_owned(), txn_ts)),
            None => Err(format!(
                "`{fql}` was answered without an @stream token: {data}"
            )),
        }
    }

    /// `POST /stream/1` with `body` and the given secret (or none).
    pub async fn stream_as(
        &self,
        secret: Option<&str>,
        body: &Value,
    ) -> Result<Result<LineConn, HttpResponse>, String> {
        let mut request = self
            .ctx
            .http
            .post(format!("{}{}", self.base(), fauna::STREAM))
            .json(body);
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        self.open_lines(request, self.limits.sse.max_line_bytes)
            .await
    }

    /// Opens a stream that must answer `200`; anything else is a finding.
    pub async fn stream(&self, body: &Value) -> Result<LineConn, Stop> {
        self.stream_as(Some(self.secret()), body)
            .await?
            .map_err(|response| {
                Finding::new(
                    "status",
                    format!(
                        "POST /stream/1 answered {}, not 200: {}",
                        response.status,
                        clip(&response.body)
                    ),
                )
                .with_evidence(json!({"request": body, "status": response.status}))
                .into()
            })
    }
}

/// An FQL object literal of plain fields: `{ a: "x", n: 1 }`.
fn object(fields: &Value) -> String {
    let empty = Map::new();
    let fields = fields.as_object().unwrap_or(&empty);
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{ {} }}", inner.join(", "))
}

/// Whether an event is the data event of document `id`.
pub fn is_event_of(event: &Value, id: &str) -> bool {
    scenarios::fauna::shape::is_data(event)
        && scenarios::fauna::shape::document_id(event) == Some(id)
}

/// The ids of the data events among `events`.
pub fn data_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| scenarios::fauna::shape::is_data(e))
        .map(|e| {
            scenarios::fauna::shape::document_id(e)
                .unwrap_or("<no id>")
                .to_owned()
        })
        .collect()
}

/// The first 300 characters of a body, for messages.
pub fn clip(body: &str) -> String {
    body.chars().take(300).collect()
}
