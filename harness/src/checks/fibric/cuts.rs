//! Fibric checks that need the network to misbehave: cuts by the fault proxy, and a consumer that stops reading.

use std::time::Duration;

use scenarios::Finding;
use scenarios::delivery::{self, Connection, Observation, Promise, Start};
use scenarios::fibric::meta;
use scenarios::fibric::plans::EnvelopeSpec;
use scenarios::transcript::Observed;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    Fibric, PROMPT, deliveries, done, fixed_property, generated_property, needs_producer,
    read_events, read_until, spec,
};
use crate::checks::{CutsPlan, cuts_plan};
use crate::property::CaseOutcome;
use crate::proxy::framing::Framing;
use crate::proxy::schedule::{ConnPlan, Schedule, Selector};
use crate::proxy::{self, FaultLog};
use crate::runner::CheckContext;

generated_property!(Cuts, meta::CUTS, CutsPlan,
    strategy: cuts_plan(10),
    cases: |requested| requested.div_ceil(2),
    skip: plain_http_with_producer,
    run: cuts_case);

/// The proxy and the stalled consumer speak plain TCP, and the check publishes.
fn plain_http_with_producer(ctx: &CheckContext) -> Option<String> {
    if ctx.target.base_url().starts_with("https://") {
        return Some("the fault proxy and the stalled consumer speak plain TCP; an https:// target needs its own TLS front".to_owned());
    }
    needs_producer(ctx)
}

async fn cuts_case(ctx: CheckContext, plan: CutsPlan) -> Result<CaseOutcome, String> {
    let fibric = Fibric::new(&ctx);
    let envelope = spec("harness.cuts", "harness");
    let query = "event_type=harness.cuts";
    // A marker gives the first connection a position to resume from.
    let marker = spec("harness.cuts", "harness");
    let mut direct = match fibric.open_ok(0, query, None).await {
        Ok(stream) => stream,
        Err(problem) => return done(fibric, vec![Finding::new("status", problem)]),
    };
    fibric.publish(&[(0, 0, &marker)]).await?;
    let marker_events = read_events(&mut direct, 1, PROMPT).await;
    let Some(first) = marker_events.first().cloned() else {
        return done(
            fibric,
            vec![Finding::new("unseen", "the marker envelope never arrived")],
        );
    };
    let mut connections = vec![Connection {
        conn: direct.conn,
        start: Start::Live,
        delivered: deliveries(&marker_events),
    }];
    drop(direct);
    let upstream = reqwest::Url::parse(fibric.base())
        .ok()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        })
        .ok_or("the target URL has no host and port")?;
    let schedule = Schedule {
        rules: plan
            .cuts
            .iter()
            .enumerate()
            .map(|(i, cut)| {
                (
                    Selector::Conn(i as u32 + 1),
                    ConnPlan {
                        cut: Some(*cut),
                        ..ConnPlan::default()
                    },
                )
            })
            .collect(),
    };
    fibric.recorder.note(format!("fault schedule: {schedule}"));
    let proxy = proxy::start(
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        upstream,
        schedule,
        Framing::Sse,
        FaultLog::Recorder(fibric.recorder.clone()),
    )
    .await
    .map_err(|e| format!("starting the fault proxy: {e}"))?;
    let items: Vec<(usize, usize, &EnvelopeSpec)> =
        (1..=plan.published).map(|k| (0, k, &envelope)).collect();
    if plan.before {
        fibric.publish(&items).await?;
    }
    let mut last = first.last_event_id.clone();
    let mut published = plan.before;
    for attempt in 0..plan.cuts.len() + 2 {
        let opened = match fibric
            .open(&proxy.base_url(), Some(fibric.key(0)), query, Some(&last))
            .await
        {
            Ok(opened) => opened,
            // A reset can land before the client has read the response head:
            // a connection that delivered nothing, so reconnect, as a client would.
            Err(error) => {
                fibric.recorder.note(format!(
                    "reconnect {attempt} ended before its response head: {error}"
                ));
                continue;
            }
        };
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(response) => {
                let finding = Finding::new(
                    "status",
                    format!(
                        "reconnect {attempt} answered {} {}",
                        response.status, response.body
                    ),
                );
                return done(fibric, vec![finding]);
            }
        };
        if !published {
            fibric.publish(&items).await?;
            published = true;
        }
        let start_id = last.clone();
        // The last published envelope is the sentinel: read up to it or the cut.
        let events = read_until(
            &mut stream,
            &fibric.event_id(plan.published),
            2 * plan.published + 2,
            PROMPT,
        )
        .await;
        let got_sentinel = events.iter().any(|e| {
            serde_json::from_str::<serde_json::Value>(&e.data)
                .is_ok_and(|v| v["event_id"] == fibric.event_id(plan.published))
        });
        if let Some(event) = events.last() {
            last = event.last_event_id.clone();
        }
        connections.push(Connection {
            conn: stream.conn,
            start: Start::After(start_id),
            delivered: deliveries(&events),
        });
        if got_sentinel || stream.closed.is_none() {
            break;
        }
    }
    let all: Vec<(usize, &EnvelopeSpec)> = (0..=plan.published).map(|k| (k, &envelope)).collect();
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..=plan.published).map(|k| fibric.event_id(k)).collect(),
        connections,
        complete: true,
    };
    done(fibric, delivery::check(&observation))
}

fixed_property!(SlowConsumer, meta::SLOW_CONSUMER);

impl SlowConsumer {
    /// Envelopes published while one consumer stalls; with a 64 KiB payload
    /// each, well past any socket buffering on the way.
    const ENVELOPES: usize = 256;
    const PAYLOAD: usize = 64 * 1024;

    fn skip(ctx: &CheckContext) -> Option<String> {
        if ctx.target.base_url().starts_with("https://") {
            return Some(
                "the stalled consumer is a raw TCP connection; an https:// target needs TLS"
                    .to_owned(),
            );
        }
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fibric = Fibric::new(&ctx);
        let url = reqwest::Url::parse(fibric.base()).map_err(|e| e.to_string())?;
        let host = url
            .host_str()
            .ok_or("the target URL has no host")?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or("the target URL has no port")?;
        // The stalled consumer asks for the stream and never reads.
        let mut stalled = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let request = format!(
            "GET {}/v1/events/stream?event_type=harness.slow HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
            url.path().trim_end_matches('/'),
            fibric.key(0)
        );
        stalled
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("writing: {e}"))?;
        fibric
            .recorder
            .note("a raw connection asked for the stream and stops reading");
        let mut healthy = match fibric.open_ok(0, "event_type=harness.slow", None).await {
            Ok(stream) => stream,
            Err(problem) => return done(fibric, vec![Finding::new("status", problem)]),
        };
        let filler = "x".repeat(Self::PAYLOAD);
        let mut findings = Vec::new();
        let mut received = 0;
        for batch in 0..Self::ENVELOPES / 16 {
            let envelopes: Vec<serde_json::Value> = (0..16)
                .map(|k| json!({"tenant_id": fibric.tenant(0), "event_id": fibric.event_id(batch * 16 + k), "event_type": "harness.slow", "source": "harness", "payload": {"fill": filler}}))
                .collect();
            fibric.send(envelopes).await?;
            // The healthy consumer must keep up while the other one stalls.
            received += read_events(&mut healthy, 16, PROMPT).await.len();
            if received < (batch + 1) * 16 {
                findings.push(Finding::new(
                    "starved",
                    format!("with one consumer stalled, the other had {received} of {} envelopes after {PROMPT:?}", (batch + 1) * 16),
                ));
                break;
            }
        }
        // The server has had the stalled connection's buffers full for a while;
        // give it the target's own time to cut it, then see what it sent.
        tokio::time::sleep(ctx.patience).await;
        let total = Self::ENVELOPES * Self::PAYLOAD;
        let mut drained = 0usize;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut ended = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while drained <= total && tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(2), stalled.read(&mut buffer)).await {
                Ok(Ok(0)) => {
                    ended = Some("end of stream".to_owned());
                    break;
                }
                Ok(Ok(n)) => drained += n,
                Ok(Err(error)) => {
                    ended = Some(error.to_string());
                    break;
                }
                Err(_) => break,
            }
        }
        fibric.recorder.record(
            0,
            Observed::Note {
                text: format!("the stalled connection held {drained} bytes; ended: {ended:?}"),
            },
        );
        match ended {
            Some(_) if drained < total => {}
            _ => findings.push(
                Finding::new(
                    "not-disconnected",
                    format!(
                        "the consumer that stopped reading was not disconnected within {}: it still received {drained} bytes of the {total} published",
                        humantime::format_duration(ctx.patience)
                    ),
                )
                .with_evidence(json!({"drained": drained, "published_bytes": total})),
            ),
        }
        done(fibric, findings)
    }
}
