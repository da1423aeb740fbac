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
    Fibric, PROMPT, deliveries, fixed_property, generated_property, needs_producer, read_until,
    read_until_or_idle, spec,
};
use crate::checks::case::{Stop, or_stop};
use crate::checks::cuts::fault_proxy;
use crate::property::CaseOutcome;
use crate::proxy::Proxy;
use crate::proxy::framing::Framing;
use crate::runner::CheckContext;
use scenarios::cuts::{CutsPlan, cuts_plan};

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
    let query = "event_type=harness.cuts";
    // A marker gives the first connection a position to resume from.
    let marker = spec("harness.cuts", "harness");
    let mut direct = or_stop!(fibric, fibric.open_ok(0, query, None).await);
    fibric.publish(&[(0, 0, &marker)]).await?;
    let marker_events = read_until_or_idle(&mut direct, &fibric.event_id(0), 2, PROMPT).await;
    let Some(first) = marker_events.first().cloned() else {
        return fibric.done(vec![Finding::new(
            "unseen",
            "the marker envelope never arrived",
        )]);
    };
    let mut connections = vec![Connection {
        conn: direct.conn,
        start: Start::Live,
        delivered: deliveries(&marker_events),
    }];
    drop(direct);
    let proxy = fault_proxy(fibric.base(), &plan.cuts, Framing::Sse, &fibric.recorder).await?;
    let envelope = spec("harness.cuts", "harness");
    let through = Through {
        fibric: &fibric,
        proxy: &proxy,
        query,
        envelope: &envelope,
    };
    let (reconnects, newest) =
        or_stop!(fibric, through.reconnects(&plan, first.last_event_id).await);
    connections.extend(reconnects);
    let all: Vec<(usize, &EnvelopeSpec)> = (0..=newest).map(|k| (k, &envelope)).collect();
    let observation = Observation {
        promise: Promise::AT_LEAST_ONCE_ORDERED,
        expected: fibric.expected(&all),
        published: (0..=newest).map(|k| fibric.event_id(k)).collect(),
        connections,
        complete: true,
    };
    fibric.done(delivery::check(&observation))
}

/// The stream read through the fault proxy.
struct Through<'a> {
    fibric: &'a Fibric,
    proxy: &'a Proxy,
    query: &'a str,
    envelope: &'a EnvelopeSpec,
}

impl Through<'_> {
    /// Reconnects after `last` again and again, each connection reading up
    /// to the last envelope published or its cut, until one reads to the end;
    /// what each delivered and the number of the last envelope published, or
    /// a finding when a reconnect is refused.
    ///
    /// Each connection publishes two fences once open and reads up to the
    /// second: a server that drops the first envelope after a resume point
    /// (even when nothing else is pending) still delivers a sentinel, so the
    /// case ends there instead of at a timeout.
    async fn reconnects(
        &self,
        plan: &CutsPlan,
        mut last: String,
    ) -> Result<(Vec<Connection>, usize), Stop> {
        let fibric = self.fibric;
        let items: Vec<(usize, usize, &EnvelopeSpec)> = (1..=plan.published)
            .map(|k| (0, k, self.envelope))
            .collect();
        if plan.before {
            fibric.publish(&items).await?;
        }
        let mut published = plan.before;
        let mut connections = Vec::new();
        let mut newest = plan.published;
        for attempt in 0..plan.cuts.len() + 2 {
            let base = self.proxy.base_url();
            let opened = match fibric
                .open(&base, Some(fibric.key(0)), self.query, Some(&last))
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
                    let answered = format!("{} {}", response.status, response.body);
                    let problem = format!("reconnect {attempt} answered {answered}");
                    return Err(Finding::new("status", problem).into());
                }
            };
            if !published {
                fibric.publish(&items).await?;
                published = true;
            }
            fibric
                .publish(&[
                    (0, newest + 1, self.envelope),
                    (0, newest + 2, self.envelope),
                ])
                .await?;
            newest += 2;
            let start_id = last.clone();
            // The last published envelope is the sentinel: read up to it or the cut.
            let sentinel = fibric.event_id(newest);
            let max = 2 * newest + 2;
            let events = read_until(&mut stream, &sentinel, max, PROMPT).await;
            let got_sentinel = events.iter().any(|e| {
                serde_json::from_str::<serde_json::Value>(&e.data)
                    .is_ok_and(|v| v["event_id"] == sentinel)
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
        Ok((connections, newest))
    }
}

fixed_property!(SlowConsumer, meta::SLOW_CONSUMER, skip: Self::skip);

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
        let mut healthy = or_stop!(
            fibric,
            fibric.open_ok(0, "event_type=harness.slow", None).await
        );
        let filler = "x".repeat(Self::PAYLOAD);
        let mut findings = Vec::new();
        let mut received = 0;
        for batch in 0..Self::ENVELOPES / 16 {
            let envelopes: Vec<serde_json::Value> = (0..16)
                .map(|k| json!({"tenant_id": fibric.tenant(0), "event_id": fibric.event_id(batch * 16 + k), "event_type": "harness.slow", "source": "harness", "payload": {"fill": filler}}))
                .collect();
            fibric.send(envelopes).await?;
            // The healthy consumer must keep up while the other one stalls.
            // Sixteen frames, or until the stream idles (a server that lost
            // some): counted, not read up to the last, whose order is
            // another check's business.
            received += read_until_or_idle(&mut healthy, "", 16, PROMPT).await.len();
            if received < (batch + 1) * 16 {
                findings.push(Finding::new(
                    "starved",
                    format!("with one consumer stalled, the other had {received} of {} envelopes after {PROMPT:?}", (batch + 1) * 16),
                ));
                break;
            }
        }
        if !findings.is_empty() {
            // The healthy consumer starved: the check has failed already.
            return fibric.done(findings);
        }
        // The server has had the stalled connection's buffers full for a while;
        // give it the target's own time to cut it, then see what it sent.
        tokio::time::sleep(ctx.patience).await;
        let total = Self::ENVELOPES * Self::PAYLOAD;
        let (drained, ended) = drain(&mut stalled, total).await;
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
        fibric.done(findings)
    }
}

/// Reads what a stalled connection was sent, up to `limit` bytes or 10 s:
/// how much, and why it ended, if it did.
async fn drain(stalled: &mut tokio::net::TcpStream, limit: usize) -> (usize, Option<String>) {
    let mut drained = 0usize;
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while drained <= limit && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), stalled.read(&mut buffer)).await {
            Ok(Ok(0)) => return (drained, Some("end of stream".to_owned())),
            Ok(Ok(n)) => drained += n,
            Ok(Err(error)) => return (drained, Some(error.to_string())),
            Err(_) => break,
        }
    }
    (drained, None)
}
