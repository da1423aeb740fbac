//! Actyx checks of the request contract: required fields refused when missing, the default `Accept` and `Content-Type`, and `Cache-Control` on offsets.

use scenarios::Finding;
use scenarios::actyx::meta;
use serde_json::{Value, json};

use super::feed::Answer;
use super::{Actyx, Found, NDJSON, clip, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(RequiredFields, meta::REQUIRED_FIELDS);

impl RequiredFields {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let query = format!("FROM '{}'", ax.tag(""));
        let missing = [
            ("events/query", "query", json!({"order": "asc"})),
            ("events/query", "order", json!({ "query": query })),
            (
                "events/subscribe_monotonic",
                "session",
                json!({"query": query, "lowerBound": {}}),
            ),
        ];
        let mut findings = Vec::new();
        for (path, field, body) in missing {
            let request = ax.post(path, &body).header("accept", NDJSON);
            let (status, text) = match ax.open(request).await? {
                Answer::Whole(response) => (response.status, response.body),
                Answer::Feed(feed) => (feed.status, String::new()),
            };
            let error: Option<Value> = serde_json::from_str(&text).ok();
            let shaped = error
                .as_ref()
                .is_some_and(|e| e["code"].is_string() && e["message"].is_string());
            if !(400..500).contains(&status) || !shaped {
                findings.push(Finding::new(
                    "required-field",
                    format!(
                        "POST {path} without the required {field} answered {status} {}, not a 4xx {{code, message}}",
                        clip(&text)
                    ),
                ));
            }
        }
        Ok(findings)
    }
}

fixed_property!(OffsetsCacheControl, meta::OFFSETS_CACHE_CONTROL);

impl OffsetsCacheControl {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let request = ax
            .ctx
            .http
            .get(ax.url("events/offsets"))
            .bearer_auth(ax.token());
        let response = ax.call(request).await?;
        let no_store = response.header("cache-control").is_some_and(|value| {
            value
                .split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        });
        if response.status == 200 && no_store {
            return Ok(Vec::new());
        }
        Ok(vec![Finding::new(
            "cache-control",
            format!(
                "GET events/offsets answered {} with Cache-Control {}, not 200 with no-store",
                response.status,
                response
                    .header("cache-control")
                    .map_or("(none)".to_owned(), |value| format!("{value:?}"))
            ),
        )])
    }
}

fixed_property!(DefaultHeaders, meta::DEFAULT_HEADERS);

impl DefaultHeaders {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    /// Requests with no `Content-Type` and the client's `Accept: */*`
    /// (reqwest sends it; it leaves the choice to the server, as no header does).
    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let mut findings = Vec::new();
        let http = &ax.ctx.http;
        let offsets = ax
            .call(http.get(ax.url("events/offsets")).bearer_auth(ax.token()))
            .await?;
        expect(
            &mut findings,
            "GET events/offsets",
            offsets.status,
            offsets.header("content-type"),
            "application/json",
            &offsets.body,
        );
        let query = format!("FROM '{}'", ax.tag(""));
        let publish = json!({"data": [{"tags": [ax.tag("")], "payload": {"defaults": true}}]});
        let plain = |path: &str, body: &Value| {
            http.post(ax.url(path))
                .bearer_auth(ax.token())
                .body(body.to_string())
        };
        let published = ax.call(plain("events/publish", &publish)).await?;
        let entries = published
            .json()
            .and_then(|b| b["data"].as_array().map(Vec::len));
        if published.status != 200 || entries != Some(1) {
            findings.push(Finding::new(
                "content-type-default",
                format!(
                    "POST events/publish without Content-Type answered {} {}, not 200 with one data entry",
                    published.status,
                    clip(&published.body)
                ),
            ));
        }
        for (path, body) in [
            ("events/query", json!({"query": query, "order": "asc"})),
            ("events/subscribe", json!({ "query": query })),
        ] {
            let (status, content_type, text) = match ax.open(plain(path, &body)).await? {
                Answer::Whole(response) => {
                    let content_type = response.header("content-type").map(str::to_owned);
                    (response.status, content_type, response.body)
                }
                Answer::Feed(feed) => {
                    let content_type = feed.header("content-type").map(str::to_owned);
                    (feed.status, content_type, String::new())
                }
            };
            let what = format!("POST {path} without Content-Type or Accept");
            expect(
                &mut findings,
                &what,
                status,
                content_type.as_deref(),
                NDJSON,
                &text,
            );
        }
        Ok(findings)
    }
}

/// A finding unless the answer is `200` with the `want`ed media type.
fn expect(
    findings: &mut Vec<Finding>,
    what: &str,
    status: u16,
    content_type: Option<&str>,
    want: &str,
    body: &str,
) {
    if status != 200 || !content_type.is_some_and(|t| t.starts_with(want)) {
        findings.push(Finding::new(
            "default-headers",
            format!(
                "{what} answered {status} with Content-Type {content_type:?}, not 200 {want}: {}",
                clip(body)
            ),
        ));
    }
}

fixed_property!(JsonAnswers, meta::JSON_ANSWERS);

impl JsonAnswers {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let mut findings = Vec::new();
        let publish = json!({"data": [
            {"tags": [ax.tag("")], "payload": {"nested": {"list": [1, 2]}, "n": 0}},
            {"tags": [ax.tag("")], "payload": {"n": 1}},
        ]});
        let published = ax.call(ax.post("events/publish", &publish)).await?;
        let offsets = ax
            .call(
                ax.ctx
                    .http
                    .get(ax.url("events/offsets"))
                    .bearer_auth(ax.token()),
            )
            .await?;
        for (what, response) in [
            ("POST events/publish", published),
            ("GET events/offsets", offsets),
        ] {
            let json_type = response
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            if response.status != 200 || !json_type {
                findings.push(Finding::new(
                    "content-type",
                    format!(
                        "{what} answered {} with Content-Type {:?}, not 200 application/json",
                        response.status,
                        response.header("content-type")
                    ),
                ));
            }
            findings.extend(not_compact(what, &response.body));
        }
        // A feed's lines, the events' payloads nested.
        let body = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
        let mut feed = ax.open_ok("events/query", &body).await?;
        let chunked = feed
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        if !chunked {
            findings.push(Finding::new(
                "transfer-encoding",
                format!(
                    "POST events/query answered Transfer-Encoding {:?} (Content-Length {:?}), not chunked",
                    feed.header("transfer-encoding"),
                    feed.header("content-length")
                ),
            ));
        }
        let deadline = tokio::time::Instant::now() + super::PROMPT;
        while let Some(line) = feed
            .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            let text = String::from_utf8_lossy(line.bytes()).into_owned();
            findings.extend(not_compact("a query line", &text));
        }
        Ok(findings)
    }
}

/// A finding when a JSON text is pretty-printed: a line break or indentation inside it.
fn not_compact(what: &str, body: &str) -> Option<Finding> {
    let text = body.trim_end_matches(['\r', '\n']);
    let pretty = text.contains('\n') || text.starts_with("{ ") || text.contains("\n ");
    pretty.then(|| {
        Finding::new(
            "pretty-json",
            format!(
                "{what} answered pretty-printed JSON, not compact: {}",
                clip(body)
            ),
        )
    })
}
