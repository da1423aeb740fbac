//! Actyx checks of auth, tokens, `Accept` / `Content-Type` negotiation, and keep-alive blank lines.

use scenarios::Finding;
use scenarios::actyx::lines::FeedLine;
use scenarios::actyx::meta;
use serde_json::{Value, json};

use super::feed::Answer;
use super::{Actyx, Found, NDJSON, PROMPT, clip, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Status and body of an answer; an opened feed is a `200` with no body.
fn status_body(answer: Answer) -> (u16, String) {
    match answer {
        Answer::Whole(response) => (response.status, response.body),
        Answer::Feed(feed) => (feed.status, String::new()),
    }
}

/// Findings unless the answer is `status` with a `{code, message}` body naming `code`.
fn error_findings(
    what: &str,
    (status, body): (u16, String),
    want: u16,
    code: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if status != want {
        findings.push(Finding::new(
            "status",
            format!("{what} answered {status}, not {want}: {}", clip(&body)),
        ));
    }
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    match parsed {
        Some(error) if error["code"].is_string() && error["message"].is_string() => {
            findings.extend((error["code"] != code).then(|| {
                Finding::new(
                    "error-code",
                    format!("{what} answered code {}, not {code}", error["code"]),
                )
            }));
        }
        _ if status >= 400 => findings.push(Finding::new(
            "error-shape",
            format!(
                "{what}: the error body is not {{code, message}}: {}",
                clip(&body)
            ),
        )),
        _ => {}
    }
    findings
}

/// The requests every auth probe sends: what, method+path, body, whether the answer is a feed.
fn probes(tag: &str) -> Vec<(&'static str, &'static str, Option<Value>, bool)> {
    let query = format!("FROM '{tag}'");
    vec![
        ("GET events/offsets", "events/offsets", None, false),
        (
            "POST events/publish",
            "events/publish",
            Some(json!({"data": [{"tags": [tag], "payload": {"auth": "probe"}}]})),
            false,
        ),
        (
            "POST events/query",
            "events/query",
            Some(json!({"query": query, "order": "asc"})),
            true,
        ),
        (
            "POST events/subscribe",
            "events/subscribe",
            Some(json!({ "query": query })),
            true,
        ),
    ]
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
        let node = ax.call(ax.ctx.http.get(ax.url("node/id"))).await?;
        if node.status != 200 || node.body.trim().is_empty() {
            findings.push(Finding::new(
                "node-id",
                format!(
                    "GET node/id without auth answered {} {:?}, not 200 with the node id",
                    node.status,
                    clip(&node.body)
                ),
            ));
        }
        let tag = ax.tag("");
        for (who, token) in [
            ("no Authorization", None),
            ("a malformed token", Some("not*a*token")),
        ] {
            for (what, path, body, is_feed) in probes(&tag) {
                let mut request = match &body {
                    Some(body) => ax.ctx.http.post(ax.url(path)).json(body),
                    None => ax.ctx.http.get(ax.url(path)),
                };
                if is_feed {
                    request = request.header("accept", NDJSON);
                }
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let answer = ax.open(request).await?;
                let (want, code) = match token {
                    None => (401, "ERR_MISSING_AUTH_HEADER"),
                    Some(_) => (400, "ERR_TOKEN_INVALID"),
                };
                findings.extend(error_findings(
                    &format!("{what} with {who}"),
                    status_body(answer),
                    want,
                    code,
                ));
            }
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
        let query = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
        let publish = json!({"data": [{"tags": [ax.tag("")], "payload": {"negotiation": true}}]});
        let http = &ax.ctx.http;
        let offsets = || http.get(ax.url("events/offsets")).bearer_auth(ax.token());
        let post = |path: &str, body: &Value| {
            http.post(ax.url(path))
                .bearer_auth(ax.token())
                .body(body.to_string())
        };
        let refused = [
            (
                "GET events/offsets with Accept: text/html",
                offsets().header("accept", "text/html"),
                406,
                "ERR_NOT_ACCEPTABLE",
            ),
            (
                "POST events/query with Accept: text/html",
                post("events/query", &query)
                    .header("content-type", "application/json")
                    .header("accept", "text/html"),
                406,
                "ERR_NOT_ACCEPTABLE",
            ),
            (
                "POST events/publish with Content-Type: text/plain",
                post("events/publish", &publish).header("content-type", "text/plain"),
                415,
                "ERR_UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                "POST events/query with Content-Type: text/plain",
                post("events/query", &query)
                    .header("content-type", "text/plain")
                    .header("accept", NDJSON),
                415,
                "ERR_UNSUPPORTED_MEDIA_TYPE",
            ),
        ];
        for (what, request, status, code) in refused {
            let answer = ax.open(request).await?;
            findings.extend(error_findings(what, status_body(answer), status, code));
        }
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
