//! Fauna checks of where a stream starts: cursor and `start_ts`, and the refusals of `start_ts` with a cursor or before the history window.

use scenarios::Finding;
use scenarios::fauna::model::{ResumePlan, resume_plan};
use scenarios::fauna::{meta, shape};
use serde_json::json;

use super::errors::open_too_old;
use super::{Fauna, LineConn, PROMPT, clip, data_ids, fixed_property, is_event_of, never};
use crate::checks::case::or_stop;
use crate::checks::generated_property;
use crate::client::fauna as client;
use crate::property::CaseOutcome;
use crate::record::HttpResponse;
use crate::runner::CheckContext;
use crate::transport::Events;

/// Findings unless a start was refused: an HTTP 4xx, or an error event
/// before any data event; with `codes`, one naming one of them.
async fn expect_refusal(
    what: &str,
    opened: Result<LineConn, HttpResponse>,
    codes: Option<&[&str]>,
) -> Vec<Finding> {
    let named = |code: &str| codes.is_none_or(|codes| codes.contains(&code));
    let codes = codes.unwrap_or(&["any code"]);
    let mut stream = match opened {
        Err(response) => {
            let body = response.json().unwrap_or_default();
            let code = body["error"]["code"].as_str().unwrap_or("");
            if (400..500).contains(&response.status) && named(code) {
                return Vec::new();
            }
            return vec![
                Finding::new(
                    "start-time",
                    format!(
                        "{what} was answered {} with code {code:?}, not a 4xx with {codes:?}",
                        response.status
                    ),
                )
                .with_evidence(json!({"status": response.status, "body": clip(&response.body)})),
            ];
        }
        Ok(stream) => stream,
    };
    let events = stream
        .read_until(PROMPT, 16, |e| e["type"] == "error" || shape::is_data(e))
        .await;
    match events.last() {
        Some(event) if shape::is_data(event) => vec![
            Finding::new(
                "start-time",
                format!(
                    "{what} was accepted: the stream replayed a {} event",
                    event["type"]
                ),
            )
            .with_evidence(event.clone()),
        ],
        Some(event) if event["type"] == "error" => {
            let code = event["error"]["code"].as_str().unwrap_or("");
            if named(code) {
                Vec::new()
            } else {
                vec![
                    Finding::new(
                        "start-time",
                        format!("{what} ended with the error {code:?}, not one of {codes:?}"),
                    )
                    .with_evidence(event.clone()),
                ]
            }
        }
        _ => vec![Finding::new(
            "start-time",
            format!("{what} was accepted: the stream opened with no error event in {PROMPT:?}"),
        )],
    }
}

/// Reads a stream up to the event of document `last`; the data events' ids.
async fn ids_until(stream: &mut LineConn, last: &str) -> Vec<String> {
    let events = stream
        .read_until(PROMPT, 64, |e| is_event_of(e, last))
        .await;
    data_ids(&events)
}

/// A finding unless `got` is `want`.
fn compare_ids(what: &str, want: &[String], got: &[String]) -> Vec<Finding> {
    if want == got {
        return Vec::new();
    }
    let kind = match (want.first(), got.first()) {
        (_, Some(first)) if !want.contains(first) => "not-strictly-after",
        _ if got.len() < want.len() => "lost",
        _ => "resume-mismatch",
    };
    vec![
        Finding::new(kind, format!("{what} delivered {got:?}, not {want:?}"))
            .with_evidence(json!({"expected": want, "delivered": got})),
    ]
}

/// A plan from a saved report may be edited by hand: its resume point must be one of its events.
fn check_plan(plan: ResumePlan) -> Result<(), String> {
    if plan.at < plan.events && plan.events <= 64 {
        Ok(())
    } else {
        Err(format!(
            "the plan {plan:?} resumes outside its 1 to 64 events"
        ))
    }
}

generated_property!(
    CursorResume,
    meta::CURSOR_RESUME,
    ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.clamp(1, 6),
    skip: never,
    run: cursor_case
);

async fn cursor_case(ctx: CheckContext, plan: ResumePlan) -> Result<CaseOutcome, String> {
    check_plan(plan)?;
    let fauna = Fauna::new(&ctx);
    let collection = fauna.collection("cursor", None).await?;
    let (token, _) = fauna
        .token(&format!("{collection}.all().eventSource()"))
        .await?;
    let docs = fauna.creates(&collection, plan.events).await?;
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
    let last = ids.last().cloned().unwrap_or_default();
    let events = stream
        .read_until(PROMPT, 64, |e| is_event_of(e, &last))
        .await;
    drop(stream);
    let Some(cursor) = events
        .iter()
        .find(|e| is_event_of(e, &ids[plan.at]))
        .and_then(client::cursor)
    else {
        return fauna.done(vec![Finding::new(
            "lost",
            format!(
                "the replay did not deliver the event of {} with a cursor",
                ids[plan.at]
            ),
        )]);
    };
    let mut resumed = or_stop!(
        fauna,
        fauna.stream(&client::stream(&token, Some(cursor))).await
    );
    let sentinel = fauna
        .create(&collection, &json!({ "n": "sentinel" }))
        .await?;
    let got = ids_until(&mut resumed, &sentinel.id).await;
    let mut want = ids[plan.at + 1..].to_vec();
    want.push(sentinel.id);
    let what = format!("resuming after event {} of {}", plan.at + 1, plan.events);
    fauna.done(compare_ids(&what, &want, &got))
}

fixed_property!(StatusCursor, meta::STATUS_CURSOR_RESUME, skip: Self::skip);

impl StatusCursor {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    /// A consumer reads one event, reconnects with its cursor and sees only
    /// the status event (nothing new): it is idle, and the newest cursor it
    /// holds is that status event's. Two writes happen while it is away; it
    /// resumes from the status cursor and must get exactly those, then the
    /// sentinel, and not the event it had already read.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("idle", None).await?;
        let (token, _) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        let seen = fauna.create(&collection, &json!({ "n": 0 })).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let events = stream
            .read_until(PROMPT, 16, |e| is_event_of(e, &seen.id))
            .await;
        drop(stream);
        let Some(cursor) = events
            .iter()
            .find(|e| is_event_of(e, &seen.id))
            .and_then(client::cursor)
        else {
            return fauna.done(vec![Finding::new(
                "lost",
                format!(
                    "the stream did not deliver the event of {} with a cursor",
                    seen.id
                ),
            )]);
        };
        let mut idle = or_stop!(
            fauna,
            fauna.stream(&client::stream(&token, Some(cursor))).await
        );
        let first = idle.next_event(PROMPT).await;
        drop(idle);
        let status_cursor = first
            .as_ref()
            .filter(|e| e["type"] == "status")
            .and_then(client::cursor)
            .map(str::to_owned);
        let Some(status_cursor) = status_cursor else {
            let finding = Finding::new(
                "no-status",
                "a stream resumed with nothing new did not open with a status event carrying a cursor",
            )
            .with_evidence(json!({ "first": first }));
            return fauna.done(vec![finding]);
        };
        let missed = fauna.creates(&collection, 2).await?;
        let mut resumed = or_stop!(
            fauna,
            fauna
                .stream(&client::stream(&token, Some(&status_cursor)))
                .await
        );
        let sentinel = fauna
            .create(&collection, &json!({ "n": "sentinel" }))
            .await?;
        let got = ids_until(&mut resumed, &sentinel.id).await;
        let mut want: Vec<String> = missed.into_iter().map(|w| w.id).collect();
        want.push(sentinel.id);
        fauna.done(compare_ids(
            "resuming from an idle stream's status cursor",
            &want,
            &got,
        ))
    }
}

generated_property!(
    StartTs,
    meta::START_TS_REPLAY,
    ResumePlan,
    strategy: resume_plan(),
    cases: |requested| requested.clamp(1, 6),
    skip: never,
    run: start_ts_case
);

async fn start_ts_case(ctx: CheckContext, plan: ResumePlan) -> Result<CaseOutcome, String> {
    check_plan(plan)?;
    let fauna = Fauna::new(&ctx);
    let collection = fauna.collection("start", None).await?;
    let (token, _) = fauna
        .token(&format!("{collection}.all().eventSource()"))
        .await?;
    let docs = fauna.creates(&collection, plan.events).await?;
    let start = docs[plan.at].txn_ts;
    let body = json!({ "token": token, "start_ts": start });
    let mut stream = or_stop!(fauna, fauna.stream(&body).await);
    let sentinel = fauna
        .create(&collection, &json!({ "n": "sentinel" }))
        .await?;
    let got = ids_until(&mut stream, &sentinel.id).await;
    let mut want: Vec<String> = docs
        .iter()
        .filter(|d| d.txn_ts > start)
        .map(|d| d.id.clone())
        .collect();
    want.push(sentinel.id);
    let what = format!(
        "start_ts {start} (the txn_ts of write {} of {})",
        plan.at + 1,
        plan.events
    );
    fauna.done(compare_ids(&what, &want, &got))
}

fixed_property!(StartTsWithCursor, meta::START_TS_WITH_CURSOR, skip: Self::skip);

impl StartTsWithCursor {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("both", None).await?;
        let (token, at) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        let doc = fauna.create(&collection, &json!({ "n": 1 })).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let events = stream
            .read_until(PROMPT, 16, |e| is_event_of(e, &doc.id))
            .await;
        drop(stream);
        let Some(cursor) = events.iter().rev().find_map(|e| e["cursor"].as_str()) else {
            return fauna.done(vec![Finding::new(
                "lost",
                format!("the stream gave no event with a cursor in {PROMPT:?}"),
            )]);
        };
        let body = json!({ "token": token, "cursor": cursor, "start_ts": at });
        let (status, text) = match fauna.stream_as(Some(fauna.secret()), &body).await? {
            Ok(_) => {
                let finding = Finding::new(
                    "start-ts-with-cursor",
                    "POST /stream/1 with both start_ts and cursor opened a stream instead of answering 400 invalid_request",
                )
                .with_evidence(body);
                return fauna.done(vec![finding]);
            }
            Err(response) => (response.status, response.body),
        };
        // The seed says only that the two are mutually exclusive: any 4xx
        // refuses. Fauna's own answer, 400 invalid_request, is a note.
        let evidence = json!({"status": status, "body": clip(&text)});
        if !(400..500).contains(&status) {
            let finding = Finding::new(
                "start-ts-with-cursor",
                format!("POST /stream/1 with both start_ts and cursor answered {status}, not a 4xx refusal"),
            )
            .with_evidence(evidence);
            return fauna.done(vec![finding]);
        }
        let findings = shape::error_answer_problems(status, &text, 400, "invalid_request")
            .into_iter()
            .map(|problem| {
                Finding::new(
                    "fauna-service",
                    format!("POST /stream/1 with both start_ts and cursor {problem} (Fauna's service answers 400 invalid_request)"),
                )
                .with_evidence(evidence.clone())
                .informational()
            })
            .collect();
        fauna.done(findings)
    }
}

fixed_property!(StartTooOld, meta::START_TOO_OLD, skip: Self::skip);

impl StartTooOld {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let findings = too_old_findings(&fauna, false).await?;
        fauna.done(findings)
    }
}

/// Opens a stream at a `start_ts` before its token, then one before its
/// collection's history window; findings unless both are refused, and with
/// `codes` unless with the service's codes (`fauna/resume/start-too-old-code`).
pub(super) async fn too_old_findings(fauna: &Fauna, codes: bool) -> Result<Vec<Finding>, String> {
    let collection = fauna.collection("early", None).await?;
    let (token, at) = fauna
        .token(&format!("{collection}.all().eventSource()"))
        .await?;
    fauna.create(&collection, &json!({ "n": 1 })).await?;
    let before = json!({ "token": token, "start_ts": at.saturating_sub(1_000_000) });
    let opened = fauna.stream_as(Some(fauna.secret()), &before).await?;
    let mut findings = expect_refusal(
        "a start_ts one second before the token was made",
        opened,
        codes.then_some(&["invalid_stream_start_time", "invalid_request"][..]),
    )
    .await;
    let (opened, _) = open_too_old(fauna).await?;
    findings.extend(
        expect_refusal(
            "a start_ts before the history window of a collection with history_days 0",
            opened,
            codes.then_some(&["invalid_stream_start_time"][..]),
        )
        .await,
    );
    Ok(findings)
}
