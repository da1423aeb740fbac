//! Actyx's checks (seed 003) and their driver.
//!
//! The driver logs in through `POST /api/v2/auth` with `--actyx-app-id`
//! (a `com.example.*` app needs no signature on a real node) and publishes
//! through `events/publish`, so every check but two runs against a real
//! node. Each case tags its events `harness-<case nonce>` and queries
//! `FROM` that tag, so cases sharing a node never see each other's events.
//! Events "from another node", in streams whose node id the case makes up,
//! come from the `--producer`'s `actyx` `replicate` action, or without one
//! from the reference server's `/_control/actyx/replicate`.
//!
//! # Layout
//!
//! - [`feed`]: recorded exchanges, NDJSON feeds read line by line, query-line helpers.
//! - [`auth`]: auth, tokens, `Accept` / `Content-Type`, keep-alive.
//! - [`refusals`]: the requests refused for auth or media type, and the node's codes for them.
//! - [`query`]: publish answers, offsets, query bounds, orders, tie-break, tag expressions.
//! - [`live`]: subscribe's seam, subscribe_monotonic's `caughtUp`, `timeTravel` and resume.
//! - [`resume`]: subscribe's `lowerBound`, subscribe_monotonic without one.
//! - [`fields`]: the fields of delivered events, against what was published.
//! - [`wire`]: required fields, default headers, `Cache-Control` of offsets, compact JSON.
//! - [`swarm`]: `toReplicate` for another node's announced events.

mod auth;
pub mod feed;
mod fields;
mod live;
mod query;
mod refusals;
mod resume;
mod swarm;
mod wire;

use std::time::{SystemTime, UNIX_EPOCH};

use scenarios::Finding;
use scenarios::actyx::lines::{EventLine, FeedLine};
use scenarios::actyx::order::Key;
use scenarios::transcript::Observed;
use serde_json::{Value, json};

use self::feed::{Answer, Feed};
pub use self::feed::{bound_after, query_events};
use super::case::Case;
use crate::client::actyx;
use crate::property::PropertyCheck;

use crate::runner::{Check, CheckContext};

pub(crate) use super::{fixed_property, generated_property};

/// Every Actyx check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    vec![
        PropertyCheck::boxed(auth::AuthRequired),
        PropertyCheck::boxed(auth::TokenFlow),
        PropertyCheck::boxed(auth::Negotiation),
        PropertyCheck::boxed(refusals::NodeCodes),
        PropertyCheck::boxed(query::PublishResponse),
        PropertyCheck::boxed(wire::JsonAnswers),
        PropertyCheck::boxed(query::OffsetsPresent),
        PropertyCheck::boxed(swarm::ToReplicate),
        PropertyCheck::boxed(query::QueryBounds),
        PropertyCheck::boxed(query::QueryOrders),
        PropertyCheck::boxed(query::TieBreak),
        PropertyCheck::boxed(query::TagExpressions),
        PropertyCheck::boxed(live::SubscribeSeam),
        PropertyCheck::boxed(resume::SubscribeLowerBound),
        PropertyCheck::boxed(fields::EventFields),
        PropertyCheck::boxed(live::CaughtUp),
        PropertyCheck::boxed(live::TimeTravel),
        PropertyCheck::boxed(live::SessionResume),
        PropertyCheck::boxed(resume::MonotonicLowerOptional),
        PropertyCheck::boxed(wire::RequiredFields),
        PropertyCheck::boxed(wire::OffsetsCacheControl),
        PropertyCheck::boxed(wire::DefaultHeaders),
        PropertyCheck::boxed(auth::KeepAlive),
    ]
}

pub use super::case::{Found, PROMPT, Stop};

pub use crate::client::actyx::NDJSON;

/// Microseconds since the epoch, by the harness's clock.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// An event the case published, as the node acknowledged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub key: Key,
    pub timestamp: u64,
    pub tags: Vec<String>,
    pub payload: Value,
}

impl Published {
    /// `(key, payload)` for the delivery oracle.
    pub fn delivery(&self) -> (Key, String) {
        (self.key.clone(), self.payload.to_string())
    }
}

/// `(key, payload)` of a delivered event, for the delivery oracle.
pub fn delivered(event: &EventLine) -> (Key, String) {
    (event.key.clone(), event.payload.to_string())
}

/// One case's view of the Events API.
#[derive(Debug)]
pub struct Actyx {
    case: Case,
    token: String,
}

impl std::ops::Deref for Actyx {
    type Target = Case;

    fn deref(&self) -> &Case {
        &self.case
    }
}

impl Actyx {
    /// A case that holds bodies and feed lines within the feeds' limits.
    pub fn new(ctx: &CheckContext) -> Self {
        let mut case = Case::new(ctx);
        case.limits = feed::limits();
        Self {
            case,
            token: String::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v2/{path}", self.ctx.target.base_url())
    }

    /// The case's own tag, `harness-<nonce>`, and tags derived from it.
    pub fn tag(&self, suffix: &str) -> String {
        if suffix.is_empty() {
            format!("harness-{}", self.nonce)
        } else {
            format!("harness-{}-{suffix}", self.nonce)
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends a request whose `2xx` answer is a feed.
    pub async fn open(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        Ok(match self.open_lines(request, feed::MAX_LINE).await? {
            Ok(feed) => Answer::Feed(Box::new(feed)),
            Err(whole) => Answer::Whole(whole),
        })
    }

    /// `POST /api/v2/auth` with the configured app id; anything but `{token}` is a finding.
    pub async fn login(&mut self) -> Result<(), Stop> {
        let manifest = actyx::manifest(&self.ctx.credentials.actyx_app_id, "streamcheck harness");
        let url = format!("{}{}", self.ctx.target.base_url(), actyx::AUTH);
        let response = self.call(self.ctx.http.post(url).json(&manifest)).await?;
        let token = response
            .json()
            .and_then(|body| actyx::token(response.status, &body).map(str::to_owned));
        match token {
            Some(token) => {
                self.token = token;
                Ok(())
            }
            None => Err(Finding::new(
                "auth",
                format!(
                    "POST /api/v2/auth answered {} {}, not 200 {{token}}",
                    response.status,
                    clip(&response.body)
                ),
            )
            .into()),
        }
    }

    /// A `POST` to the Events API with the token and a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.ctx
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
    }

    /// Publishes events (tags, payload) in one request; the answer must carry one entry per event.
    pub async fn publish(&self, events: &[(Vec<String>, Value)]) -> Result<Vec<Published>, Stop> {
        let body = actyx::publish(
            events
                .iter()
                .map(|(tags, payload)| (json!(tags), payload.clone())),
        );
        let response = self.call(self.post("events/publish", &body)).await?;
        let answered = response
            .json()
            .filter(|_| response.status == 200)
            .and_then(|body| body["data"].as_array().cloned());
        let Some(answered) = answered.filter(|a| a.len() == events.len()) else {
            return Err(Finding::new(
                "publish",
                format!(
                    "publishing {} event(s) answered {} {}, not 200 with one data entry per event",
                    events.len(),
                    response.status,
                    clip(&response.body)
                ),
            )
            .into());
        };
        let mut published = Vec::with_capacity(events.len());
        for ((tags, payload), entry) in events.iter().zip(&answered) {
            let key = (|| {
                Some(Key {
                    lamport: entry["lamport"].as_u64()?,
                    stream: entry["stream"].as_str()?.to_owned(),
                    offset: entry["offset"].as_u64()?,
                })
            })();
            let (Some(key), Some(timestamp)) = (key, entry["timestamp"].as_u64()) else {
                return Err(Finding::new(
                    "publish",
                    format!("a publish answer entry lacks lamport, stream, offset or timestamp as integers and a string: {entry}"),
                )
                .into());
            };
            self.recorder.record(
                0,
                Observed::Published {
                    id: scenarios::actyx::plans::event_id(&key),
                    detail: json!({"lamport": key.lamport, "tags": tags, "payload": payload}),
                },
            );
            published.push(Published {
                key,
                timestamp,
                tags: tags.clone(),
                payload: payload.clone(),
            });
        }
        Ok(published)
    }

    /// Publishes `n` events tagged with the case's tag, payloads `{"n": first..}`, one request.
    pub async fn publish_n(&self, first: usize, n: usize) -> Result<Vec<Published>, Stop> {
        let events: Vec<(Vec<String>, Value)> = (first..first + n)
            .map(|i| (vec![self.tag("")], json!({ "n": i })))
            .collect();
        self.publish(&events).await
    }

    /// `POST events/query`, read to its end; the lines, or a finding when it does not end.
    pub async fn query(&self, body: &Value) -> Result<Vec<FeedLine>, Stop> {
        let mut feed = self.open_ok("events/query", body).await?;
        let (ended, lines) = feed.ends_within_reading(PROMPT).await;
        if !ended {
            return Err(Finding::new(
                "query-open",
                format!("the query {body} did not end within {PROMPT:?}"),
            )
            .into());
        }
        Ok(lines)
    }

    /// Opens a feed, expecting `200`; anything else is a finding.
    pub async fn open_ok(&self, path: &str, body: &Value) -> Result<Feed, Stop> {
        let request = self.post(path, body).header("accept", NDJSON);
        match self.open(request).await? {
            Answer::Feed(feed) => Ok(*feed),
            Answer::Whole(response) => Err(Finding::new(
                "status",
                format!(
                    "POST {path} {body} answered {} {}",
                    response.status,
                    clip(&response.body)
                ),
            )
            .into()),
        }
    }

    /// A stream id of a node the case makes up (42 characters from its nonce, then `.`).
    pub fn foreign_stream(&self, which: usize) -> String {
        const ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut state = crate::runner::check_seed(which as u64, &self.nonce);
        let node: String = (0..42)
            .map(|_| {
                state = crate::runner::check_seed(state, "foreign");
                char::from(ALPHABET[(state % 64) as usize])
            })
            .collect();
        format!("{node}.-{which}")
    }

    /// Events of another node: the producer's `replicate` action, or the
    /// reference server's control API when there is no producer.
    pub async fn replicate(&self, stream: &str, events: &[Value]) -> Result<(), Stop> {
        self.replicate_announcing(stream, events, None).await
    }

    /// As [`Actyx::replicate`], the swarm also claiming the stream up to `announce`.
    pub async fn replicate_announcing(
        &self,
        stream: &str,
        events: &[Value],
        announce: Option<u64>,
    ) -> Result<(), Stop> {
        let mut body = json!({"stream": stream, "events": events});
        if let Some(offset) = announce {
            body["announce"] = json!(offset);
        }
        for event in events {
            self.recorder.record(
                0,
                Observed::Published {
                    id: format!("{stream}@{}", event["offset"]),
                    detail: event.clone(),
                },
            );
        }
        if let Some(producer) = &self.ctx.producer {
            let mut request = json!({"api": "actyx", "action": "replicate"});
            if let (Some(request), Some(body)) = (request.as_object_mut(), body.as_object()) {
                request.extend(body.clone());
            }
            producer.request(&request).await.map_err(|e| {
                Stop::Broke(format!("the producer's actyx replicate action failed: {e}"))
            })?;
            return Ok(());
        }
        let request = self
            .ctx
            .http
            .post(format!(
                "{}/_control/actyx/replicate",
                self.ctx.target.base_url()
            ))
            .bearer_auth(self.ctx.target.control_token())
            .json(&body);
        let response = self.call(request).await?;
        if response.status != 200 {
            return Err(Stop::Broke(format!(
                "the control API refused foreign events: {} {}",
                response.status,
                clip(&response.body)
            )));
        }
        Ok(())
    }
}

/// The reason checks that need events from another node skip a target that
/// is not a reference server when no `--producer` was given.
pub fn needs_replicate(ctx: &CheckContext) -> Option<String> {
    (!ctx.target.is_reference() && ctx.producer.is_none()).then(|| {
        "needs events from another node: a --producer that carries out the actyx `replicate` \
         action (the Events API has no write method for them)"
            .to_owned()
    })
}

/// The first 300 characters of a body, for messages.
pub fn clip(body: &str) -> String {
    body.chars().take(300).collect()
}
