//! Slurm end to end: a job array of `harness load --shard auto` workers and a dependent merge, on munged, slurmctld and three slurmd on this host.

mod cluster;
mod jobs;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use harness::load::hlog;
use harness::load::report::LoadReport;
use harness::load::stats::Set;
use reference_server::config::Config;

use cluster::{Cluster, NODES};
use jobs::Job;

/// The schedule every shard shares: events per second, and subscribers per shard.
const RATE: u64 = 100;
const SUBSCRIBERS: u64 = 2;
const GRACE: Duration = Duration::from_secs(2);
/// How far ahead the schedule starts: long enough for all three tasks to be running by then.
const LEAD: Duration = Duration::from_secs(4);

/// One run: a three-task array of shards, then the merge that depends on it.
struct Run {
    name: &'static str,
    /// `shard-I` for each task's report, and `merged`.
    dir: PathBuf,
    start: SystemTime,
    duration: Duration,
    array: String,
    merge: String,
}

#[test]
fn a_job_array_of_shards_merges_into_one_report_and_a_cancelled_shard_is_named_missing() {
    testenv::program("slurmctld");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(reference_server::server::start(Config::ephemeral()))
        .unwrap();
    let target = server.base_url();
    let mut cluster = Cluster::start();
    every_shard_and_the_merge_exit_0_and_every_event_counts_once(&mut cluster, &target);
    a_cancelled_shard_makes_the_merge_exit_1_and_name_it(&mut cluster, &target);
    drop(cluster);
    runtime.block_on(server.shutdown()).unwrap();
}

fn every_shard_and_the_merge_exit_0_and_every_event_counts_once(
    cluster: &mut Cluster,
    target: &str,
) {
    let run = submit(cluster, "complete", target, Duration::from_secs(3));
    wait_until_running(cluster, &run);
    let merge = wait_for_merge(cluster, &run);
    let tasks = cluster.jobs(&run.array);
    assert!(
        tasks.len() == NODES.len() && tasks.iter().all(|t| t.exited(0)),
        "{}: every shard exits 0: {tasks:?}\n{}",
        run.name,
        cluster.explain()
    );
    assert!(
        merge.exited(0),
        "{}: the merge exits 0: {merge:?}\n{}",
        run.name,
        cluster.explain()
    );
    let shards: Vec<LoadReport> = (0..3).map(|i| report(cluster, &run.shard(i))).collect();
    for (i, shard) in shards.iter().enumerate() {
        every_event_delivered_once(&format!("{}: shard {i}", run.name), shard);
    }
    let merged = report(cluster, &run.merged());
    assert_eq!(
        merged.counter("published"),
        RATE * run.duration.as_secs(),
        "{}: the merge publishes the schedule's total",
        run.name
    );
    let about = &merged.about;
    assert_eq!(about.workers, Some(3), "{}: {about:?}", run.name);
    // Every task took the array's job id as the run's, and the merge kept it.
    let run_id = Some(format!("slurm-{}", run.array));
    assert_eq!(about.run_id, run_id, "{}: {about:?}", run.name);
    assert!(
        shards.iter().all(|s| s.about.run_id == run_id),
        "{}",
        run.name
    );
    assert!(
        !about.incomplete && about.missing_shards.is_empty(),
        "{}: {about:?}",
        run.name
    );
    assert_eq!(
        merged.counter("delivered"),
        merged.counter("published") * SUBSCRIBERS,
        "{}",
        run.name
    );
    counters_add_up(&run, &shards, &merged);
    histograms_add_up(&run, &[0, 1, 2], &merged);
}

fn a_cancelled_shard_makes_the_merge_exit_1_and_name_it(cluster: &mut Cluster, target: &str) {
    let run = submit(cluster, "cancelled", target, Duration::from_secs(8));
    wait_until_running(cluster, &run);
    // Well inside the schedule: started two seconds ago, six to go.
    if let Ok(wait) = (run.start + Duration::from_secs(2)).duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
    let task = cluster.task(&run.array, 1);
    assert_eq!(task.state, "RUNNING", "{}\n{}", run.name, cluster.explain());
    cluster.run("scancel", &[&format!("{}_1", run.array)]);
    let merge = wait_for_merge(cluster, &run);
    let tasks = cluster.jobs(&run.array);
    let states: Vec<(Option<u32>, bool, &str)> = tasks
        .iter()
        .map(|t| (t.task, t.exited(0), t.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (Some(0), true, "COMPLETED"),
            (Some(1), false, "CANCELLED"),
            (Some(2), true, "COMPLETED")
        ],
        "{}: {tasks:?}\n{}",
        run.name,
        cluster.explain()
    );
    assert!(
        merge.exited(1),
        "{}: the merge exits 1: {merge:?}\n{}",
        run.name,
        cluster.explain()
    );
    let stderr = std::fs::read_to_string(run.merge_output(cluster, "err")).unwrap();
    assert!(
        stderr.contains("1/3"),
        "{}: merge stderr: {stderr}",
        run.name
    );
    let merged = report(cluster, &run.merged());
    let about = &merged.about;
    assert!(about.incomplete, "{}: {about:?}", run.name);
    assert_eq!(about.missing_shards, ["1/3"], "{}: {about:?}", run.name);
    assert_eq!(about.workers, Some(2), "{}: {about:?}", run.name);
    assert!(
        !run.shard(1).join("load.json").exists(),
        "{}: the cancelled shard wrote no report",
        run.name
    );
    let shards: Vec<LoadReport> = [0, 2].map(|i| report(cluster, &run.shard(i))).into();
    for (i, shard) in [0, 2].iter().zip(&shards) {
        every_event_delivered_once(&format!("{}: shard {i}", run.name), shard);
    }
    counters_add_up(&run, &shards, &merged);
    histograms_add_up(&run, &[0, 2], &merged);
}

/// Writes the shard script and submits the array, then the merge after it.
fn submit(cluster: &Cluster, name: &'static str, target: &str, duration: Duration) -> Run {
    let dir = cluster.path(name);
    std::fs::create_dir(&dir).unwrap();
    let start = SystemTime::now() + LEAD;
    let script = dir.join("shard.sh");
    std::fs::write(&script, shard_script(&dir, target, start, duration)).unwrap();
    let jobs = cluster.jobs_dir();
    let array = cluster.sbatch(&[
        "--array=0-2",
        &format!("--job-name={name}"),
        &format!("--chdir={}", dir.display()),
        &format!("--output={}/{name}-%A_%a.out", jobs.display()),
        script.to_str().unwrap(),
    ]);
    let mut run = Run {
        name,
        dir,
        start,
        duration,
        array,
        merge: String::new(),
    };
    // The glob is the job's to expand: a cancelled shard may have left no folder.
    let merge = format!(
        "exec '{}' report merge --out '{}' '{}'/shard-*",
        env!("CARGO_BIN_EXE_harness"),
        run.merged().display(),
        run.dir.display()
    );
    run.merge = cluster.sbatch(&[
        &format!("--dependency=afterany:{}", run.array),
        &format!("--job-name={name}-merge"),
        &format!("--chdir={}", run.dir.display()),
        &format!("--output={}", run.merge_output(cluster, "out").display()),
        &format!("--error={}", run.merge_output(cluster, "err").display()),
        "--wrap",
        &merge,
    ]);
    run
}

/// A shard: its index comes from the job array, and `exec` lets its exit status through.
fn shard_script(dir: &Path, target: &str, start: SystemTime, duration: Duration) -> String {
    format!(
        "#!/bin/sh\n\
         exec '{harness}' load --api fibric --target '{target}' --shard auto \
         --start-at {start} --rate {RATE} --duration {duration} --subscribers {SUBSCRIBERS} \
         --grace {grace} --report-dir '{dir}'/shard-\"$SLURM_ARRAY_TASK_ID\"\n",
        harness = env!("CARGO_BIN_EXE_harness"),
        start = humantime::format_rfc3339_millis(start),
        duration = humantime::format_duration(duration),
        grace = humantime::format_duration(GRACE),
        dir = dir.display(),
    )
}

/// Waits until every task has left the queue, and checks that they did before the schedule starts.
fn wait_until_running(cluster: &mut Cluster, run: &Run) {
    let tasks = cluster.wait_for_job(&run.array, "running", LEAD * 2, |tasks| {
        tasks.len() == NODES.len() && tasks.iter().all(|t| t.state != "PENDING")
    });
    assert!(
        SystemTime::now() < run.start,
        "{}: the tasks started after the schedule: {tasks:?}\n{}",
        run.name,
        cluster.explain()
    );
}

/// Waits for the merge to finish, which it does after every shard.
fn wait_for_merge(cluster: &mut Cluster, run: &Run) -> Job {
    let end = run.start + run.duration + GRACE;
    let timeout = end.duration_since(SystemTime::now()).unwrap_or_default() + LEAD * 5;
    let merge = cluster.wait_for_job(&run.merge, "finished", timeout, |jobs| {
        jobs.iter().all(Job::is_final)
    });
    merge.into_iter().next().unwrap()
}

impl Run {
    fn shard(&self, i: u32) -> PathBuf {
        self.dir.join(format!("shard-{i}"))
    }

    fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    fn merge_output(&self, cluster: &Cluster, stream: &str) -> PathBuf {
        cluster
            .jobs_dir()
            .join(format!("{}-merge.{stream}", self.name))
    }
}

fn report(cluster: &Cluster, dir: &Path) -> LoadReport {
    LoadReport::read(dir).unwrap_or_else(|e| panic!("{e}\n{}", cluster.explain()))
}

/// A shard lost nothing, duplicated nothing, and each subscriber saw each of its events.
fn every_event_delivered_once(what: &str, shard: &LoadReport) {
    let counters = &shard.counters;
    assert!(shard.counter("published") > 0, "{what}: {counters:?}");
    assert_eq!(shard.counter("lost"), 0, "{what}: {counters:?}");
    assert_eq!(shard.counter("duplicated"), 0, "{what}: {counters:?}");
    assert_eq!(
        shard.counter("delivered"),
        shard.counter("published") * SUBSCRIBERS,
        "{what}: {counters:?}"
    );
}

/// Each counter of the merge is the shards' added up.
fn counters_add_up(run: &Run, shards: &[LoadReport], merged: &LoadReport) {
    for counter in merged.counters.keys() {
        let sum: u64 = shards.iter().map(|s| s.counter(counter)).sum();
        assert_eq!(merged.counter(counter), sum, "{}: {counter}", run.name);
    }
}

/// The merged interval logs hold exactly the shards' intervals added up, and
/// the merged `load.json` counts what they hold.
fn histograms_add_up(run: &Run, shards: &[u32], merged: &LoadReport) {
    let mut expected = Set::default();
    for &i in shards {
        expected.add(&summed(&run.shard(i)));
    }
    let got = summed(&run.merged());
    for (name, histogram) in &expected.0 {
        assert_eq!(&got.0[name], histogram, "{}: {name}", run.name);
        let count = merged.histograms.get(*name).map(|h| h.count);
        assert_eq!(count, Some(histogram.len()), "{}: {name}", run.name);
    }
    assert_eq!(
        got.0["deliver"].len(),
        merged.counter("delivered"),
        "{}: every delivery is in the merged deliver log",
        run.name
    );
}

/// Every interval of a report's `.hlog` files, added up.
fn summed(dir: &Path) -> Set {
    let log = hlog::read(dir).unwrap_or_else(|e| panic!("{e}"));
    let mut total = Set::default();
    for (_, set) in log.intervals.values() {
        total.add(set);
    }
    total
}
