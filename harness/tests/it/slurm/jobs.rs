//! Jobs on the test cluster: submitting with `sbatch`, reading state and exit code back from `scontrol -o show job`, waiting.
//!
//! `sacct` needs slurmdbd, which the cluster does not run; `MinJobAge` keeps
//! finished jobs in slurmctld long enough for `scontrol` to show them.

use std::collections::HashMap;
use std::time::Duration;

use super::cluster::Cluster;

/// The states a job does not leave.
const FINAL: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
];

/// One job, or one task of an array, as slurmctld has it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The task's index in its array; `None` for a plain job or an array's tasks not yet started.
    pub task: Option<u32>,
    pub state: String,
    /// `EXIT:SIGNAL`, such as `0:0`.
    pub exit_code: String,
}

impl Job {
    pub fn is_final(&self) -> bool {
        FINAL.contains(&self.state.as_str())
    }

    /// Whether it finished by itself with exit status `code`.
    pub fn exited(&self, code: i32) -> bool {
        let state = if code == 0 { "COMPLETED" } else { "FAILED" };
        self.state == state && self.exit_code == format!("{code}:0")
    }
}

impl Cluster {
    /// Submits with `sbatch --parsable` and returns the job id.
    pub fn sbatch(&self, args: &[&str]) -> String {
        let out = self.run("sbatch", &[&["--parsable"], args].concat());
        // `--parsable` prints `ID` or `ID;CLUSTER`.
        out.trim().split(';').next().unwrap().to_owned()
    }

    /// The job `id`: one entry per array task once the tasks are split out, by task index.
    pub fn jobs(&self, id: &str) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .run("scontrol", &["-o", "show", "job", id])
            .lines()
            .map(parse)
            .collect();
        jobs.sort_by_key(|job| job.task);
        jobs
    }

    /// The task `task` of the array `id`.
    pub fn task(&self, id: &str, task: u32) -> Job {
        self.jobs(id)
            .into_iter()
            .find(|job| job.task == Some(task))
            .unwrap_or_else(|| panic!("no task {task} in job {id}\n{}", self.explain()))
    }

    /// Polls the job `id` until `done` holds for its tasks; panics with the
    /// cluster's state after `timeout`.
    pub fn wait_for_job(
        &mut self,
        id: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Job]) -> bool,
    ) -> Vec<Job> {
        let what = format!("job {id} {what}");
        self.wait_until(&what, timeout, |cluster| done(&cluster.jobs(id)));
        self.jobs(id)
    }
}

/// A line of `scontrol -o show job`: space-separated `Key=Value` pairs.
fn parse(line: &str) -> Job {
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let field = |key: &str| fields.get(key).copied().unwrap_or_default().to_owned();
    Job {
        task: fields.get("ArrayTaskId").and_then(|t| t.parse().ok()),
        state: field("JobState"),
        exit_code: field("ExitCode"),
    }
}
