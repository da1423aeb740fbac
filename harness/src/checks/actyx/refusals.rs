//! Actyx refusals: what a target answers without a usable token or with the wrong `Accept` or `Content-Type`, and the node's error codes for them.
//!
//! The seed says a token must be sent and which media types each route takes,
//! but gives no status or error body. The MUST checks in [`super::auth`] hold
//! a target to HTTP's statuses for these refusals; [`NodeCodes`] holds it, at
//! SHOULD, to the real node's codes and `{code, message}` bodies.

use scenarios::Finding;
use scenarios::actyx::meta;
use serde_json::{Value, json};

use super::feed::Answer;
use super::{Actyx, Found, NDJSON, Stop, clip, fixed_property};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

/// Status and body of an answer; an opened feed is a `200` with no body.
pub(super) fn status_body(answer: Answer) -> (u16, String) {
    match answer {
        Answer::Whole(response) => (response.status, response.body),
        Answer::Feed(feed) => (feed.status, String::new()),
    }
}

/// A finding unless the answer's status is `want` (`None`: any 4xx).
pub(super) fn status_finding(
    what: &str,
    (status, body): &(u16, String),
    want: Option<u16>,
) -> Option<Finding> {
    let ok = match want {
        Some(want) => *status == want,
        None => (400..500).contains(status),
    };
    let wanted = want.map_or_else(|| "a 4xx".to_owned(), |want| want.to_string());
    (!ok).then(|| {
        Finding::new(
            "status",
            format!("{what} answered {status}, not {wanted}: {}", clip(body)),
        )
    })
}

/// Findings unless the answer is `want` with a `{code, message}` body naming `code`.
pub(super) fn code_findings(
    what: &str,
    answer: &(u16, String),
    want: u16,
    code: &str,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = status_finding(what, answer, Some(want))
        .into_iter()
        .collect();
    let (status, body) = answer;
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed {
        Some(error) if error["code"].is_string() && error["message"].is_string() => {
            findings.extend((error["code"] != code).then(|| {
                Finding::new(
                    "error-code",
                    format!("{what} answered code {}, not {code}", error["code"]),
                )
            }));
        }
        _ if *status >= 400 => findings.push(Finding::new(
            "error-shape",
            format!(
                "{what}: the error body is not {{code, message}}: {}",
                clip(body)
            ),
        )),
        _ => {}
    }
    findings
}

/// The requests every auth probe sends: what, method+path, body, whether the answer is a feed.
pub(super) fn probes(tag: &str) -> Vec<(&'static str, &'static str, Option<Value>, bool)> {
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

/// One events route's answer to a request without a usable token.
pub(super) struct AuthRefusal {
    pub what: String,
    /// Whether the request had no `Authorization` (else a malformed token).
    pub missing: bool,
    pub answer: (u16, String),
}

/// Every probe's answer without an `Authorization` header, then with a malformed token.
pub(super) async fn auth_refusals(ax: &mut Actyx, tag: &str) -> Result<Vec<AuthRefusal>, Stop> {
    let mut refusals = Vec::new();
    for (who, token) in [
        ("no Authorization", None),
        ("a malformed token", Some("not*a*token")),
    ] {
        for (what, path, body, is_feed) in probes(tag) {
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
            refusals.push(AuthRefusal {
                what: format!("{what} with {who}"),
                missing: token.is_none(),
                answer: status_body(ax.open(request).await?),
            });
        }
    }
    Ok(refusals)
}

/// One answer to a request whose `Accept` or `Content-Type` the seed rules out.
pub(super) struct NegotiationRefusal {
    pub what: &'static str,
    /// RFC 9110's status for it: 406 or 415.
    pub status: u16,
    /// The real node's code for it.
    pub code: &'static str,
    pub answer: (u16, String),
}

/// The answers to a wrong `Accept` and a wrong `Content-Type`, on a JSON
/// route and on a feed; the caller has logged in.
pub(super) async fn negotiation_refusals(ax: &mut Actyx) -> Result<Vec<NegotiationRefusal>, Stop> {
    let query = json!({"query": format!("FROM '{}'", ax.tag("")), "order": "asc"});
    let publish = json!({"data": [{"tags": [ax.tag("")], "payload": {"negotiation": true}}]});
    let http = &ax.ctx.http;
    let offsets = || http.get(ax.url("events/offsets")).bearer_auth(ax.token());
    let post = |path: &str, body: &Value| {
        http.post(ax.url(path))
            .bearer_auth(ax.token())
            .body(body.to_string())
    };
    let requests = [
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
    let mut refusals = Vec::new();
    for (what, request, status, code) in requests {
        let answer = status_body(ax.open(request).await?);
        refusals.push(NegotiationRefusal {
            what,
            status,
            code,
            answer,
        });
    }
    Ok(refusals)
}

fixed_property!(NodeCodes, meta::NODE_CODES);

impl NodeCodes {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    async fn body(ax: &mut Actyx) -> Found {
        let mut findings = Vec::new();
        let tag = ax.tag("");
        for refusal in auth_refusals(ax, &tag).await? {
            let (status, code) = if refusal.missing {
                (401, "ERR_MISSING_AUTH_HEADER")
            } else {
                (400, "ERR_TOKEN_INVALID")
            };
            findings.extend(code_findings(&refusal.what, &refusal.answer, status, code));
        }
        ax.login().await?;
        for refusal in negotiation_refusals(ax).await? {
            let (what, status, code) = (refusal.what, refusal.status, refusal.code);
            findings.extend(code_findings(what, &refusal.answer, status, code));
        }
        Ok(findings)
    }
}
