//! Tests of remote write: `le` labels, the series of a push, and a pusher against loopback receivers that accept, refuse, hang or are not there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::proto::{MetricType, WriteRequest};
use super::series::{self, Snapshot};
use super::{Pusher, le_label, redacted};
use crate::load::metrics::{self, Labels};
use crate::load::stats::{COUNTERS, HISTOGRAMS, Set};

/// How long a `push` may take: it must never wait for the network.
const PROMPT: Duration = Duration::from_millis(50);

fn labels() -> Labels {
    Labels {
        run: "01JRUN".to_owned(),
        shard: "1/2".to_owned(),
        api: "pulse".to_owned(),
        target: "http://pulse.test:8080".to_owned(),
    }
}

/// Totals of a run: `deliver` holds 3 × 1 µs, 5 × 1 ms and 50 minutes, `scale` times over.
fn totals(scale: u64) -> Set {
    let mut set = Set::default();
    let deliver = set.0.get_mut("deliver").expect("a histogram of every set");
    deliver.record_n(1, 3 * scale).unwrap();
    deliver.record_n(1_000, 5 * scale).unwrap();
    deliver.record_n(3_000_000_000, scale).unwrap();
    set
}

/// Every counter at `n`.
fn counters(n: u64) -> BTreeMap<&'static str, u64> {
    COUNTERS.iter().map(|(name, _)| (*name, n)).collect()
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The value of the one series named `name` whose labels include `with`.
fn value(request: &WriteRequest, name: &str, with: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = request
        .timeseries
        .iter()
        .filter(|series| {
            let has = |n: &str, v: &str| series.labels.iter().any(|l| l.name == n && l.value == v);
            has("__name__", name) && with.iter().all(|(n, v)| has(n, v))
        })
        .map(|series| series.samples[0].value)
        .collect();
    assert_eq!(found.len(), 1, "one series {name} {with:?}");
    found[0]
}

#[test]
fn le_labels_are_written_as_prometheus_writes_them() {
    for (bound, expected) in [
        (1e-6, "1e-06"),
        (2.5e-5, "2.5e-05"),
        (1e-4, "0.0001"),
        (0.5, "0.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0, "1.0"),
        (0.0, "0.0"),
        (10.0, "10.0"),
        (123_456.0, "123456.0"),
        (1_234_567.0, "1.234567e+06"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (5e-324, "5e-324"),
        (f64::INFINITY, "+Inf"),
    ] {
        assert_eq!(le_label(bound), expected, "{bound:e}");
    }
    let bounds = metrics::bounds();
    let le = series::le_labels();
    assert_eq!(le.len(), bounds.len() + 1);
    assert_eq!(
        (le[0].as_str(), le[bounds.len()].as_str()),
        ("1e-06", "+Inf")
    );
    for (bound, le) in bounds.iter().zip(&le) {
        assert_eq!(le.parse::<f64>().ok(), Some(*bound), "{le} reads back");
        assert_eq!(le.contains("e-"), *bound < 1e-4, "{le}");
    }
}

#[test]
fn a_push_is_sorted_series_with_cumulative_buckets_that_survive_encoding() {
    let unlabelled = Labels {
        target: String::new(),
        ..labels()
    };
    let snapshot = Snapshot::take(at(1_700_000_000_123), &totals(1), &counters(7));
    let request = series::write_request(&snapshot, &unlabelled, &series::le_labels());
    let body = series::encode(&request).unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap(), request);

    let per_histogram = metrics::bounds().len() + 1 + 2;
    assert_eq!(
        request.timeseries.len(),
        COUNTERS.len() + HISTOGRAMS.len() * per_histogram
    );
    for series in &request.timeseries {
        let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?} sorted");
        assert_eq!(names[0], "__name__");
        assert!(!names.contains(&"target"), "an empty value is no label");
        assert!(series.labels.iter().all(|l| !l.value.is_empty()));
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].timestamp, 1_700_000_000_123);
    }
    assert_eq!(value(&request, "harness_load_lost_total", &[]), 7.0);

    let deliver = [
        ("histogram", "deliver"),
        ("run", "01JRUN"),
        ("shard", "1/2"),
    ];
    let buckets: Vec<f64> = series::le_labels()
        .iter()
        .map(|le| {
            let with = [deliver.as_slice(), &[("le", le.as_str())]].concat();
            value(&request, "harness_load_latency_seconds_bucket", &with)
        })
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "cumulative");
    assert_eq!(buckets[0], 3.0, "1 µs is in the first bucket");
    let count = value(&request, "harness_load_latency_seconds_count", &deliver);
    assert_eq!(
        (buckets[buckets.len() - 1], count),
        (9.0, 9.0),
        "+Inf is the count"
    );
    let sum = value(&request, "harness_load_latency_seconds_sum", &deliver);
    assert!((sum / 3000.005 - 1.0).abs() < 1e-3, "sum {sum} s");

    let family = |name: &str| {
        request
            .metadata
            .iter()
            .find(|m| m.metric_family_name == name)
    };
    let latency = family("harness_load_latency_seconds").unwrap();
    assert_eq!(
        (latency.r#type, latency.unit.as_str()),
        (MetricType::Histogram as i32, "seconds")
    );
    assert_eq!(
        family("harness_load_lost").unwrap().r#type,
        MetricType::Counter as i32
    );
}

#[test]
fn a_password_in_the_url_is_not_reported() {
    assert_eq!(
        redacted("http://me:s3cret@host:9090/api/v1/write"),
        "http://me:***@host:9090/api/v1/write"
    );
    assert_eq!(
        redacted("http://host/api/v1/write"),
        "http://host/api/v1/write"
    );
}

/// How a test receiver answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// 204 No Content, as Prometheus.
    Accept,
    /// This status, with a body saying why.
    Refuse(u16),
    /// Accepts the connection and never reads or answers.
    Hang,
}

/// A push as a receiver got it: the request line and headers (names in
/// lower case, `:method` and `:path` for the request line), and the body
/// unsnappied and decoded.
#[derive(Debug)]
struct Received {
    headers: BTreeMap<String, String>,
    request: Result<WriteRequest, String>,
}

/// A remote-write receiver on loopback: its URL and what it receives.
async fn receiver(answer: Answer) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let (got, receiving) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, answer, got.clone()));
        }
    });
    (url, receiving)
}

/// Answers the requests of one kept-alive connection, in order.
async fn serve(mut stream: TcpStream, answer: Answer, got: mpsc::UnboundedSender<Received>) {
    if let Answer::Hang = answer {
        std::future::pending::<()>().await;
    }
    let mut buffer = Vec::new();
    while let Some((headers, body)) = read_request(&mut stream, &mut buffer).await {
        let request = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .map_err(|e| format!("not a snappy block: {e}"))
            .and_then(|raw| WriteRequest::decode(raw.as_slice()).map_err(|e| e.to_string()));
        let _ = got.send(Received { headers, request });
        let response = match answer {
            Answer::Refuse(status) => {
                let why = "out of order sample";
                format!(
                    "HTTP/1.1 {status} Refused\r\ncontent-length: {}\r\n\r\n{why}",
                    why.len()
                )
            }
            _ => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
        };
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// One HTTP/1.1 request with a `Content-Length`; `None` at the end of the connection.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(stream, buffer).await?;
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let mut headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    headers.insert(":method".to_owned(), start.next()?.to_owned());
    headers.insert(":path".to_owned(), start.next()?.to_owned());
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buffer.len() < head_end + length {
        fill(stream, buffer).await?;
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some((headers, body))
}

/// Reads what the stream has into `buffer`; `None` at its end.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await.ok()?;
    buffer.extend_from_slice(&chunk[..n]);
    (n > 0).then_some(())
}

/// Pushes and checks that each returned at once.
fn push_promptly(
    pusher: &Pusher,
    at: SystemTime,
    totals: &Set,
    counters: &BTreeMap<&'static str, u64>,
) {
    let started = Instant::now();
    pusher.push(at, totals, counters);
    let took = started.elapsed();
    assert!(took < PROMPT, "a push took {took:?}");
}

#[tokio::test]
async fn pushes_arrive_with_the_headers_the_token_and_growing_totals() {
    let (url, mut received) = receiver(Answer::Accept).await;
    let pusher = Pusher::start(url, Some("s3cret".to_owned()), labels());
    push_promptly(&pusher, at(1_700_000_000_000), &totals(1), &counters(1));
    push_promptly(&pusher, at(1_700_000_001_000), &totals(2), &counters(2));
    let summary = pusher.finish(Duration::from_secs(10)).await;
    assert_eq!(
        (summary.sent, summary.failed, summary.dropped),
        (2, 0, 0),
        "{summary:?}"
    );
    assert_eq!(summary.last_error, None);

    let first = received.recv().await.unwrap();
    let second = received.recv().await.unwrap();
    for (name, expected) in [
        (":method", "POST"),
        (":path", "/api/v1/write"),
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
        ("authorization", "Bearer s3cret"),
    ] {
        assert_eq!(
            first.headers.get(name).map(String::as_str),
            Some(expected),
            "{name}"
        );
    }
    assert!(first.headers["user-agent"].starts_with("harness/"));
    let (first, second) = (first.request.unwrap(), second.request.unwrap());
    let series = [
        ("histogram", "deliver"),
        ("le", "+Inf"),
        ("api", "pulse"),
        ("target", "http://pulse.test:8080"),
    ];
    let inf = "harness_load_latency_seconds_bucket";
    assert_eq!(
        (value(&first, inf, &series), value(&second, inf, &series)),
        (9.0, 18.0)
    );
    let published = "harness_load_published_total";
    assert_eq!(
        (
            value(&first, published, &[]),
            value(&second, published, &[])
        ),
        (1.0, 2.0)
    );
    assert_eq!(second.timeseries[0].samples[0].timestamp, 1_700_000_001_000);
}

#[tokio::test]
async fn without_a_token_there_is_no_authorization_header() {
    let (url, mut received) = receiver(Answer::Accept).await;
    let pusher = Pusher::start(url, None, labels());
    push_promptly(&pusher, at(1_700_000_000_000), &totals(1), &counters(1));
    assert_eq!(pusher.finish(Duration::from_secs(10)).await.sent, 1);
    let got = received.recv().await.unwrap();
    assert!(
        !got.headers.contains_key("authorization"),
        "{:?}",
        got.headers
    );
}

#[tokio::test]
async fn a_refusing_receiver_counts_failures_and_says_why() {
    let (url, mut received) = receiver(Answer::Refuse(500)).await;
    let pusher = Pusher::start(url, None, labels());
    for second in 0..3 {
        push_promptly(
            &pusher,
            at(1_700_000_000_000 + second * 1000),
            &totals(1),
            &counters(second),
        );
    }
    let summary = pusher.finish(Duration::from_secs(10)).await;
    assert_eq!(
        (summary.sent, summary.failed, summary.dropped),
        (0, 3, 0),
        "{summary:?}"
    );
    let error = summary.last_error.unwrap();
    assert!(
        error.contains("500") && error.contains("out of order sample"),
        "{error}"
    );
    for _ in 0..3 {
        received.recv().await.unwrap().request.unwrap();
    }
}

#[tokio::test]
async fn a_receiver_that_is_not_there_counts_failures() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    drop(listener);
    let pusher = Pusher::start(url, None, labels());
    push_promptly(&pusher, at(1_700_000_000_000), &totals(1), &counters(1));
    push_promptly(&pusher, at(1_700_000_001_000), &totals(1), &counters(1));
    let summary = pusher.finish(Duration::from_secs(10)).await;
    assert_eq!(
        (summary.sent, summary.failed, summary.dropped),
        (0, 2, 0),
        "{summary:?}"
    );
    assert!(summary.last_error.is_some_and(|e| !e.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_costs_pushes_not_the_load() {
    let (url, _received) = receiver(Answer::Hang).await;
    let pusher = Pusher::start(url, None, labels());
    let (totals, counters) = (totals(1), counters(1));
    for second in 0..20 {
        push_promptly(
            &pusher,
            at(1_700_000_000_000 + second * 1000),
            &totals,
            &counters,
        );
        // Time for the task to take the first push and hang on it.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wait = Duration::from_millis(300);
    let started = Instant::now();
    let summary = pusher.finish(wait).await;
    let took = started.elapsed();
    assert!(
        took < wait + Duration::from_millis(500),
        "finish took {took:?}"
    );
    assert_eq!(
        (summary.sent, summary.failed, summary.dropped),
        (0, 0, 20),
        "{summary:?}"
    );
}
