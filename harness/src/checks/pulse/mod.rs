//! Prisma Pulse's checks (seed 001) and their driver.
//!
//! Every case declares a model of its own (`Harness<Role>_<case nonce>`,
//! primary key `id`) and names its streams after the same nonce, so cases
//! sharing a target never see each other's events. Rows change through the
//! reference server's control API or the `--producer` command; each change's
//! event id comes back from it and is recorded as published. Reads stop at a
//! sentinel (the last change of a case, which the consumer must receive),
//! so a case that loses an event fails at once instead of waiting out a timeout.
//!
//! # Layout
//!
//! - [`basic`]: health, auth, error bodies, content type, keep-alive.
//! - [`streams`]: named streams: lifecycle, delete, one consumer, resume by acknowledgement.
//! - [`cuts`]: at-least-once across connections cut by the fault proxy.
//! - [`subscribe`]: subscriptions: live only, at most once.
//! - [`events`]: filters, event shapes and lookup.
//! - [`ids`]: ids under a burst of changes: unique, and in order.
//! - [`idle`]: a named stream's connection outlives an idle spell.
//! - [`listing`]: what `GET /streams` shows of a case's streams.
//! - [`environment`]: a named stream is its API key's environment's own.
//! - [`models`]: two models at once: each stream and subscription keeps to its own.
//! - [`requests`]: bodies without a required field, stream names that do not exist.
//! - [`observe`]: what a case published and what its consumers read, for the oracles.
//! - [`openapi`]: every operation's answers and events against the seed's OpenAPI.

mod basic;
mod cuts;
mod environment;
mod events;
mod idle;
mod ids;
mod listing;
mod models;
mod observe;
mod openapi;
mod requests;
mod streams;
mod subscribe;

use std::time::Duration;

use reqwest::Method;
use scenarios::Finding;
use scenarios::delivery::Promise;
use scenarios::pulse::plans::{Change, Identity, PRIMARY_KEY};
use scenarios::transcript::Observed;
use serde_json::{Value, json};

use super::case::{Case, Stop};
use crate::client::pulse;
use crate::property::PropertyCheck;
use crate::record::HttpResponse;
use crate::runner::{Check, CheckContext};
use crate::transport::sse::SseConn;

pub(crate) use super::{fixed_property, needs_producer};
pub use observe::{
    Published, create, deliveries, event_id, expected, read_live, read_until, resume_id,
};

/// Every Pulse check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    vec![
        PropertyCheck::boxed(basic::Health),
        PropertyCheck::boxed(basic::AuthRequired),
        PropertyCheck::boxed(basic::ErrorShape),
        PropertyCheck::boxed(streams::Lifecycle),
        PropertyCheck::boxed(streams::Delete),
        PropertyCheck::boxed(streams::Resume),
        PropertyCheck::boxed(cuts::Cuts),
        PropertyCheck::boxed(streams::SingleConsumer),
        PropertyCheck::boxed(subscribe::SubscribeLive),
        PropertyCheck::boxed(subscribe::SubscribeAtMostOnce),
        PropertyCheck::boxed(events::Filters),
        PropertyCheck::boxed(events::EventShape),
        PropertyCheck::boxed(ids::UlidOrder),
        PropertyCheck::boxed(ids::UniqueIds),
        PropertyCheck::boxed(events::Lookup),
        PropertyCheck::boxed(basic::ContentType),
        PropertyCheck::boxed(basic::KeepAlive),
        PropertyCheck::boxed(models::OwnModel),
        PropertyCheck::boxed(requests::RequiredFields),
        PropertyCheck::boxed(requests::UnknownStream),
        PropertyCheck::boxed(idle::LongLived),
        PropertyCheck::boxed(environment::Environment),
        PropertyCheck::boxed(openapi::OpenApi),
    ]
}

pub use super::case::PROMPT;

/// What a subscription promises: at most once, with no ordering guarantees
/// (seed 001, createSubscription). It may lose events, so nothing it omits is
/// a finding; what it delivers must have been published, once, as published.
pub const SUBSCRIPTION: Promise = Promise::AT_MOST_ONCE;

/// An event id the harness never gets from a target: the seed's own example,
/// from 2016.
pub const UNKNOWN_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// One case's view of the Pulse API.
#[derive(Debug)]
pub struct Pulse {
    case: Case,
}

impl std::ops::Deref for Pulse {
    type Target = Case;

    fn deref(&self) -> &Case {
        &self.case
    }
}

impl Pulse {
    pub fn new(ctx: &CheckContext) -> Self {
        Self {
            case: Case::new(ctx),
        }
    }

    pub fn key(&self) -> &str {
        &self.ctx.credentials.pulse_key
    }

    /// A model name of this case: `Harness<role>_<nonce>`.
    pub fn model_name(&self, role: &str) -> String {
        format!("Harness{role}_{}", self.nonce)
    }

    /// A stream name of this case: `harness-<role>-<nonce>`.
    pub fn stream_name(&self, role: &str) -> String {
        format!("harness-{role}-{}", self.nonce)
    }

    /// Declares a model with primary key `id`, through the control API or the producer.
    pub async fn declare_model(&self, name: &str, identity: Identity) -> Result<(), String> {
        let declaration = json!({
            "name": name,
            "primary_key": PRIMARY_KEY,
            "replica_identity": identity.as_str(),
        });
        if let Some(producer) = &self.ctx.producer {
            let mut request = declaration;
            request["api"] = json!("pulse");
            request["action"] = json!("declare-model");
            producer.request(&request).await?;
            return Ok(());
        }
        let response = self
            .control(
                self.ctx
                    .http
                    .post(format!("{}{}", self.base(), pulse::MODELS)),
                &declaration,
            )
            .await?;
        match response.status {
            200 | 201 => Ok(()),
            status => Err(format!(
                "the control API refused the model {name}: {status} {}",
                response.body
            )),
        }
    }

    /// Makes one row change and returns the id of its event, recorded as published.
    pub async fn change(&self, model: &str, change: &Change) -> Result<String, String> {
        let row = change.row();
        let answer = if let Some(producer) = &self.ctx.producer {
            producer
                .request(&json!({"api": "pulse", "action": "row", "model": model,
                    "change": change.action.as_str(), "row": row}))
                .await?
        } else {
            let url = format!("{}{}", self.base(), pulse::rows(model));
            let body = pulse::change(change.action.as_str(), row.clone());
            let response = self.control(self.ctx.http.post(url), &body).await?;
            if response.status != 201 {
                return Err(format!(
                    "the control API refused a row change: {} {}",
                    response.status, response.body
                ));
            }
            response.json().unwrap_or_default()
        };
        let Some(id) = answer["id"].as_str().map(str::to_owned) else {
            return Err(format!("a row change was answered without an id: {answer}"));
        };
        self.recorder.record(
            0,
            Observed::Published {
                id: id.clone(),
                detail: json!({"model": model, "action": change.action.as_str(), "row": row}),
            },
        );
        Ok(id)
    }

    /// Makes the changes in order; returns their event ids.
    pub async fn changes(&self, model: &str, changes: &[Change]) -> Result<Vec<String>, String> {
        let mut ids = Vec::with_capacity(changes.len());
        for change in changes {
            ids.push(self.change(model, change).await?);
        }
        Ok(ids)
    }

    async fn control(
        &self,
        request: reqwest::RequestBuilder,
        body: &Value,
    ) -> Result<HttpResponse, String> {
        let request = request
            .bearer_auth(self.ctx.target.control_token())
            .json(body);
        self.call(request)
            .await
            .map_err(|e| format!("calling the control API: {e}"))
    }

    /// A request to the API with the given key (or none) and JSON body.
    pub fn request(
        &self,
        base: &str,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.ctx.http.request(method, format!("{base}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    /// Sends a request whose answer may be a stream.
    pub async fn open(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Result<SseConn, HttpResponse>, String> {
        self.open_sse(request.header("accept", "text/event-stream"))
            .await
    }

    /// `POST /streams {name, model, filter?}` with the right key.
    pub async fn create_stream(
        &self,
        name: &str,
        model: &str,
        filter: Option<&Value>,
    ) -> Result<HttpResponse, String> {
        let mut body = json!({"name": name, "model": model});
        if let Some(filter) = filter {
            body["filter"] = filter.clone();
        }
        let request = self.request(
            self.base(),
            Method::POST,
            "/streams",
            Some(self.key()),
            Some(&body),
        );
        self.call(request).await
    }

    /// Creates a stream, expecting `201`; anything else is a finding.
    pub async fn create_stream_ok(
        &self,
        name: &str,
        model: &str,
        filter: Option<&Value>,
    ) -> Result<Value, Stop> {
        let response = self.create_stream(name, model, filter).await?;
        match (response.status, response.json()) {
            (201, Some(info)) => Ok(info),
            (status, _) => Err(Finding::new(
                "status",
                format!(
                    "POST /streams for {name} answered {status}, not 201: {}",
                    clip(&response.body)
                ),
            )
            .into()),
        }
    }

    /// `DELETE /streams/{name}` with the right key.
    pub async fn delete_stream(&self, name: &str) -> Result<HttpResponse, String> {
        let path = format!("/streams/{name}");
        let request = self.request(self.base(), Method::DELETE, &path, Some(self.key()), None);
        self.call(request).await
    }

    /// `GET {base}/streams/{name}/events` with the right key.
    pub async fn consume(
        &self,
        base: &str,
        name: &str,
        last_event_id: Option<&str>,
    ) -> Result<Result<SseConn, HttpResponse>, String> {
        let path = format!("/streams/{name}/events");
        let mut request = self.request(base, Method::GET, &path, Some(self.key()), None);
        if let Some(id) = last_event_id {
            request = request.header(pulse::LAST_EVENT_ID, id);
        }
        self.open(request).await
    }

    /// Consumes a named stream, expecting `200`. A `409` is retried for a
    /// while: the seed documents none for this operation (a second consumer
    /// takes the stream over), but a server that refuses one notices that
    /// the previous consumer left only when it next writes to it, and the
    /// OpenAPI check is where the undocumented status counts. Anything else
    /// is a `status` finding.
    pub async fn consume_ok(
        &self,
        base: &str,
        name: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseConn, Stop> {
        let deadline = tokio::time::Instant::now() + self.ctx.patience;
        loop {
            match self.consume(base, name, last_event_id).await? {
                Ok(stream) => return Ok(stream),
                Err(response)
                    if response.status == 409 && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(response) => {
                    let problem = format!(
                        "consuming {name} answered {} {}",
                        response.status,
                        clip(&response.body)
                    );
                    return Err(Finding::new("status", problem).into());
                }
            }
        }
    }

    /// `POST /subscribe {model, filter?}` with the right key, expecting `200`;
    /// anything else is a `status` finding.
    pub async fn subscribe_ok(&self, model: &str, filter: Option<&Value>) -> Result<SseConn, Stop> {
        let mut body = pulse::subscription(model);
        if let Some(filter) = filter {
            body["filter"] = filter.clone();
        }
        let request = self.request(
            self.base(),
            Method::POST,
            pulse::SUBSCRIBE,
            Some(self.key()),
            Some(&body),
        );
        self.open(request).await?.map_err(|response| {
            let problem = format!(
                "POST /subscribe answered {} {}",
                response.status,
                clip(&response.body)
            );
            Finding::new("status", problem).into()
        })
    }
}

/// The first 300 characters of a body, for messages.
pub fn clip(body: &str) -> String {
    body.chars().take(300).collect()
}
