//! Actyx checks of auth, tokens, `Accept` / `Content-Type` negotiation, and keep-alive blank lines.

use scenarios::Finding;
use scenarios::actyx::lines::FeedLine;
use scenarios::actyx::meta;
use serde_json::json;

use super::refusals::{auth_refusals, negotiation_refusals, probes, status_body, status_finding};
use super::{Actyx, Found, NDJSON, PROMPT, clip, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// A finding unless `GET node/id` without auth answers 200 with the node
/// id, as `ax_sdk` (`Ax::new`) and `@actyx/sdk` (`v2getNodeId`) need.
async fn node_id_finding(ax: &mut Actyx) -> Result<Option<Finding>, super::Stop> {
    let node = ax.call(ax.ctx.http.get(ax.url("node/id"))).await?;
    Ok(
        (node.status != 200 || node.body.trim().is_empty()).then(|| {
            Finding::new(
                "node-id",
                format!(
                    "GET node/id without auth answered {} {:?}, not 200 with the node id",
                    node.status,
                    clip(&node.body)
                ),
            )
        }),
    )
}

fixed_property!(AuthRequired, meta::AUTH_REQUIRED);

impl AuthRequired {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        let mut findings = Vec::new();
        findings.extend(node_id_finding(ax).await?);
        let tag = ax.tag("");
        for refusal in auth_refusals(ax, &tag).await? {
            // A missing header is a lack of credentials, 401 in RFC 9110; the
            // seed gives no status for a malformed token, so any 4xx refuses it.
            let want = refusal.missing.then_some(401);
            findings.extend(status_finding(&refusal.what, &refusal.answer, want));
        }
        findings.extend(Self::with_token(ax, &tag).await?);
        Ok(findings)
    }

    /// The token of `POST /api/v2/auth`, as a Bearer header, opens every route.
    async fn with_token(ax: &mut Actyx, tag: &str) -> Found {
        ax.login().await?;
        let mut findings = Vec::new();
        for (what, path, body, is_feed) in probes(tag) {
            let mut request = match &body {
                Some(body) => ax.ctx.http.post(ax.url(path)).json(body),
                None => ax.ctx.http.get(ax.url(path)),
            };
            if is_feed {
                request = request.header("accept", NDJSON);
            }
            let (status, body) = status_body(ax.open(request.bearer_auth(ax.token())).await?);
            if status != 200 {
                findings.push(Finding::new(
                    "token",
                    format!(
                        "{what} with the token of POST /api/v2/auth as a Bearer header answered {status}: {}",
                        clip(&body)
                    ),
                ));
            }
        }
        Ok(findings)
    }
}

fixed_property!(TokenFlow, meta::TOKEN_FLOW);

impl TokenFlow {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let mut findings = Vec::new();
        let header = ax
            .call(
                ax.ctx
                    .http
                    .get(ax.url("events/offsets"))
                    .bearer_auth(ax.token()),
            )
            .await?;
        let mut param = None;
        for url in token_urls(ax, "events/offsets") {
            let response = ax.call(ax.ctx.http.get(url)).await?;
            let ok = response.status == 200;
            param = Some(response);
            if ok {
                break;
            }
        }
        let param = param.ok_or_else(|| "no access_token URL".to_owned())?;
        for (how, response) in [("Bearer header", header), ("access_token parameter", param)] {
            let ok =
                response.status == 200 && response.json().is_some_and(|b| b["present"].is_object());
            if !ok {
                findings.push(Finding::new(
                    "token",
                    format!(
                        "GET events/offsets with the token as {how} answered {} {}, not 200 with present",
                        response.status,
                        clip(&response.body)
                    ),
                ));
            }
        }
        let body = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
        let (mut status, mut text) = (0, String::new());
        for url in token_urls(ax, "events/query") {
            let request = ax.ctx.http.post(url).json(&body).header("accept", NDJSON);
            (status, text) = status_body(ax.open(request).await?);
            if status == 200 {
                break;
            }
        }
        if status != 200 {
            findings.push(Finding::new(
                "token",
                format!(
                    "POST events/query with the token as access_token parameter answered {status} {}",
                    clip(&text)
                ),
            ));
        }
        Ok(findings)
    }
}

/// `path?access_token=<token>`: the token as it is, then percent-encoded when
/// that differs (base64's `+`, `/` and `=`), since a node may take the
/// parameter verbatim or decode it; either reading passes.
fn token_urls(ax: &Actyx, path: &str) -> Vec<String> {
    let token = ax.token();
    let encoded = token
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let mut urls = vec![format!("{}?access_token={token}", ax.url(path))];
    if encoded != token {
        urls.push(format!("{}?access_token={encoded}", ax.url(path)));
    }
    urls
}

fixed_property!(Negotiation, meta::NEGOTIATION);

impl Negotiation {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let mut findings = Vec::new();
        // RFC 9110's statuses for an Accept or a Content-Type the seed rules out.
        for refusal in negotiation_refusals(ax).await? {
            let want = Some(refusal.status);
            findings.extend(status_finding(refusal.what, &refusal.answer, want));
        }
        let query = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
        let http = &ax.ctx.http;
        let offsets = || http.get(ax.url("events/offsets")).bearer_auth(ax.token());
        // What the right headers get: JSON for offsets, NDJSON for a query.
        let response = ax
            .call(offsets().header("accept", "application/json"))
            .await?;
        let json_type = response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if response.status != 200 || !json_type {
            findings.push(Finding::new(
                "content-type",
                format!(
                    "GET events/offsets answered {} with Content-Type {:?}, not 200 application/json",
                    response.status,
                    response.header("content-type")
                ),
            ));
        }
        let feed = ax.open_ok("events/query", &query).await?;
        if !feed
            .header("content-type")
            .is_some_and(|t| t.starts_with(NDJSON))
        {
            findings.push(Finding::new(
                "content-type",
                format!(
                    "POST events/query answered Content-Type {:?}, not {NDJSON}",
                    feed.header("content-type")
                ),
            ));
        }
        Ok(findings)
    }
}

fixed_property!(KeepAlive, meta::KEEPALIVE);

impl KeepAlive {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let query = json!({ "query": format!("FROM '{}'", ax.tag("")) });
        let mut feed = ax.open_ok("events/subscribe", &query).await?;
        feed.until_offsets(PROMPT).await?;
        let patience = ax.ctx.patience;
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match feed.next_line(left).await {
                Some(FeedLine::Blank) => return Ok(Vec::new()),
                Some(FeedLine::Skipped(_)) => {}
                Some(other) => {
                    return Ok(vec![Finding::new(
                        "feed-line",
                        format!("an idle feed with nothing to deliver sent {other:?}"),
                    )]);
                }
                None => {
                    return Ok(vec![Finding::new(
                        "no-keepalive",
                        format!(
                            "an idle subscribe feed sent no blank line within {patience:?} ({})",
                            feed.closed.as_deref().unwrap_or("still open")
                        ),
                    )]);
                }
            }
        }
    }
}
