//! Fauna checks of error events: the replay limit, a stream ends after an error event, and the service's error-event shape.

use std::time::Duration;

use scenarios::Finding;
use scenarios::fauna::{meta, shape};
use serde_json::{Value, json};

use super::{Fauna, LineConn, PROMPT, Read, Written, fixed_property, never};
use crate::checks::case::{Stop, or_stop};
use crate::client::fauna as client;
use crate::property::CaseOutcome;
use crate::record::HttpResponse;
use crate::runner::CheckContext;
use crate::transport::Events;

/// Fauna's replay limit: a replay of more events than this is refused.
pub const REPLAY_LIMIT: usize = 128;

/// A collection with `history_days: 0`, a token, one document written after
/// it, and a stream opened at the token's time once that time has left the
/// (empty) history window. Returns the answer and the document.
pub async fn open_too_old(
    fauna: &Fauna,
) -> Result<(Result<LineConn, HttpResponse>, Written), String> {
    let collection = fauna.collection("brief", Some(0)).await?;
    let (token, at) = fauna
        .token(&format!("{collection}.all().eventSource()"))
        .await?;
    let doc = fauna.create(&collection, &json!({ "n": 1 })).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let opened = fauna
        .stream_as(
            Some(fauna.secret()),
            &json!({ "token": token, "start_ts": at }),
        )
        .await?;
    Ok((opened, doc))
}

/// The error event a stream started before its history window sends, if it
/// sends one (a server may refuse such a start with an HTTP error instead).
pub async fn too_old_error_event(fauna: &Fauna) -> Result<Option<Value>, String> {
    let (opened, _) = open_too_old(fauna).await?;
    let Ok(mut stream) = opened else {
        return Ok(None);
    };
    let events = stream
        .read_until(PROMPT, 16, |e| e["type"] == "error")
        .await;
    Ok(events.into_iter().find(|e| e["type"] == "error"))
}

/// Opens a stream with more than [`REPLAY_LIMIT`] events to replay.
async fn open_over_limit(fauna: &Fauna) -> Result<LineConn, Stop> {
    let collection = fauna.collection("flood", None).await?;
    let (token, _) = fauna
        .token(&format!("{collection}.all().eventSource()"))
        .await?;
    fauna.creates(&collection, REPLAY_LIMIT + 1).await?;
    fauna.stream(&client::stream(&token, None)).await
}

/// Reads a replay until its error event, the end, or the first status after data (live).
async fn read_replay(stream: &mut LineConn) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + 2 * PROMPT;
    while events.len() < 2 * REPLAY_LIMIT + 8 {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = stream.next_event(left).await else {
            break;
        };
        let live = event["type"] == "status" && events.iter().any(shape::is_data);
        let error = event["type"] == "error";
        events.push(event);
        if live || error {
            break;
        }
    }
    events
}

fixed_property!(ReplayLimit, meta::REPLAY_LIMIT, skip: Self::skip);

impl ReplayLimit {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let mut stream = or_stop!(fauna, open_over_limit(&fauna).await);
        let events = read_replay(&mut stream).await;
        let data = events.iter().filter(|e| shape::is_data(e)).count();
        let mut findings = Vec::new();
        if data > REPLAY_LIMIT {
            findings.push(Finding::new(
                "replay-limit",
                format!("the stream replayed {data} events, more than {REPLAY_LIMIT}"),
            ));
        }
        match events.iter().find(|e| e["type"] == "error") {
            None => findings.push(Finding::new(
                "replay-limit",
                format!(
                    "a replay of {} events sent no stream_replay_volume_exceeded error (it sent {data} data events)",
                    REPLAY_LIMIT + 1
                ),
            )),
            Some(error) if error["error"]["code"] != "stream_replay_volume_exceeded" => {
                findings.push(
                    Finding::new(
                        "replay-limit",
                        format!("the replay ended with the error {}, not stream_replay_volume_exceeded", error["error"]["code"]),
                    )
                    .with_evidence(error.clone()),
                );
            }
            Some(_) => {}
        }
        fauna.done(findings)
    }
}

/// Provokes an error event: a start before the history window gives one
/// cheaply, and a server that refuses that with an HTTP error gets a replay
/// over the limit. The stream it came on, and the event; `None` when neither
/// gave one.
async fn error_event(fauna: &Fauna) -> Result<Result<Option<(LineConn, Value)>, Stop>, String> {
    let mut stream = match open_too_old(fauna).await?.0 {
        Ok(stream) => stream,
        Err(_) => match open_over_limit(fauna).await {
            Ok(stream) => stream,
            Err(stop) => return Ok(Err(stop)),
        },
    };
    let events = read_replay(&mut stream).await;
    let error = events.into_iter().find(|e| e["type"] == "error");
    Ok(Ok(error.map(|error| (stream, error))))
}

/// What a check of error events says when the target gave none.
fn no_error_event() -> Finding {
    Finding::new(
        "no-error-event",
        "neither a start before the history window nor a replay over the limit gave an error event, so there was nothing to check",
    )
    .informational()
}

fixed_property!(ErrorEndsStream, meta::ERROR_ENDS_STREAM, skip: Self::skip);

impl ErrorEndsStream {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let Some((mut stream, error)) = or_stop!(fauna, error_event(&fauna).await?) else {
            return fauna.done(vec![no_error_event()]);
        };
        let mut findings = Vec::new();
        match stream.next_line(PROMPT).await {
            Read::Ended(_) => {}
            Read::Item(line) => findings.push(
                Finding::new(
                    "stream-continues",
                    "the stream sent another line after an error event",
                )
                .with_evidence(json!({
                    "error": error,
                    "next": String::from_utf8_lossy(line.bytes()),
                })),
            ),
            Read::Timeout => findings.push(
                Finding::new(
                    "stream-continues",
                    format!("the stream was still open {PROMPT:?} after an error event"),
                )
                .with_evidence(error),
            ),
        }
        fauna.done(findings)
    }
}

fixed_property!(ErrorEventShape, meta::ERROR_EVENT_SHAPE, skip: Self::skip);

impl ErrorEventShape {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    /// Provokes an error event as [`ErrorEndsStream`] does and holds it to
    /// the service's shape (stats, no cursor), beyond what `fauna/events/shape`
    /// asks of every error event.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let Some((_, error)) = or_stop!(fauna, error_event(&fauna).await?) else {
            return fauna.done(vec![no_error_event()]);
        };
        let findings = shape::error_event_problems(&error)
            .into_iter()
            .map(|problem| Finding::new("error-event", problem).with_evidence(error.clone()))
            .collect();
        fauna.done(findings)
    }
}

fixed_property!(StartTooOldCode, meta::START_TOO_OLD_CODE, skip: Self::skip);

impl StartTooOldCode {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let findings = super::resume::too_old_findings(&fauna, true).await?;
        fauna.done(findings)
    }
}
