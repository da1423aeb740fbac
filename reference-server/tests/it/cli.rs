//! The binary's command-line contract: the ready line, credentials, defects, exit codes, signals.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{binary, client, spawn};

#[test]
fn prints_the_ready_line_and_the_dev_credentials() {
    let server = spawn(&["--memory"]);
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.base_url
    );
    let port: u16 = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "port 0 must be replaced by the real port");
    let banner = server.banner.join("\n");
    for credential in [
        "sk_test_tenant_a",
        "tn_a",
        "sk_test_tenant_b",
        "tn_b",
        "pulse_test_key",
        "fauna_test_secret",
        "control_test_token",
        "/api/v2/auth",
        "createAccount",
    ] {
        assert!(
            banner.contains(credential),
            "{credential} missing from:\n{banner}"
        );
    }
}

#[test]
fn list_defects_prints_one_named_defect_per_line() {
    let output = binary().arg("--list-defects").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let (name, description) = line
            .split_once("  ")
            .expect("name, two spaces, description");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}"
        );
        assert!(!description.trim().is_empty());
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("reuse-seq-after-restart "))
    );
}

#[test]
fn usage_and_configuration_errors_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--defect", "no-such-defect"],
            "unknown defect \"no-such-defect\"",
        ),
        (&["--no-such-flag"], "--no-such-flag"),
        (&["--memory", "--data-dir", "/tmp/x"], "cannot be used with"),
        (
            &["--config", "/nonexistent/config.toml"],
            "cannot read config file",
        ),
    ];
    for (args, message) in cases {
        let output = binary().args(*args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "lissen = \"127.0.0.1:1\"\n").unwrap();
    let output = binary().arg("--config").arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("lissen"));
}

#[test]
fn a_taken_address_exits_3() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = binary()
        .args(["--memory", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on"));
}

#[test]
fn the_config_file_sets_credentials_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "memory = true\ncontrol_token = \"from_file\"\n[fibric.keys]\nsk_live_x = \"tn_x\"\n[fauna.keys]\ns3cret = \"db1\"\n",
    )
    .unwrap();
    let server = spawn(&[
        "--config",
        config.to_str().unwrap(),
        "--control-token",
        "from_flag",
    ]);
    let banner = server.banner.join("\n");
    assert!(
        banner.contains("sk_live_x") && banner.contains("tn_x"),
        "{banner}"
    );
    assert!(!banner.contains("sk_test_tenant_a"), "{banner}");
    assert!(
        banner.contains("s3cret")
            && banner.contains("database db1")
            && banner.contains("from_flag"),
        "{banner}"
    );
    assert!(banner.contains("storage: memory"), "{banner}");
}

fn wait_for_exit(
    server: &mut crate::support::ServerProcess,
    limit: Duration,
) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "still running {limit:?} after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(server: &crate::support::ServerProcess, signal: Signal) {
    kill(
        Pid::from_raw(i32::try_from(server.child.id()).unwrap()),
        signal,
    )
    .unwrap();
}

#[tokio::test]
async fn sigterm_and_ctrl_c_shut_down_promptly_with_exit_0() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let mut server = spawn(&["--memory"]);
        // An idle keep-alive connection must not hold the shutdown up.
        let response = client()
            .get(format!("{}/_control/info", server.base_url))
            .bearer_auth("control_test_token")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        signal(&server, sig);
        let status = wait_for_exit(&mut server, Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{sig}");
    }
}

/// A request stuck in flight holds the shutdown for the grace period and no
/// longer (measured by hand at 2.0 s with a 2 s grace; here 300 ms keeps the test quick).
#[test]
fn a_request_stuck_in_flight_delays_shutdown_only_for_the_grace_period() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("grace.toml");
    std::fs::write(&config, "memory = true\nshutdown_grace = \"300ms\"\n").unwrap();
    let mut server = spawn(&["--config", config.to_str().unwrap()]);
    // Headers and half a body, then silence: the request stays in flight.
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut stuck = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stuck,
        "POST /_control/log/scratch.x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer control_test_token\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"records\": ["
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    signal(&server, Signal::SIGTERM);
    let status = wait_for_exit(&mut server, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    drop(stuck);
}

#[test]
fn a_data_directory_held_by_another_server_is_refused_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let _first = crate::support::spawn_durable(dir.path(), &[]);
    let output = binary()
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already open"));
}
