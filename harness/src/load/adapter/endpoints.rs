//! The request/response endpoints of each API that `harness load --users` drives, with the run's credentials.
//!
//! Reads are the default; an endpoint that writes (`publish`) runs only when
//! `--endpoint` names it, because its events land in the target's log.

use serde_json::{Value, json};

use super::{Adapter, ApiState};
use crate::client::atproto::{self, Session};
use crate::client::{actyx, fauna};

/// One request a load user sends over and over.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The name in reports, thresholds and `--endpoint`.
    pub name: &'static str,
    pub method: reqwest::Method,
    /// The path and query, relative to the target.
    pub path: String,
    pub bearer: Option<String>,
    /// A JSON body, for POST.
    pub body: Option<Value>,
    /// Whether each request adds to the target's log.
    pub writes: bool,
}

impl Endpoint {
    fn get(name: &'static str, path: String, bearer: Option<&str>) -> Endpoint {
        Endpoint {
            name,
            method: reqwest::Method::GET,
            path,
            bearer: bearer.map(str::to_owned),
            body: None,
            writes: false,
        }
    }

    fn post(name: &'static str, path: &str, bearer: &str, body: Value) -> Endpoint {
        Endpoint {
            name,
            method: reqwest::Method::POST,
            path: path.to_owned(),
            bearer: Some(bearer.to_owned()),
            body: Some(body),
            writes: false,
        }
    }

    fn writing(self) -> Endpoint {
        Endpoint {
            writes: true,
            ..self
        }
    }
}

impl Adapter {
    /// Every request endpoint of the target's API, reads first.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let access = &self.access;
        match &self.api {
            ApiState::Fibric => vec![Endpoint::get(
                "list",
                "/v1/events?event_type=harness.load&limit=100".to_owned(),
                Some(&access.credentials.fibric_keys[0]),
            )],
            ApiState::Pulse { lookup, .. } => {
                let mut endpoints = vec![Endpoint::get(
                    "streams",
                    "/streams".to_owned(),
                    Some(&access.credentials.pulse_key),
                )];
                if let Some(id) = lookup {
                    endpoints.push(Endpoint::get(
                        "lookup",
                        format!("/events/{id}"),
                        Some(&access.credentials.pulse_key),
                    ));
                }
                endpoints
            }
            ApiState::Fauna { collection, token } => vec![
                Endpoint::post(
                    "query",
                    fauna::QUERY,
                    &access.credentials.fauna_secret,
                    fauna::query(&fauna::event_source(&format!("{collection}.all()"))),
                ),
                Endpoint::post(
                    "feed",
                    "/feed/1",
                    &access.credentials.fauna_secret,
                    json!({"token": token, "page_size": 16}),
                ),
            ],
            ApiState::Actyx { token } => vec![
                Endpoint::get("offsets", actyx::events("offsets"), Some(token)),
                Endpoint::post(
                    "query",
                    &actyx::events("query"),
                    token,
                    json!({"query": format!("FROM '{}'", self.tag()), "order": "asc"}),
                ),
                Endpoint::post(
                    "publish",
                    &actyx::events("publish"),
                    token,
                    actyx::publish([(
                        json!([format!("{}.requests", self.tag())]),
                        json!({"load": self.run}),
                    )]),
                )
                .writing(),
            ],
            ApiState::Atproto(Session { did, access: jwt }) => vec![
                Endpoint::get(
                    "getLatestCommit",
                    format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
                    None,
                ),
                Endpoint::get(
                    "describeServer",
                    "/xrpc/com.atproto.server.describeServer".to_owned(),
                    None,
                ),
                Endpoint::post(
                    "createRecord",
                    &atproto::xrpc(atproto::CREATE_RECORD),
                    jwt,
                    atproto::create_record(did, None, atproto::record("request load")),
                )
                .writing(),
            ],
        }
    }
}
