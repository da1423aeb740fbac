//! The durable reference server as a child process that can be SIGKILLed: this test binary, run again as the server.
//!
//! A harness test cannot name the `reference-server` binary
//! (`CARGO_BIN_EXE_*` exists only for the package's own binaries), and
//! `target/debug/reference-server` is built only when the whole workspace is,
//! and may be older than the library this test links. So the test runs its
//! own executable again with one test selected, [`serve_when_asked`], and the
//! server's flags in an environment variable: the child then runs
//! `reference_server::cli::run`, the code the real binary runs, linked from the
//! same source as the test. That entry is an ignored test, and does nothing
//! without the variable.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;

/// The server's flags, one per line; set only in the child.
const SERVE_ENV: &str = "STREAMCHECK_CRASH_LOAD_SERVE";
/// The test the child runs.
const ENTRY: &str = "crash_load::server::serve_when_asked";

/// Runs the reference server until it is killed, when this process was
/// started as one by [`spawn`]. It is not a test of its own: ignored, so a
/// test run does not count it as one, and [`spawn`] selects it with `--ignored`.
#[test]
#[ignore = "the crash test's server process; started by the crash test itself"]
fn serve_when_asked() {
    let Ok(flags) = std::env::var(SERVE_ENV) else {
        return;
    };
    let argv = std::iter::once("reference-server").chain(flags.lines());
    let config = reference_server::cli::Cli::parse_from(argv)
        .config()
        .expect("the server's flags");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(reference_server::cli::run(config))
        .expect("the server runs until it is killed");
}

/// A server child process; killed when dropped.
pub struct Server {
    child: Child,
    pub base_url: String,
}

impl Server {
    /// SIGKILL, and wait until the process is gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the durable server on `dir` on a free port, with `defects`, and
/// waits for its `listening on` line (20 s at most).
pub fn spawn(dir: &Path, defects: &[&str]) -> Server {
    let mut flags = vec![
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--data-dir".to_owned(),
        dir.to_str().expect("utf-8 temp path").to_owned(),
    ];
    for defect in defects {
        flags.extend(["--defect".to_owned(), (*defect).to_owned()]);
    }
    let mut child = Command::new(std::env::current_exe().expect("the test executable"))
        .args([
            ENTRY,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SERVE_ENV, flags.join("\n"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the server");
    let stdout = child.stdout.take().expect("stdout");
    // Owned from here, so a server that never gets ready is killed too.
    let mut server = Server {
        child,
        base_url: String::new(),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Keep draining after the receiver is gone, so a full pipe never blocks the server.
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server printed its listening line within 20 s");
        // libtest's `test … ` precedes the server's line on the same line.
        if let Some((_, url)) = line.split_once("listening on ") {
            server.base_url = url.to_owned();
            return server;
        }
    }
}
