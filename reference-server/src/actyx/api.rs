//! `GET node/id`, `GET events/offsets`, `POST events/publish`, `POST events/query`, and the node's 404 and 405.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::aql::eval::Pipeline;
use super::aql::{Endpoint, FeatureError, Query};
use super::auth::{self, Caller};
use super::error::ActyxError;
use super::feed::{self, Feed, Mode, lines_response};
use super::line::diagnostic_line;
use super::offsets::{self, OffsetMap};
use super::read::ranges;
use crate::actyx::Ctx;
use crate::core::now_micros;
use crate::defects::Defect;

pub const JSON: &str = "application/json";
pub const NDJSON: &str = "application/x-ndjson";

pub async fn not_found() -> ActyxError {
    ActyxError::not_found()
}

pub async fn method_not_allowed() -> ActyxError {
    ActyxError::method_not_allowed()
}

/// `GET /api/v2/node/id`: the node id as plain text, no newline, no auth.
pub async fn node_id(State(state): State<Ctx>, headers: HeaderMap) -> Response {
    if let Err(error) = auth::accept(&headers, "text/plain") {
        return error.into_response();
    }
    let mut response = state.api.node.id.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /api/v2/events/offsets`.
pub async fn offsets(
    State(state): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ActyxError> {
    auth::authorize(&state, &headers, &uri)?;
    auth::accept_unless_defective(&state, &headers, JSON)?;
    let streams = state.api.node.streams();
    let lag = u64::from(state.config.defects.contains(Defect::OffsetsPresentLags));
    let present: serde_json::Map<String, Value> = streams
        .iter()
        .filter_map(|(s, info)| {
            info.present
                .map(|p| (s.to_string(), json!(p.saturating_sub(lag))))
        })
        .collect();
    let keeps = state
        .config
        .defects
        .contains(Defect::ToReplicateKeepsReplicated);
    let to_replicate: serde_json::Map<String, Value> = streams
        .iter()
        .filter(|(_, info)| info.to_replicate() > 0 || (keeps && info.announced.is_some()))
        .map(|(s, info)| (s.to_string(), json!(info.to_replicate().max(1))))
        .collect();
    let mut response = json_answer(
        &state,
        &json!({"present": present, "toReplicate": to_replicate}),
    );
    let cache = if state.config.defects.contains(Defect::OffsetsNoCache) {
        "no-cache"
    } else {
        "no-store"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct PublishRequest {
    data: Vec<PublishEvent>,
}

#[derive(Debug, Deserialize)]
struct PublishEvent {
    tags: Vec<Tag>,
    payload: Value,
}

/// A non-empty tag.
#[derive(Debug)]
struct Tag(String);

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom("expected non-empty string"));
        }
        Ok(Tag(text))
    }
}

/// `POST /api/v2/events/publish`: tags sorted and unique, one timestamp per request.
pub async fn publish(
    State(state): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (caller, request): (Caller, PublishRequest) =
        auth::request(&state, &headers, &uri, JSON, body)?;
    let events = request
        .data
        .into_iter()
        .map(|event| {
            let mut tags: Vec<String> = event.tags.into_iter().map(|t| t.0).collect();
            tags.sort_unstable();
            tags.dedup();
            (tags, event.payload)
        })
        .collect();
    let app_id = if state.config.defects.contains(Defect::ActyxAppIdWrong) {
        "com.actyx"
    } else {
        caller.app_id.as_str()
    };
    let published = state
        .api
        .node
        .publish(&state.log, app_id, events, now_micros())
        .await
        .map_err(|error| match error {
            super::node::WriteError::Invalid(message)
            | super::node::WriteError::Conflict(message) => ActyxError::bad_request(message),
            super::node::WriteError::Store(error) => ActyxError::from(error),
        })?;
    let unit = if state.config.defects.contains(Defect::TimestampMillis) {
        1000
    } else {
        1
    };
    let data: Vec<Value> = published
        .iter()
        .map(|e| {
            json!({
                "lamport": e.key.lamport,
                "stream": e.key.stream,
                "offset": e.key.offset,
                "timestamp": e.timestamp / unit,
            })
        })
        .collect();
    Ok(json_answer(&state, &json!({ "data": data })))
}

/// A JSON answer, compact as the seed says; pretty-printed under `actyx-pretty-json`.
fn json_answer(state: &Ctx, body: &Value) -> Response {
    if !state.config.defects.contains(Defect::ActyxPrettyJson) {
        return Json(body).into_response();
    }
    let text = serde_json::to_string_pretty(body).unwrap_or_default();
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    Asc,
    Desc,
    StreamAsc,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest {
    query: String,
    /// Required; `Option` only so that the `query-order-optional` defect can do without it.
    #[serde(default)]
    order: Option<Order>,
    #[serde(default, deserialize_with = "offsets::optional")]
    lower_bound: Option<OffsetMap>,
    #[serde(default, deserialize_with = "offsets::optional")]
    upper_bound: Option<OffsetMap>,
}

/// Parses the AQL and checks its features for `endpoint`: the node's 400 and 418 answers.
pub fn parse_query(state: &Ctx, text: &str, endpoint: Endpoint) -> Result<Query, ActyxError> {
    let flat = state.config.defects.contains(Defect::TagPrecedenceFlat);
    let query = Query::parse_with(text, flat).map_err(ActyxError::bad_request)?;
    match query.check_features(endpoint) {
        Ok(()) => Ok(query),
        Err(FeatureError::NotEnabled(features)) => Err(ActyxError::bad_request(format!(
            "The query uses beta features that are not enabled: {}.",
            features.join(" ")
        ))),
        Err(FeatureError::Unsupported(feature)) => {
            Err(ActyxError::unsupported_feature(feature, endpoint.name()))
        }
    }
}

/// The one line the node answers when an upper bound is beyond what it has.
pub const OUT_OF_RANGE: &str =
    "Query bounds out of range: upper bound must be within the known present.";

/// `POST /api/v2/events/query`.
pub async fn query(
    State(state): State<Ctx>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ActyxError> {
    let (_caller, request): (Caller, QueryRequest) =
        auth::request(&state, &headers, &uri, NDJSON, body)?;
    let order = match request.order {
        Some(order) => order,
        None if state.config.defects.contains(Defect::QueryOrderOptional) => Order::Asc,
        None => return Err(ActyxError::bad_request("missing field `order`")),
    };
    let query = parse_query(&state, &request.query, Endpoint::Query)?;
    let present = state.api.node.present();
    let upper = match request.upper_bound {
        None => present.clone(),
        Some(OffsetMap(upper)) => {
            let beyond = upper
                .iter()
                .any(|(stream, offset)| present.get(stream).is_none_or(|p| offset > p));
            if beyond {
                return Ok(lines_response(diagnostic_line("error", OUT_OF_RANGE)));
            }
            if state.config.defects.contains(Defect::QueryUpperExclusive) {
                upper
                    .into_iter()
                    .filter_map(|(s, o)| o.checked_sub(1).map(|o| (s, o)))
                    .collect()
            } else if state.config.defects.contains(Defect::UpperBoundAllStreams) {
                // The streams it does not name, up to the present.
                let mut all = present.clone();
                all.extend(upper);
                all
            } else {
                upper
            }
        }
    };
    let lower = request.lower_bound.unwrap_or_default().0;
    let wanted = ranges(&lower, &upper);
    let descending = order == Order::Desc && !state.config.defects.contains(Defect::DescUnsorted);
    let source = feed::source(&state, &query.source, &wanted, descending).await?;
    let feed = Feed::new(
        &state,
        Pipeline::new(query),
        Mode::Query { upper },
        source,
        BTreeMap::new(),
    );
    if state.config.defects.contains(Defect::QuerySizedBody) {
        return Ok(sized(feed.response()).await);
    }
    Ok(feed.response())
}

/// The whole of a query's (finite) answer, sent with `Content-Length`
/// instead of chunked: the `query-sized-body` defect.
async fn sized(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, 64 << 20).await {
        Ok(bytes) => Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(_) => ActyxError::bad_request("the answer is too large").into_response(),
    }
}
