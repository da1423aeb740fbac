//! HTTP behaviour of the server skeleton over real sockets: h2c, JSON errors, body limits, the control API.

use reference_server::config::Config;
use reference_server::defects::Defects;
use reference_server::server::{Running, start};
use reqwest::{StatusCode, Version};
use serde_json::{Value, json};

use crate::support::{CONTROL_TOKEN, client};

async fn server_with(config: Config) -> Running {
    start(config).await.expect("start server")
}

async fn server() -> Running {
    server_with(Config::ephemeral()).await
}

/// Asserts a JSON error body with the given status and code, and returns its message.
async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(!message.is_empty());
    message
}

#[tokio::test]
async fn http2_with_prior_knowledge_and_http1_share_one_listener() {
    let server = server().await;
    let url = format!("{}/_control/info", server.base_url());
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .get(&url)
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["server"], "reference-server");
    let response = client()
        .get(&url)
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), StatusCode::OK);
    server.shutdown().await.unwrap();
}

/// Writes `parts` to a new connection with a pause between them and returns
/// the first `want` bytes the server answers.
async fn dribble(server: &Running, parts: &[&[u8]], want: usize) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.local_addr)
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    for part in parts {
        stream.write_all(part).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut answer = vec![0; want];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_exact(&mut answer),
    )
    .await
    .expect("the server answered in time")
    .unwrap();
    answer
}

/// The protocol is told from a connection's first bytes without waiting for
/// all 24 of the h2c preface: a request that arrives a byte at a time is
/// HTTP/1.1 from its first byte, and a preface cut in two is still h2c.
#[tokio::test]
async fn the_protocol_is_told_from_however_many_first_bytes_have_come() {
    let server = server().await;
    let request = format!(
        "GET /_control/info HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {CONTROL_TOKEN}\r\n\r\n"
    );
    let bytes: Vec<&[u8]> = request.as_bytes().chunks(1).collect();
    let answer = dribble(&server, &bytes, 12).await;
    assert_eq!(&answer, b"HTTP/1.1 200");
    // The preface in two writes, then an empty SETTINGS frame: the server's
    // first frame is its own SETTINGS (type 4 at byte 3 of the frame header).
    let preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let settings: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    let answer = dribble(&server, &[&preface[..5], &preface[5..], settings], 9).await;
    assert_eq!(answer[3], 4, "an HTTP/2 SETTINGS frame: {answer:?}");
    server.shutdown().await.unwrap();
}

/// A connection that has sent nothing yet is dropped at shutdown, not waited
/// for until its header-read timeout (30 s) or the grace period (5 s).
#[tokio::test]
async fn a_connection_that_sent_nothing_does_not_hold_up_a_shutdown() {
    let server = server().await;
    let _silent = tokio::net::TcpStream::connect(server.local_addr)
        .await
        .unwrap();
    // The accept queue is first in, first out: once a later connection has
    // been answered, the silent one has been accepted and is being sniffed.
    let answered = client()
        .get(format!("{}/_control/info", server.base_url()))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    server.shutdown().await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "shutdown took {:?}",
        started.elapsed()
    );
}

/// `curl --http2-prior-knowledge` is how people check h2c by hand; `./test.sh` installs curl.
#[tokio::test]
async fn curl_with_http2_prior_knowledge_works() {
    let curl = testenv::program("curl");
    let server = server().await;
    let url = format!("{}/_control/info", server.base_url());
    let output = tokio::process::Command::new(curl)
        .args(["--silent", "--show-error", "--http2-prior-knowledge"])
        .args([
            "--header",
            &format!("Authorization: Bearer {CONTROL_TOKEN}"),
        ])
        .args(["--write-out", "\n%{http_version} %{http_code}", &url])
        .output()
        .await
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    assert_eq!(status, "2 200");
    assert!(body.contains("reference-server"), "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let server = server().await;
    let client = client();
    let response = client
        .get(format!("{}/no/such/path", server.base_url()))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("/no/such/path"), "{message}");
    let response = client
        .delete(format!("{}/_control/info", server.base_url()))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_control_api_needs_its_token() {
    let server = server().await;
    let url = format!("{}/_control/defects", server.base_url());
    let client = client();
    let response = client.get(&url).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = client.get(&url).bearer_auth("wrong").send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = client
        .get(&url)
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"defects": []})
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_defects_switched_on_are_listed() {
    let mut config = Config::ephemeral();
    config.defects = Defects::parse(&["reuse-seq-after-restart"]).unwrap();
    let server = server_with(config).await;
    let defects: Value = client()
        .get(format!("{}/_control/defects", server.base_url()))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(defects, json!({"defects": ["reuse-seq-after-restart"]}));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413_whether_sized_or_streamed() {
    let mut config = Config::ephemeral();
    config.max_body_bytes = 1024;
    let server = server_with(config).await;
    let url = format!("{}/_control/log/scratch.limits", server.base_url());
    let big = json!({"records": ["x".repeat(2000)]});
    let client = client();
    let response = client
        .post(&url)
        .bearer_auth(CONTROL_TOKEN)
        .json(&big)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    // Without a Content-Length the limit must still hold while the body streams in.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(b"{\"records\": [\"".to_vec()),
        Ok(vec![b'y'; 4000]),
        Ok(b"\"]}".to_vec()),
    ];
    let response = client
        .post(&url)
        .bearer_auth(CONTROL_TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    // Nothing of the refused bodies reached the log, and the server still serves.
    let page: Value = client
        .get(&url)
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["records"], json!([]));
    assert_eq!(page["bounds"]["next"], 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_scratch_requests_get_clear_errors_and_change_nothing() {
    let server = server().await;
    let client = client();
    let base = server.base_url();
    let post = |path: &str| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(CONTROL_TOKEN)
    };
    let response = post("/_control/log/fibric")
        .json(&json!({"records": [1]}))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(message.contains("scratch."), "{message}");
    let response = post("/_control/log/scratch.x")
        .header("content-type", "application/json")
        .body("{\"records\": [1,")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    let response = post("/_control/log/scratch.x")
        .body("{\"records\": [1]}")
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = post("/_control/log/scratch.x")
        .json(&json!({"records": []}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = post("/_control/log/scratch.x")
        .json(&json!({"rekords": [1]}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_json").await;
    // After all that, the stream is untouched and a good append gets position 1.
    let body: Value = post("/_control/log/scratch.x")
        .json(&json!({"records": [{"a": 1}, {"b": 2}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["positions"], json!([1, 2]));
    let records = crate::support::read_scratch(&base, "scratch.x").await;
    assert_eq!(records, vec![(1, json!({"a": 1})), (2, json!({"b": 2}))]);
    server.shutdown().await.unwrap();
}
