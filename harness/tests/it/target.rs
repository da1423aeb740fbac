//! Reaching a target: a reference server is recognised, any other server is still a target.

use harness::check::execute;
use harness::report::model::{Report, TargetKind};
use harness::target::probe;
use reference_server::config::Config;
use scenarios::{Api, Level};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Behaviour, config, fake};

/// A server that answers every request with a 404 and nothing else.
async fn plain_http_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_reference_server_is_recognised_and_other_servers_are_targets_too() {
    let client = reqwest::Client::new();
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let target = probe(
        &format!("{}/", server.base_url()),
        "control_test_token",
        &client,
    )
    .await
    .unwrap();
    assert_eq!(target.kind(), TargetKind::Reference);
    assert_eq!(target.base_url(), server.base_url());
    // With the wrong control token it is just a server.
    let target = probe(&server.base_url(), "wrong", &client).await.unwrap();
    assert_eq!(target.kind(), TargetKind::Other);
    let other = plain_http_server().await;
    assert_eq!(
        probe(&other, "control_test_token", &client)
            .await
            .unwrap()
            .kind(),
        TargetKind::Other
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_run_against_a_target_records_it_and_replays_against_it() {
    let server = reference_server::server::start(Config::ephemeral())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let config = config(dir.path(), &["--target", &url]);
    let registry = vec![fake(
        "fibric/wire/a",
        Api::Fibric,
        Level::Must,
        Behaviour::Pass,
    )];
    execute(&config, &registry, Some(&mut Vec::new()))
        .await
        .unwrap();
    let report = Report::read(&dir.path().join("report.json")).unwrap();
    assert_eq!(report.target.kind, TargetKind::Reference);
    assert_eq!(report.target.url, url);
    assert_eq!(
        report.checks[0].replay,
        format!("harness check --checks 'fibric/wire/a' --seed 7 --target '{url}'")
    );
    server.shutdown().await.unwrap();
}
