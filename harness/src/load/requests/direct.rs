//! The direct engine of the request load: each user one HTTP/1.1 connection on hyper's connection API, sending the plan's requests in turn, back to back.
//!
//! A request's method, path, headers and body are built once per endpoint;
//! each send clones them (a few reference counts and a small header map). An
//! answer is timed from the send to its head, then its body is read to the
//! end. A user whose connection fails counts the request as failed, waits a
//! moment (so a target that is down gets no busy loop) and connects again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, Uri, header};
use hyper_util::rt::TokioIo;
use indexmap::IndexMap;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::super::report::{Endpoint as Figures, Latency, RequestLoad};
use super::super::stats::{self, Stats};
use super::{Endpoint, Plan, seconds};

/// How long one request may take, as goose's client allows.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a user waits before connecting again after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// One endpoint's request, built once, and what its answers came to.
#[derive(Debug)]
struct Prepared {
    name: &'static str,
    method: hyper::Method,
    /// The path as the report shows it (without the base's own path).
    path: String,
    uri: Uri,
    headers: hyper::HeaderMap,
    body: Bytes,
    tally: Mutex<Tally>,
}

/// What one endpoint's answers came to.
#[derive(Debug)]
struct Tally {
    latency: hdrhistogram::Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    successes: u64,
    failures: u64,
}

/// Runs `plan.users` users until `plan.duration` (whole seconds) is over.
pub async fn run(plan: Plan, stats: Arc<Stats>) -> Result<RequestLoad, String> {
    let (authority, prefix) = split_base(&plan.base)?;
    let prepared: Arc<Vec<Prepared>> = Arc::new(
        plan.endpoints
            .iter()
            .map(|e| prepare(e, &authority, &prefix))
            .collect::<Result<_, _>>()?,
    );
    let seconds = seconds(plan.duration);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let users: Vec<_> = (0..plan.users)
        .map(|user| {
            let (prepared, stats, authority) =
                (Arc::clone(&prepared), Arc::clone(&stats), authority.clone());
            tokio::spawn(drive(user as usize, authority, prepared, stats, deadline))
        })
        .collect();
    for user in users {
        user.await
            .map_err(|e| format!("a request user failed: {e}"))?;
    }
    Ok(summary(&prepared, plan.users, seconds))
}

/// `http://host:port/prefix` as the authority to connect to and the path prefix.
fn split_base(base: &str) -> Result<(String, String), String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base}: the direct engine speaks plain http:// only"))?;
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_end_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    Ok((authority.to_owned(), prefix))
}

fn prepare(endpoint: &Endpoint, authority: &str, prefix: &str) -> Result<Prepared, String> {
    let uri: Uri = format!("{prefix}{}", endpoint.path)
        .parse()
        .map_err(|e| format!("{}: {e}", endpoint.path))?;
    let mut headers = hyper::HeaderMap::new();
    let value = |text: &str| {
        header::HeaderValue::from_str(text).map_err(|e| format!("{}: {e}", endpoint.name))
    };
    headers.insert(header::HOST, value(authority)?);
    if let Some(token) = &endpoint.bearer {
        headers.insert(header::AUTHORIZATION, value(&format!("Bearer {token}"))?);
    }
    let body = match &endpoint.body {
        Some(body) => {
            headers.insert(header::CONTENT_TYPE, value("application/json")?);
            Bytes::from(serde_json::to_vec(body).map_err(|e| e.to_string())?)
        }
        None => Bytes::new(),
    };
    Ok(Prepared {
        name: endpoint.name,
        method: endpoint.method.clone(),
        path: endpoint.path.clone(),
        uri,
        headers,
        body,
        tally: Mutex::new(Tally {
            latency: stats::histogram(),
            statuses: BTreeMap::new(),
            successes: 0,
            failures: 0,
        }),
    })
}

/// One user: connects, sends the endpoints' requests in turn (starting at
/// its own offset, so users spread over them) until the deadline.
async fn drive(
    user: usize,
    authority: String,
    prepared: Arc<Vec<Prepared>>,
    stats: Arc<Stats>,
    deadline: Instant,
) {
    let mut turn = user;
    while Instant::now() < deadline {
        let Ok(mut sender) = connect(&authority).await else {
            stats.count("request_errors", 1);
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        while Instant::now() < deadline {
            let endpoint = &prepared[turn % prepared.len()];
            turn += 1;
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, send(&mut sender, endpoint));
            let Ok(Ok((status, took))) = answer.await else {
                stats.count("request_errors", 1);
                lock(&endpoint.tally).failures += 1;
                tokio::time::sleep(RECONNECT_PAUSE).await;
                break;
            };
            let success = (200..300).contains(&status);
            if success {
                stats.record("request", took);
                stats.count("requests", 1);
            } else {
                stats.count("request_errors", 1);
            }
            let mut tally = lock(&endpoint.tally);
            *tally.statuses.entry(status).or_default() += 1;
            if success {
                tally.successes += 1;
                tally
                    .latency
                    .saturating_record(took.as_micros().max(1) as u64);
            } else {
                tally.failures += 1;
            }
        }
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new connection to `authority`, its driver spawned.
async fn connect(authority: &str) -> Result<http1::SendRequest<Full<Bytes>>, String> {
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    let address = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request; its status and the time to its head, once its body is read.
async fn send(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    endpoint: &Prepared,
) -> Result<(u16, Duration), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let mut request = Request::new(Full::new(endpoint.body.clone()));
    *request.method_mut() = endpoint.method.clone();
    *request.uri_mut() = endpoint.uri.clone();
    *request.headers_mut() = endpoint.headers.clone();
    let sent = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let took = sent.elapsed();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame.map_err(|e| e.to_string())?;
    }
    Ok((status, took))
}

/// `load.json`'s `requests`: the figures per endpoint.
fn summary(prepared: &[Prepared], users: u32, seconds: u64) -> RequestLoad {
    let mut endpoints = IndexMap::new();
    for endpoint in prepared {
        let tally = lock(&endpoint.tally);
        let total = tally.successes + tally.failures;
        let figures = Figures {
            latency: Latency::of(&tally.latency),
            method: endpoint.method.as_str().to_owned(),
            path: endpoint.path.clone(),
            successes: tally.successes,
            failures: tally.failures,
            rate: (total as f64 / seconds as f64 * 1000.0).round() / 1000.0,
            status_codes: tally
                .statuses
                .iter()
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
        };
        endpoints.insert(endpoint.name.to_owned(), figures);
    }
    RequestLoad {
        engine: "direct".to_owned(),
        users,
        seconds,
        endpoints,
        goose_reports: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_splits_into_where_to_connect_and_the_path_before_every_endpoint() {
        let split = |base| split_base(base).unwrap();
        assert_eq!(
            split("http://127.0.0.1:80"),
            ("127.0.0.1:80".into(), "".into())
        );
        assert_eq!(split("http://h:1/"), ("h:1".into(), "".into()));
        assert_eq!(
            split("http://h:1/api/v2/"),
            ("h:1".into(), "/api/v2".into())
        );
        assert!(split_base("https://h:1").is_err());
    }
}
