//! Fauna checks of the wire: line format and content type, `status` first, event shapes, `txn_ts` order, auth.

use scenarios::Finding;
use scenarios::fauna::{meta, shape};
use serde_json::{Value, json};
use wire::jsonl::Terminator;

use super::{Fauna, PROMPT, Read, WRONG_SECRET, clip, fixed_property, is_event_of, never};
use crate::checks::case::or_stop;
use crate::client::fauna as client;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::Events;

fixed_property!(LineFormat, meta::LINE_FORMAT, skip: Self::skip);

impl LineFormat {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("lines", None).await?;
        let (token, _) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        fauna.creates(&collection, 2).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let mut findings = Vec::new();
        let content_type = stream.header("content-type").unwrap_or("").to_owned();
        if !shape::is_json_content_type(&content_type) {
            findings.push(Finding::new(
                "content-type",
                format!("/stream/1 answered Content-Type {content_type:?}, not a JSON type"),
            ));
        }
        // The status event and the two replayed adds.
        let mut lines = 0;
        while lines < 3 {
            match stream.next_line(PROMPT).await {
                Read::Item(line) => {
                    lines += 1;
                    let crlf = line.terminator() == Terminator::CrLf;
                    for problem in shape::line_problems(line.bytes(), crlf) {
                        findings.push(Finding::new("line-format", problem).with_evidence(
                            json!({ "line": String::from_utf8_lossy(line.bytes()), "crlf": crlf }),
                        ));
                    }
                }
                Read::Timeout => {
                    findings.push(Finding::new(
                        "lost",
                        format!("the stream sent {lines} line(s) of 3 (status and two adds) in {PROMPT:?}"),
                    ));
                    break;
                }
                Read::Ended(reason) => {
                    findings.push(Finding::new(
                        "stream-ended",
                        format!("the stream ended after {lines} line(s) of 3: {reason}"),
                    ));
                    break;
                }
            }
        }
        fauna.done(findings)
    }
}

fixed_property!(StatusFirst, meta::STATUS_FIRST, skip: Self::skip);

impl StatusFirst {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("status", None).await?;
        let (token, _) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        // An event waits to be replayed, so a server that skips the status
        // event sends this add first rather than nothing.
        fauna.creates(&collection, 1).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let mut findings = Vec::new();
        match stream.next_event(PROMPT).await {
            None => findings.push(Finding::new(
                "no-status",
                format!("the stream sent no event in {PROMPT:?}"),
            )),
            Some(first) if first["type"] != "status" => findings.push(
                Finding::new(
                    "no-status",
                    format!("the first event is {}, not status", first["type"]),
                )
                .with_evidence(first),
            ),
            Some(first) => {
                for problem in shape::event_problems(&first) {
                    findings
                        .push(Finding::new("status-shape", problem).with_evidence(first.clone()));
                }
            }
        }
        fauna.done(findings)
    }
}

fixed_property!(StatusKeepalive, meta::STATUS_KEEPALIVE, skip: Self::skip);

impl StatusKeepalive {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    /// A stream of a collection nobody writes to: after its first status
    /// event, only the periodic status can come, and nothing marks its end
    /// but the wait itself, so this check waits `--patience` at most.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("quiet", None).await?;
        let (token, _) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let patience = ctx.patience;
        let events = stream
            .read_until(PROMPT.max(patience), 4, |e| e["type"] == "status")
            .await;
        if events.iter().all(|e| e["type"] != "status") {
            return fauna.done(vec![Finding::new(
                "no-status",
                "the stream sent no status event when it opened",
            )]);
        }
        let next = stream
            .read_until(patience, 4, |e| e["type"] == "status")
            .await;
        if next.iter().any(|e| e["type"] == "status") {
            return fauna.done(Vec::new());
        }
        let ended = stream
            .closed
            .as_deref()
            .map(|r| format!(" (it ended: {r})"))
            .unwrap_or_default();
        let finding = Finding::new(
            "no-keepalive",
            format!(
                "an idle stream got no status event after its first in {}{ended} (Fauna's service sends one every 5 minutes: raise --patience for it)",
                humantime::format_duration(patience)
            ),
        )
        .with_evidence(json!({ "after_first": next }));
        fauna.done(vec![finding])
    }
}

/// Findings for every event whose shape is wrong.
fn shape_findings(events: &[Value]) -> Vec<Finding> {
    events
        .iter()
        .flat_map(|event| {
            shape::event_problems(event)
                .into_iter()
                .map(|problem| Finding::new("event-shape", problem).with_evidence(event.clone()))
        })
        .collect()
}

fixed_property!(EventShape, meta::EVENT_SHAPE, skip: Self::skip);

impl EventShape {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("shapes", None).await?;
        let (token, _) = fauna
            .token(&format!(
                "{collection}.where(.status == \"in\").eventSource()"
            ))
            .await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        // add, update, remove (updated out), add, remove (deleted).
        let a = fauna
            .create(&collection, &json!({"status": "in", "v": 1}))
            .await?;
        let updated = fauna.update(&collection, &a.id, &json!({"v": 2})).await?;
        let left = fauna
            .update(&collection, &a.id, &json!({"status": "out"}))
            .await?;
        let b = fauna
            .create(&collection, &json!({"status": "in", "v": 3}))
            .await?;
        let deleted = fauna.delete(&collection, &b.id).await?;
        let write_ts = [a.txn_ts, updated, left, b.txn_ts, deleted];
        let events = stream
            .read_until(PROMPT, 64, |e| {
                is_event_of(e, &b.id) && e["type"] == "remove"
            })
            .await;
        let mut findings = shape_findings(&events);
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| shape::is_data(e))
            .filter_map(|e| e["type"].as_str())
            .collect();
        if kinds == ["add", "update", "remove", "add", "remove"] {
            findings.extend(txn_ts_in_order(&events, &write_ts));
        } else {
            findings.push(
                Finding::new(
                    "events",
                    format!("the five writes gave the events {kinds:?}, not add, update, remove, add, remove"),
                )
                .with_evidence(json!(events)),
            );
        }
        drop(stream);
        // An error event, from a start before a collection's history window.
        if let Some(error) = super::errors::too_old_error_event(&fauna).await? {
            findings.extend(shape_findings(&[error]));
        }
        fauna.done(findings)
    }
}

fixed_property!(TxnTsOrder, meta::TXN_TS_ORDER, skip: Self::skip);

impl TxnTsOrder {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("order", None).await?;
        let (token, _) = fauna
            .token(&format!("{collection}.all().eventSource()"))
            .await?;
        // Three to replay, three live.
        let mut written = fauna.creates(&collection, 3).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        let live = fauna.creates(&collection, 3).await?;
        let last = live.last().map(|w| w.id.clone()).unwrap_or_default();
        written.extend(live);
        let events = stream
            .read_until(PROMPT, 64, |e| is_event_of(e, &last))
            .await;
        let mut findings = Vec::new();
        if !events.iter().any(|e| is_event_of(e, &last)) {
            findings.push(Finding::new(
                "lost",
                format!("the event of the last write ({last}) did not come in {PROMPT:?}"),
            ));
        }
        findings.extend(txn_ts_of_writes(&events, &written));
        for (index, previous, ts) in shape::txn_ts_backwards(&events) {
            findings.push(
                Finding::new(
                    "nonmonotonic",
                    format!(
                        "event {} has txn_ts {ts}, before the {previous} of an earlier event",
                        index + 1
                    ),
                )
                .with_evidence(events[index].clone()),
            );
        }
        fauna.done(findings)
    }
}

/// Findings for every data event whose `txn_ts` is not that of its write
/// (the `txn_ts` `/query/1` answered for the create).
fn txn_ts_of_writes(events: &[Value], written: &[super::Written]) -> Vec<Finding> {
    events
        .iter()
        .filter(|e| shape::is_data(e))
        .filter_map(|event| {
            let id = shape::document_id(event)?;
            let write = written.iter().find(|w| w.id == id)?;
            let ts = event["txn_ts"].as_u64();
            (ts != Some(write.txn_ts)).then(|| {
                Finding::new(
                    "txn-ts",
                    format!(
                        "the event of {id} has txn_ts {}, not {}, the txn_ts of its write",
                        event["txn_ts"], write.txn_ts
                    ),
                )
                .with_evidence(event.clone())
            })
        })
        .collect()
}

/// Findings for every data event whose `txn_ts` is not that of the write
/// at its place in `write_ts` (one write per data event, in order).
fn txn_ts_in_order(events: &[Value], write_ts: &[u64]) -> Vec<Finding> {
    events
        .iter()
        .filter(|e| shape::is_data(e))
        .zip(write_ts)
        .filter(|(event, want)| event["txn_ts"].as_u64() != Some(**want))
        .map(|(event, want)| {
            Finding::new(
                "txn-ts",
                format!(
                    "a {} event has txn_ts {}, not {want}, the txn_ts of its write",
                    event["type"], event["txn_ts"]
                ),
            )
            .with_evidence(event.clone())
        })
        .collect()
}

fixed_property!(Unauthorized, meta::UNAUTHORIZED, skip: Self::skip);

impl Unauthorized {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("auth", None).await?;
        let source = format!("{collection}.all().eventSource()");
        let (token, _) = fauna.token(&source).await?;
        let body = json!({ "token": token });
        let mut findings = Vec::new();
        for (who, secret) in [("no secret", None), ("a wrong secret", Some(WRONG_SECRET))] {
            let (status, text) = match fauna.stream_as(secret, &body).await? {
                Ok(stream) => (200, format!("(a stream: {:?})", stream.closed)),
                Err(response) => (response.status, response.body),
            };
            for problem in shape::error_answer_problems(status, &text, 401, "unauthorized") {
                findings.push(
                    Finding::new(
                        "unauthorized",
                        format!("POST /stream/1 with {who} {problem}"),
                    )
                    .with_evidence(json!({"status": status, "body": clip(&text)})),
                );
            }
            let response = fauna.query_as(secret, &source).await?;
            for problem in
                shape::error_answer_problems(response.status, &response.body, 401, "unauthorized")
            {
                findings.push(
                    Finding::new(
                        "unauthorized",
                        format!("POST /query/1 with {who} {problem}"),
                    )
                    .with_evidence(
                        json!({"status": response.status, "body": clip(&response.body)}),
                    ),
                );
            }
        }
        fauna.done(findings)
    }
}
