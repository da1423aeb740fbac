//! `GET /v1/events` (pages) and `GET /v1/events/stream` (SSE), sharing filters and cursors.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::cursor::Cursor;
use super::envelope::StoredEnvelope;
use super::filter::{FilterDefects, FilterSet, TypePattern};
use super::render::{envelope_json, render_frame};
use super::write;
use super::{authenticate, ids_namespace, stream_name};
use crate::defects::Defect;
use crate::error::ApiError;
use crate::fibric::Ctx;
use crate::sse::{self, Subscription};
use crate::store::{Position, ReadLimit, StreamBounds};

/// The query parameters of both endpoints, checked: unknown or repeated
/// parameters are refused, so a typo cannot silently widen a filter.
#[derive(Debug, Default)]
struct Params {
    filters: FilterSet,
    cursor: Option<String>,
    limit: Option<usize>,
}

fn parse_params(pairs: Vec<(String, String)>, allow_limit: bool) -> Result<Params, ApiError> {
    let mut params = Params::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in pairs {
        if !seen.insert(key.clone()) {
            return Err(ApiError::bad_request(format!(
                "{key} is given more than once"
            )));
        }
        let nonempty = |value: String| {
            if value.is_empty() {
                Err(ApiError::bad_request(format!("{key} must not be empty")))
            } else {
                Ok(value)
            }
        };
        match key.as_str() {
            "event_type" => {
                params.filters.event_type =
                    Some(TypePattern::parse(&value).map_err(ApiError::bad_request)?);
            }
            "source" => params.filters.source = Some(nonempty(value)?),
            "workspace_id" => params.filters.workspace_id = Some(nonempty(value)?),
            "entity" => params.filters.entity = Some(nonempty(value)?),
            "cursor" => params.cursor = Some(nonempty(value)?),
            "limit" if allow_limit => {
                let limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("limit {value:?} is not a positive integer"))
                    })?;
                params.limit = Some(limit);
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {key:?}; filters are event_type, source, workspace_id, entity, cursor{}",
                    if allow_limit { ", limit" } else { "" }
                )));
            }
        }
    }
    Ok(params)
}

fn invalid_cursor(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", message)
}

/// Refuses a start position whose successors retention has removed, or that
/// lies beyond everything the log has handed out; returns the position to
/// read after.
fn check_position(
    state: &Ctx,
    bounds: &StreamBounds,
    after: Position,
) -> Result<Position, ApiError> {
    if after > bounds.next - 1 {
        return Err(invalid_cursor(
            "the cursor is ahead of the log: it was not issued by this server",
        ));
    }
    let oldest_kept = bounds.first.unwrap_or(bounds.next);
    if oldest_kept > after + 1 {
        if state.config.defects.contains(Defect::ExpiredCursorResumes) {
            return Ok(oldest_kept - 1);
        }
        return Err(ApiError::new(
            StatusCode::GONE,
            "cursor_expired",
            "envelopes after this cursor are past the retention window; restart with a backfill",
        ));
    }
    Ok(after)
}

/// Where a resume position came from, for the defects that treat them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    CursorParameter,
    LastEventId,
}

/// The position to read after, from a cursor or `Last-Event-ID` value.
fn start_after(
    state: &Ctx,
    tenant: &str,
    binding: &str,
    bounds: &StreamBounds,
    token: &str,
    origin: Origin,
) -> Result<Position, ApiError> {
    let after = check_position(
        state,
        bounds,
        resume_position(state, tenant, binding, token)?,
    )?;
    let defects = &state.config.defects;
    let late = match origin {
        Origin::CursorParameter => defects.contains(Defect::ResumeOffByOne),
        Origin::LastEventId => defects.contains(Defect::DropOnReconnect),
    };
    Ok(if late { after + 1 } else { after })
}

/// The filters of a request, with the matching defects switched on.
fn with_defects(mut filters: FilterSet, state: &Ctx) -> FilterSet {
    filters.defects = FilterDefects {
        glob_spans_segments: state.config.defects.contains(Defect::GlobSpansSegments),
        or: state.config.defects.contains(Defect::FiltersOr),
    };
    filters
}

/// Resolves a cursor or `Last-Event-ID` value to the position to resume after.
fn resume_position(
    state: &Ctx,
    tenant: &str,
    binding: &str,
    token: &str,
) -> Result<Position, ApiError> {
    if token.starts_with(super::cursor::PREFIX) {
        let cursor = Cursor::decode(token).map_err(invalid_cursor)?;
        if cursor.binding != binding && !state.config.defects.contains(Defect::CursorIgnoresFilters)
        {
            return Err(invalid_cursor(
                "this cursor was issued for a different filter set; cursors are valid only with the filters they came from",
            ));
        }
        return Ok(cursor.position);
    }
    // Anything else is an event id, as EventSource sends back from the `id` field.
    let stored = state.log.kv_get(&ids_namespace(tenant), token)?;
    let bytes =
        stored.ok_or_else(|| invalid_cursor("Last-Event-ID names no envelope of this tenant"))?;
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| ApiError::internal("corrupt event id index"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The tenant whose log the list pages: the key's, or under the
/// `list-leaks-other-tenant` defect the first configured tenant's.
fn list_tenant(state: &Ctx, tenant: String) -> String {
    if !state.config.defects.contains(Defect::ListLeaksOtherTenant) {
        return tenant;
    }
    state
        .config
        .fibric
        .keys
        .values()
        .next()
        .cloned()
        .unwrap_or(tenant)
}

/// `GET /v1/events`: a page of the tenant's log in log order.
pub async fn list(
    State(state): State<Ctx>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = list_tenant(&state, authenticate(&state, &headers)?);
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let params = parse_params(pairs, true)?;
    let config = &state.config.fibric;
    let limit = match params.limit {
        Some(_) if state.config.defects.contains(Defect::ListIgnoresLimit) => config.default_page,
        asked => asked.unwrap_or(config.default_page),
    };
    if limit > config.max_page {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {}",
            config.max_page
        )));
    }
    let stream = stream_name(&tenant);
    let binding = params.filters.binding(&tenant);
    let bounds = write::enforce_retention(&state, &stream).await?;
    let after = match &params.cursor {
        Some(token) => {
            let after = resume_position(&state, &tenant, &binding, token)?;
            check_position(&state, &bounds, after)?
        }
        None => bounds.first.unwrap_or(bounds.next) - 1,
    };
    let page_size = limit;
    let filters = if state.config.defects.contains(Defect::ListIgnoresFilters) {
        FilterSet::default()
    } else {
        with_defects(params.filters.clone(), &state)
    };
    let owner = tenant.clone();
    let limit = ReadLimit {
        max_records: limit,
        max_scanned: limit.saturating_mul(64).max(10_000),
    };
    let batch = state
        .log
        .read_after(
            &stream,
            after,
            limit,
            Box::new(move |record| {
                StoredEnvelope::decode(&record.payload)
                    .is_some_and(|env| env.tenant_id == owner && filters.matches(&env))
            }),
        )
        .await?;
    let renamed = state.config.defects.contains(Defect::EnvelopeFieldRenamed);
    let mut data = Vec::with_capacity(batch.records.len());
    for record in &batch.records {
        let envelope = StoredEnvelope::decode(&record.payload)
            .ok_or_else(|| ApiError::internal("a stored envelope does not decode"))?;
        let text = envelope_json(&envelope, record.position, &binding, renamed)
            .ok_or_else(|| ApiError::internal("an envelope does not encode"))?;
        data.push(
            serde_json::from_str::<Value>(&text).map_err(|e| ApiError::internal(e.to_string()))?,
        );
    }
    let next_cursor = Cursor {
        position: batch.scanned_to,
        binding,
    }
    .encode();
    let full_page_lies =
        state.config.defects.contains(Defect::ListHasMoreWrong) && data.len() == page_size;
    let has_more = !batch.reached_end && !full_page_lies;
    Ok(Json(page_json(&state, data, has_more, next_cursor)))
}

/// A page of `GET /v1/events`: `{data, has_more, next_cursor}`.
fn page_json(state: &Ctx, data: Vec<Value>, has_more: bool, next_cursor: String) -> Value {
    if state.config.defects.contains(Defect::ListDataRenamed) {
        return json!({"items": data, "has_more": has_more, "next_cursor": next_cursor});
    }
    json!({
        "data": data,
        "has_more": has_more,
        "next_cursor": next_cursor,
    })
}

/// `GET /v1/events/stream`: SSE, replay after the cursor (or from now), then live.
pub async fn stream(
    State(state): State<Ctx>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let tenant = authenticate(&state, &headers)?;
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let params = parse_params(pairs, false)?;
    let stream = stream_name(&tenant);
    let binding = params.filters.binding(&tenant);
    let bounds = write::enforce_retention(&state, &stream).await?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let defects = &state.config.defects;
    let after = match (last_event_id, params.cursor.as_deref()) {
        (Some(token), _) => start_after(
            &state,
            &tenant,
            &binding,
            &bounds,
            token,
            Origin::LastEventId,
        )?,
        (None, Some(token)) => start_after(
            &state,
            &tenant,
            &binding,
            &bounds,
            token,
            Origin::CursorParameter,
        )?,
        (None, None) if defects.contains(Defect::StreamReplaysFromStart) => {
            bounds.first.unwrap_or(bounds.next) - 1
        }
        (None, None) => bounds.next - 1,
    };
    // Under `replay-ignores-filters`, what a resumed stream replays (what
    // the log held when it opened) is rendered without the filters.
    let resumed = last_event_id.is_some() || params.cursor.is_some();
    let unfiltered_before =
        (resumed && defects.contains(Defect::ReplayIgnoresFilters)).then_some(bounds.next);
    let filters = with_defects(params.filters, &state);
    let id_is_cursor = defects.contains(Defect::FrameIdNotEventId);
    let renamed = defects.contains(Defect::EnvelopeFieldRenamed);
    let claims = defects.contains(Defect::StreamClaimsEnvelopes);
    let owner = tenant.clone();
    let group = state.api.frames.join(filters.key(&tenant));
    let render: sse::Render = Arc::new(move |record| {
        if unfiltered_before.is_some_and(|live| record.position < live) {
            let all = FilterSet::default();
            return render_frame(record, &owner, &all, &binding, renamed, id_is_cursor);
        }
        let render = || render_frame(record, &owner, &filters, &binding, renamed, id_is_cursor);
        if claims {
            group.claim(record.position, render)
        } else {
            group.frame(record.position, render)
        }
    });
    let subscription = Subscription {
        stream,
        after,
        render,
        keepalive: state.config.fibric.keepalive,
        stop: state.hub.token("fibric").child_token(),
        read_batch: state.config.subscribers.read_batch,
        preamble: None,
        defects: sse::StreamDefects {
            seam_gap: defects.contains(Defect::ReplayLiveSeamGap),
            reverse_batches: defects.contains(Defect::ReorderLive),
            ..sse::StreamDefects::from(defects)
        },
    };
    let mut response = sse::response(&state.log, &state.hub, subscription);
    if defects.contains(Defect::CacheableStream) {
        response
            .headers_mut()
            .remove(axum::http::header::CACHE_CONTROL);
    }
    Ok(response)
}
