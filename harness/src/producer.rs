//! Producers: how a check makes the target publish events.
//!
//! Against a reference server the harness uses its control API. Against
//! any other server, `--producer 'CMD'` names a command that reads one JSON
//! request per line on stdin and answers one JSON line on stdout per request:
//!
//! ```text
//! → {"api": "fibric", "action": "append", "envelope": {"tenant_id": …, "event_type": …, "event_id": …, …}}
//! ← {"event_id": "ev_…"}                      (or {"error": "…"})
//! → {"api": "fibric", "action": "trim", "tenant_id": …, "keep_last": 1}
//! ← {}
//! → {"api": "pulse", "action": "declare-model", "name": "User", "primary_key": "id", "replica_identity": "full"}
//! ← {}
//! → {"api": "pulse", "action": "row", "model": "User", "change": "create", "row": {…}}
//! ← {"id": "01J…"}
//! → {"api": "atproto", "action": "label", "uri": "at://…", "val": "harness-…", "neg": false}
//! ← {"seq": 12}
//! → {"api": "actyx", "action": "replicate", "stream": "<node id>-0", "events": [{"offset": 0, "lamport": 7, "tags": […], "payload": {…}}]}
//! ← {}
//! ```
//!
//! `harness load --producer` speaks the same protocol, and may send several
//! Fibric envelopes in one request (`--batch`):
//!
//! ```text
//! → {"api": "fibric", "action": "append", "envelopes": [{…}, {…}]}
//! ← {"event_ids": ["ev_…", "ev_…"]}
//! ```
//!
//! Without either, checks that need to publish are skipped with that reason.
//! An answer is one line of at most [`MAX_ANSWER`] bytes.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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
    stdout: BufReader<ChildStdout>,
    /// Why the exchange is out of step (a late, endless or unreadable
    /// answer): every later answer would belong to another request.
    broken: Option<String>,
}

/// The longest answer line a producer may write.
pub const MAX_ANSWER: u64 = 1 << 20;

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
                stdout: BufReader::new(stdout),
                broken: None,
            })),
            command: command.to_owned(),
        })
    }

    /// Sends one request and waits (at most 30 s) for its answer. After an
    /// answer that came late, too long or not as text, the producer is out
    /// of step, and every later request fails saying so.
    pub async fn request(&self, request: &Value) -> Result<Value, String> {
        let mut process = self.inner.lock().await;
        if let Some(why) = &process.broken {
            return Err(format!(
                "the producer {:?} is out of step: {why}",
                self.command
            ));
        }
        let answer = self.exchange(&mut process, request).await;
        if let Err(error) = &answer {
            process.broken = Some(error.clone());
        }
        let answer = answer?;
        let answer: Value = serde_json::from_str(&answer)
            .map_err(|e| format!("the producer answered {answer:?}, not JSON: {e}"))?;
        match answer.get("error") {
            Some(error) => Err(format!("the producer refused: {error}")),
            None => Ok(answer),
        }
    }

    /// Writes one request line and reads one answer line.
    async fn exchange(&self, process: &mut Process, request: &Value) -> Result<String, String> {
        let mut line = request.to_string();
        line.push('\n');
        process
            .stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("writing to the producer {:?}: {e}", self.command))?;
        let mut answer = String::new();
        let mut limited = (&mut process.stdout).take(MAX_ANSWER);
        let read = limited.read_line(&mut answer);
        let size = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .map_err(|_| format!("the producer {:?} did not answer within 30 s", self.command))?
            .map_err(|e| format!("reading from the producer: {e}"))?;
        if size == 0 {
            return Err(format!("the producer {:?} exited", self.command));
        }
        if !answer.ends_with('\n') && size as u64 == MAX_ANSWER {
            return Err(format!(
                "the producer {:?} answered a line longer than {MAX_ANSWER} bytes",
                self.command
            ));
        }
        Ok(answer)
    }
}

/// Producer processes for a load run: one per publisher worker, each
/// carrying one request at a time, so the workers publish side by side.
#[derive(Debug)]
pub struct Producers {
    idle: std::sync::Mutex<Vec<Producer>>,
    free: tokio::sync::Semaphore,
}

impl Producers {
    /// Starts `count` processes of `command`.
    pub fn spawn(command: &str, count: usize) -> std::io::Result<Producers> {
        let idle = (0..count.max(1))
            .map(|_| Producer::spawn(command))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Producers {
            free: tokio::sync::Semaphore::new(idle.len()),
            idle: std::sync::Mutex::new(idle),
        })
    }

    /// Sends one request through an idle process and waits for its answer.
    pub async fn request(&self, request: &Value) -> Result<Value, String> {
        let _free = self
            .free
            .acquire()
            .await
            .map_err(|_| "the producers are closed".to_owned())?;
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let producer = Lent {
            producer: taken.ok_or("no idle producer, though one was free")?,
            home: &self.idle,
        };
        producer.producer.request(request).await
    }
}

/// A producer taken from the idle ones, given back however its request ends.
struct Lent<'a> {
    producer: Producer,
    home: &'a std::sync::Mutex<Vec<Producer>>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let producer = self.producer.clone();
        self.home
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(producer);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn answers_come_in_turn_and_a_producer_out_of_step_refuses_the_rest() {
        // Echoes each request back, refusing the second.
        let echo = Producer::spawn(
            r#"n=0; while read -r line; do n=$((n+1)); if [ $n = 2 ]; then echo '{"error": "no"}'; else echo "$line"; fi; done"#,
        )
        .unwrap();
        assert_eq!(echo.request(&json!({"a": 1})).await, Ok(json!({"a": 1})));
        assert_eq!(
            echo.request(&json!({"a": 2})).await,
            Err("the producer refused: \"no\"".to_owned())
        );
        // A refusal is an answer in turn: the next request gets its own.
        assert_eq!(echo.request(&json!({"a": 3})).await, Ok(json!({"a": 3})));

        // An answer with no end: refused at the limit, and nothing after it is trusted.
        let endless =
            Producer::spawn("read -r line; head -c 2000000 /dev/zero | tr '\\0' x; cat").unwrap();
        let error = endless.request(&json!({})).await.unwrap_err();
        assert!(error.contains("longer than 1048576 bytes"), "{error}");
        let after = endless.request(&json!({})).await.unwrap_err();
        assert!(after.contains("out of step"), "{after}");

        let gone = Producer::spawn("exit 0").unwrap();
        let error = gone.request(&json!({})).await.unwrap_err();
        assert!(
            error.contains("exited") || error.contains("writing"),
            "{error}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pool_lends_each_process_to_one_request_at_a_time() {
        // Each process answers with its own pid, a second after the request.
        let pool = Producers::spawn(
            r#"while read -r line; do sleep 1; echo "{\"pid\": $$}"; done"#,
            2,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let request = json!({});
        let (a, b) = tokio::join!(pool.request(&request), pool.request(&request));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(
            a["pid"], b["pid"],
            "two requests at once go to two processes"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(1900));
    }
}
