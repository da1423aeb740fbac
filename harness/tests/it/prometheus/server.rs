//! A Prometheus of the test's own: a child process on a free loopback port, its own config and storage, stopped by PID when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;

/// How long Prometheus may take to answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long it may take to exit on SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running Prometheus with the remote-write receiver on and no scrape jobs.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    base: Url,
    log: PathBuf,
}

impl Prometheus {
    /// Starts `program` with everything under `dir` and waits until it is ready.
    pub async fn start(program: &Path, dir: &Path) -> Prometheus {
        let config = dir.join("prometheus.yml");
        // No scrape jobs: every series comes from remote write.
        std::fs::write(&config, "global:\n  evaluation_interval: 1m\n").unwrap();
        let storage = dir.join("tsdb");
        let log = dir.join("prometheus.log");
        let address = format!("127.0.0.1:{}", free_port());
        let output = File::create(&log).unwrap();
        let child = Command::new(program)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", storage.display()))
            .arg(format!("--web.listen-address={address}"))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut prometheus = Prometheus {
            child,
            base: Url::parse(&format!("http://{address}/")).unwrap(),
            log,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    /// The remote-write endpoint.
    pub fn write_url(&self) -> String {
        self.base.join("api/v1/write").unwrap().to_string()
    }

    /// The last lines of Prometheus's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log.display())
    }

    /// An instant query evaluated at `time` (Unix seconds): each series' labels and value.
    pub async fn query(&self, promql: &str, time: f64) -> Vec<(Value, f64)> {
        let mut url = self.base.join("api/v1/query").unwrap();
        url.query_pairs_mut()
            .append_pair("query", promql)
            .append_pair("time", &format!("{time:.3}"));
        let response = reqwest::get(url.clone())
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log_tail()));
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(
            status.is_success() && body["status"] == "success",
            "{promql} at {time}: {status} {body}\n{}",
            self.log_tail()
        );
        let result = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        result
            .into_iter()
            .map(|series| {
                let value = series["value"][1].as_str().and_then(|v| v.parse().ok());
                let value = value.unwrap_or_else(|| panic!("{promql}: no value in {series}"));
                (series["metric"].clone(), value)
            })
            .collect()
    }

    /// The one value of a query that yields one series.
    pub async fn scalar(&self, promql: &str, time: f64) -> f64 {
        let result = self.query(promql, time).await;
        match result.as_slice() {
            [(_, value)] => *value,
            _ => panic!(
                "{promql} at {time} gave {} series, not 1: {result:?}\n{}",
                result.len(),
                self.log_tail()
            ),
        }
    }

    async fn wait_ready(&mut self) {
        let ready = self.base.join("-/ready").unwrap();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "Prometheus exited with {status} before it was ready\n{}",
                    self.log_tail()
                );
            }
            if let Ok(response) = reqwest::get(ready.clone()).await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus not ready at {ready} after {READY_TIMEOUT:?}\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Prometheus {
    /// SIGTERM by PID, then SIGKILL if it has not exited in [`STOP_TIMEOUT`]; waits either way.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
