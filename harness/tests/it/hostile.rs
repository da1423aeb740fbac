//! `harness check` against hostile servers: each test starts a small server written for it and runs the real binary.
//!
//! The servers attack the harness's decoders and timers: an endless line, a
//! 1 GiB SSE `data:` field, a CBOR length claim of 2^62 bytes, a WebSocket
//! message without end, silence, a byte a second, keep-alives forever. Every
//! test selects at least two checks and asserts that the harness
//!
//! - ends within [`TIME_BOUND`] (it is killed and the test fails otherwise),
//! - exits with the documented code (1: a check failed; 3 when even the
//!   probe gets no answer, so the target could not be reached),
//! - writes a verdict for every selected check, so it carried on after the
//!   first check met the hostile server,
//! - says what the server did wrong in a finding, and
//! - peaks under [`MEMORY_BOUND_KIB`] of resident memory (VmHWM, read from
//!   `/proc` while it runs).
//!
//! # Layout
//!
//! - [`server`]: the hand-written HTTP/1.1 server the hostile ones are built on.
//! - [`sse`]: Fibric streams with an endless line, a 1 GiB data field, a byte a second, comments only.
//! - [`ndjson`]: Actyx feeds with an endless line, blank lines only.
//! - [`websocket`]: `subscribeRepos` with a lying CBOR length, a message without end, pings only.
//! - [`silent`]: a server that never answers, and one that answers only the probe.

mod ndjson;
mod server;
mod silent;
mod sse;
mod websocket;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncReadExt;

/// The most resident memory a `harness check` run may peak at against a
/// hostile target, in KiB. Runs measure 15 to 30 MiB (debug build): the
/// limits hold at most one 4 MiB SSE line, one 8 MiB event, one 1 MiB JSON
/// line or one 3 MiB WebSocket message per stream, so an unbounded buffer
/// (1 GiB here) would cross this at once.
pub const MEMORY_BOUND_KIB: u64 = 256 * 1024;

/// Less than any running harness holds: a peak below it means the polling missed the run.
pub const MIN_SEEN_KIB: u64 = 4 * 1024;

/// The longest a run may take; each case's own timers end it well before.
pub const TIME_BOUND: Duration = Duration::from_secs(60);

/// The flags every run gets: short waits for keep-alives, one case per property.
const COMMON: &[&str] = &[
    "--seed",
    "7",
    "--cases",
    "1",
    "--patience",
    "3s",
    "--check-timeout",
    "30s",
];

/// What one run of the binary came to.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub elapsed: Duration,
    /// The peak resident memory seen (VmHWM), in KiB.
    pub peak_kib: u64,
    pub stdout: String,
    pub stderr: String,
    /// report.json, when one was written.
    pub report: Option<Value>,
}

/// The peak resident memory of process `pid` so far, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `harness check --target TARGET ARGS…` with a report directory of its
/// own, polling its peak memory; kills it and fails the test past [`TIME_BOUND`].
pub async fn check(target: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::from(crate::support::binary());
    command
        .args(["check", "--target", target, "--report-dir"])
        .arg(dir.path())
        .args(COMMON)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut peak_kib = 0;
    let status = loop {
        // Read before reaping: once reaped, /proc/<pid> is gone.
        peak_kib = peak_kib.max(vm_hwm(pid).unwrap_or(0));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_BOUND {
            let _ = child.kill().await;
            panic!(
                "harness check {args:?} still ran after {TIME_BOUND:?}; killed it (peak {peak_kib} KiB)"
            );
        }
        // Often: a run against a server that fails at once lasts tens of milliseconds.
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let report = std::fs::read_to_string(dir.path().join("report.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    Run {
        code: status.code(),
        elapsed: started.elapsed(),
        peak_kib,
        stdout: stdout.await.unwrap(),
        stderr: stderr.await.unwrap(),
        report,
    }
}

impl Run {
    /// Every check's verdict, by id.
    pub fn verdicts(&self) -> BTreeMap<String, String> {
        let report = self.report.as_ref().unwrap_or_else(|| panic!("{self:#?}"));
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["verdict"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The findings' messages and the error of check `id`, one per line.
    pub fn text_of(&self, id: &str) -> String {
        let report = self.report.as_ref().unwrap_or_else(|| panic!("{self:#?}"));
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no verdict for {id}: {self:#?}"));
        let mut lines: Vec<String> = check["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| format!("{}: {}", f["kind"], f["message"]))
            .collect();
        lines.extend(check["error"].as_str().map(str::to_owned));
        lines.join("\n")
    }

    /// The run ended in time, under the memory bound, with `code`, and with
    /// exactly these verdicts; each `(id, text)` is in that check's findings.
    pub fn assert(&self, code: i32, verdicts: &[(&str, &str)], causes: &[(&str, &str)]) {
        eprintln!(
            "{:?} in {:.1} s, peak {} KiB\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.peak_kib,
            self.stdout
        );
        assert!(self.elapsed < TIME_BOUND, "{self:#?}");
        assert!(
            self.peak_kib > MIN_SEEN_KIB && self.peak_kib < MEMORY_BOUND_KIB,
            "peak {} KiB, bound {MEMORY_BOUND_KIB} KiB",
            self.peak_kib
        );
        assert_eq!(self.code, Some(code), "{self:#?}");
        let expected: BTreeMap<String, String> = verdicts
            .iter()
            .map(|(id, v)| ((*id).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(self.verdicts(), expected, "{self:#?}");
        for (id, cause) in causes {
            let text = self.text_of(id);
            assert!(text.contains(cause), "{id}: {cause:?} not in\n{text}");
        }
    }
}
