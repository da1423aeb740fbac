//! `harness snapshot`: record and check through the binary, every exchange of every API
//! as an insta snapshot, and the defects a snapshot check must show.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use harness::snapshot::{compare, take_embedded};
use reference_server::defects::Defects;
use scenarios::check::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::binary;

fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("run harness")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn take(api: Api, defects: &[&str]) -> Vec<(String, String)> {
    take_embedded(api, Defects::parse(defects).expect("known defects"))
        .await
        .unwrap_or_else(|e| panic!("{api} with {defects:?}: {e:#}"))
}

/// Every exchange the reference server makes for each API's script, reviewed with
/// `cargo insta review`. A second run must render every exchange the same way.
#[tokio::test(flavor = "multi_thread")]
async fn every_exchange_of_every_api_matches_its_reviewed_snapshot_twice() {
    for api in Api::ALL {
        let first = take(api, &[]).await;
        assert!(
            first.len() >= 8,
            "{api} made only {} exchanges",
            first.len()
        );
        for (name, snapshot) in &first {
            insta::assert_snapshot!(format!("{api}__{name}"), snapshot);
        }
        let old: BTreeMap<String, String> = first.into_iter().collect();
        let second = compare(api, &old, &take(api, &[]).await);
        assert_eq!(
            second.changed, 0,
            "{api} changed on a second run:\n{}",
            second.text
        );
    }
}

/// Each defect that changes what goes on the wire, and a line its diff must hold.
const WIRE_DEFECTS: &[(Api, &str, &str)] = &[
    (
        Api::Fibric,
        "wrong-content-type",
        "+< content-type: text/plain",
    ),
    (
        Api::Fibric,
        "cacheable-stream",
        "-< cache-control: no-store",
    ),
    (Api::Fibric, "frame-id-not-event-id", "+id: <cursor"),
    (
        Api::Fibric,
        "envelope-field-renamed",
        "+      \"type\": \"order.created\",",
    ),
    (
        Api::Pulse,
        "wrong-content-type",
        "+< content-type: text/plain",
    ),
    (Api::Pulse, "error-shape-wrapped", "+  \"error\": {"),
    (Api::Pulse, "update-without-before", "-  \"before\": {"),
    (Api::Pulse, "lookup-malformed-400", "+< 400 Bad Request"),
    (Api::Pulse, "health-needs-auth", "+< 401 Unauthorized"),
    (Api::Fauna, "fauna-lf-lines", "+--- line 1 (lf)"),
    (
        Api::Fauna,
        "fauna-stats-incomplete",
        "-    \"processing_time_ms\": 0,",
    ),
    (Api::Fauna, "fauna-unauthorized-403", "+< 403 Forbidden"),
    (
        Api::Actyx,
        "timestamp-millis",
        "+      \"timestamp\": \"<time 9999999999999> (number)\"",
    ),
    (
        Api::Actyx,
        "content-type-ignored",
        "-< 415 Unsupported Media Type",
    ),
    (Api::Actyx, "accept-ignored", "-< 406 Not Acceptable"),
    (Api::Actyx, "caught-up-never-true", "+  \"caughtUp\": false"),
    (
        Api::Atproto,
        "cbor-keys-unsorted",
        "+    66  # key \"tooBig\"",
    ),
    (
        Api::Atproto,
        "error-frame-with-type",
        "+  \"t\": \"#error\",",
    ),
    (Api::Atproto, "frames-without-time", "-  \"time\": \"<time"),
    (
        Api::Atproto,
        "future-cursor-ignored",
        "+--- nothing more arrived",
    ),
    // The MST leaf of beta and delta ("com.example.harness.record/beta") leaves the CAR.
    (
        Api::Atproto,
        "commit-without-proof",
        "-                  \"$bytes\": \"Y29tLmV4YW1wbGUuaGFybmVzcy5yZWNvcmQvYmV0YQ\"",
    ),
    (
        Api::Atproto,
        "replay-includes-cursor",
        "+  \"seq\": \"<seq +0> (number)\",",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn each_wire_defect_fails_the_check_with_a_diff_that_names_it() {
    let mut baselines: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for (api, defect, line) in WIRE_DEFECTS {
        if !baselines.contains_key(api.name()) {
            baselines.insert(api.name(), take(*api, &[]).await.into_iter().collect());
        }
        let now = take(*api, &[defect]).await;
        let diff = compare(*api, &baselines[api.name()], &now);
        assert!(diff.changed > 0, "{api} with {defect}: no snapshot changed");
        assert!(
            diff.text.lines().any(|l| l.starts_with(line)),
            "{api} with {defect}: no diff line starts with {line:?}:\n{}",
            diff.text
        );
    }
}

/// Record, then check, through the binary: clean against the same server, a
/// readable diff and exit 1 against a server with a defect, and `--update`
/// accepting the change.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_records_checks_fails_with_a_diff_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let output = run(&["snapshot", "record", "--api", "fibric", "--dir", d]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("recorded 11 exchanges of fibric"));
    assert!(dir.path().join("fibric/03-stream-resumed.snap").is_file());

    let output = run(&["snapshot", "check", "--api", "fibric", "--dir", d]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("fibric: 11 snapshots match"));

    let defective = harness::embedded::start(
        "control_test_token",
        Defects::parse(&["cacheable-stream"]).unwrap(),
    )
    .await
    .unwrap();
    let url = defective.base_url();
    let check = [
        "snapshot", "check", "--api", "fibric", "--dir", d, "--target", &url,
    ];
    let output = run(&check);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("changed: fibric/03-stream-resumed.snap"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-< cache-control: no-store\n"),
        "{stdout}"
    );
    assert!(stdout.contains("2 of 11 snapshots differ"), "{stdout}");

    let mut update = check.to_vec();
    update.push("--update");
    let output = run(&update);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let output = run(&check);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    defective.shutdown().await.unwrap();
}

#[test]
fn misuse_exits_2_and_an_unreachable_target_exits_3_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["snapshot", "check", "--api", "pulse", "--dir", d],
            2,
            "holds no snapshots",
        ),
        (
            &[
                "snapshot", "record", "--api", "pulse", "--dir", d, "--update",
            ],
            2,
            "--update belongs to check",
        ),
        (
            &[
                "snapshot", "record", "--api", "pulse", "--dir", d, "--target", "ftp://x",
            ],
            2,
            "is not an http",
        ),
        (
            &[
                "snapshot", "record", "--api", "pulse", "--dir", d, "--target", &nowhere,
            ],
            3,
            "could not be reached",
        ),
    ];
    for (args, code, message) in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(*code), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            0,
            "{args:?} wrote files"
        );
    }
}

/// A server that answers `head` and then sends `piece` every `every` until the client leaves.
async fn hostile(head: &'static str, piece: &'static [u8], every: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                while socket.write_all(piece).await.is_ok() {
                    tokio::time::sleep(every).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A snapshot read of a hostile stream ends by itself, with what it saw and why it stopped.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_streams_are_cut_by_size_and_by_time() {
    use harness::snapshot::exchange::{End, Framing, MAX_BODY, Request, Session};
    const SSE: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n";
    // Keep-alives only, forever: never an event, never quiet for long.
    let base = hostile(SSE, b": keep-alive\n\n", Duration::from_millis(50)).await;
    let mut session = Session::new(reqwest::Client::new(), base);
    session.read_limit = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let response = session
        .send(&Request::get("/"), Framing::Sse(1))
        .await
        .unwrap();
    assert_eq!(response.end, End::TooLong(Duration::from_secs(1)));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // One endless line with no line end, as fast as it goes.
    let base = hostile(SSE, &[b'x'; 65536], Duration::ZERO).await;
    let mut session = Session::new(reqwest::Client::new(), base);
    session.read_limit = Duration::from_secs(20);
    let response = session
        .send(&Request::get("/"), Framing::Sse(1))
        .await
        .unwrap();
    assert_eq!(response.end, End::TooLarge);
    assert!(response.body.len() <= MAX_BODY);
}
