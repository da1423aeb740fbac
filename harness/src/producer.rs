//! Producers: how a check makes the target publish events.
//!
//! Against a reference server the harness uses its control API. Against
//! any other server, `--producer 'CMD'` names a command that reads one JSON
//! request per line on stdin and answers one JSON line on stdout per request:
//!
//! ```text
//! → {"api": "fibric", "action": "append", "envelope": {"tenant_id": …, "event_type": …, "event_id": …, …}}
//! ← {"event_id": "ev_…"}                      (or {"error": "…"})
//! → {"api": "pulse", "action": "declare-model", "name": "User", "primary_key": "id", "replica_identity": "full"}
//! ← {}
//! → {"api": "pulse", "action": "row", "model": "User", "change": "create", "row": {…}}
//! ← {"id": "01J…"}
//! ```
//!
//! Without either, checks that need to publish are skipped with that reason.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// A running `--producer` command.
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<Mutex<Process>>,
    command: String,
}

#[derive(Debug)]
struct Process {
    _child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Producer {
    pub fn spawn(command: &str) -> std::io::Result<Producer> {
        let mut child = Command::new("sh")
            .args(["-c", command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        Ok(Producer {
            inner: Arc::new(Mutex::new(Process {
                _child: child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
            })),
            command: command.to_owned(),
        })
    }

    /// Sends one request and waits (at most 30 s) for its answer.
    pub async fn request(&self, request: &Value) -> Result<Value, String> {
        let mut process = self.inner.lock().await;
        let mut line = request.to_string();
        line.push('\n');
        process
            .stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("writing to the producer {:?}: {e}", self.command))?;
        let answer = tokio::time::timeout(Duration::from_secs(30), process.stdout.next_line())
            .await
            .map_err(|_| format!("the producer {:?} did not answer within 30 s", self.command))?
            .map_err(|e| format!("reading from the producer: {e}"))?
            .ok_or_else(|| format!("the producer {:?} exited", self.command))?;
        let answer: Value = serde_json::from_str(&answer)
            .map_err(|e| format!("the producer answered {answer:?}, not JSON: {e}"))?;
        match answer.get("error") {
            Some(error) => Err(format!("the producer refused: {error}")),
            None => Ok(answer),
        }
    }
}
