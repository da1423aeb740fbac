//! A throwaway Slurm cluster on this host: munged, slurmctld and three slurmd in a temp dir, each stopped by its PID when dropped.
//!
//! Every daemon runs in the foreground (`-F`, `-D`) as a child of the test,
//! so its PID is the child's and nothing is read back from pidfiles. munged
//! listens on a socket in the temp dir (`AuthInfo=socket=…`), so a munged of
//! the system or of another run is neither used nor disturbed, and the ports
//! are free ones picked at start.

use std::fmt::Write as _;
use std::fs::{self, File, Permissions};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nodes, one CPU each: a three-task array runs one task per node, and
/// the merge gets a node once the array is done.
pub const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// How long the daemons may take to come up, and to stop.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// In start order; stopped in reverse.
    daemons: Vec<Daemon>,
}

struct Daemon {
    name: String,
    child: Child,
    /// Its stdout and stderr, for failure messages.
    log: PathBuf,
}

impl Cluster {
    /// Writes `slurm.conf`, starts munged, slurmctld and the slurmd of
    /// [`NODES`], and returns once `sinfo` shows every node idle.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        // munged runs as the munge user, which must reach its socket in here.
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755)).unwrap();
        for sub in ["munge", "state", "spool", "log", "jobs"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let conf = dir.path().join("slurm.conf");
        fs::write(&conf, slurm_conf(dir.path(), &free_ports())).unwrap();
        // From here on a panic drops the cluster, which stops what has started.
        let mut cluster = Cluster {
            dir,
            conf,
            daemons: Vec::new(),
        };
        cluster.start_munged();
        let conf = cluster.conf.to_str().unwrap().to_owned();
        let mut slurmctld = Command::new("slurmctld");
        slurmctld.args(["-D", "-i", "-f", &conf]);
        cluster.spawn("slurmctld", slurmctld);
        for node in NODES {
            let mut slurmd = Command::new("slurmd");
            slurmd.args(["-D", "-N", node, "-f", &conf]);
            cluster.spawn(&format!("slurmd-{node}"), slurmd);
        }
        cluster.wait_until("every node idle in sinfo", DAEMON_TIMEOUT, |c| {
            c.idle_nodes() == NODES.len()
        });
        cluster
    }

    /// A path in the cluster's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where job output goes: [`Cluster::explain`] shows the tail of every file in it.
    pub fn jobs_dir(&self) -> PathBuf {
        self.path("jobs")
    }

    /// A Slurm client command that talks to this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        command
    }

    /// Runs a client command and returns its stdout; a failure panics with the cluster's state.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.explain()
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Polls `done` until it holds; panics with the daemons' logs after
    /// `timeout`, or as soon as a daemon has exited.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, done: impl Fn(&Cluster) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return;
            }
            if let Some(exited) = self.exited() {
                panic!("{exited} while waiting for {what}\n{}", self.explain());
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after {timeout:?}\n{}",
                self.explain()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What a failure message needs: the queue, and the tail of every daemon log and job output.
    pub fn explain(&self) -> String {
        let mut out = String::from("--- squeue -t all\n");
        if let Ok(queue) = self
            .command("squeue")
            .args(["-t", "all", "-o", "%i %T %r %N %e"])
            .output()
        {
            out.push_str(&String::from_utf8_lossy(&queue.stdout));
            out.push_str(&String::from_utf8_lossy(&queue.stderr));
        }
        let mut files: Vec<PathBuf> = self.daemons.iter().map(|d| d.log.clone()).collect();
        if let Ok(entries) = fs::read_dir(self.jobs_dir()) {
            let mut outputs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            outputs.sort();
            files.extend(outputs);
        }
        for file in files {
            let _ = writeln!(out, "--- {}\n{}", file.display(), tail(&file, 15));
        }
        out
    }

    /// munged as the munge user, on its own socket, key from the package.
    fn start_munged(&mut self) {
        let munge = self.path("munge");
        let (uid, gid) = user_ids("munge");
        std::os::unix::fs::chown(&munge, Some(uid), Some(gid)).unwrap();
        let socket = munge.join("munge.socket");
        // setpriv execs munged, so the child's PID is munged's.
        let mut munged = Command::new("setpriv");
        munged
            .args(["--reuid=munge", "--regid=munge", "--clear-groups"])
            .args(["/usr/sbin/munged", "-F"])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            ));
        self.spawn("munged", munged);
        self.wait_until("munged's socket", DAEMON_TIMEOUT, |_| socket.exists());
    }

    fn spawn(&mut self, name: &str, mut command: Command) {
        let log = self.path("log").join(format!("{name}.log"));
        let file = File::create(&log).unwrap();
        let child = command
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}\n{}", self.explain()));
        self.daemons.push(Daemon {
            name: name.to_owned(),
            child,
            log,
        });
    }

    /// The first daemon that has exited, and how.
    fn exited(&mut self) -> Option<String> {
        self.daemons.iter_mut().find_map(|d| {
            let status = d.child.try_wait().ok()??;
            Some(format!(
                "{} (pid {}) exited: {status}",
                d.name,
                d.child.id()
            ))
        })
    }

    fn idle_nodes(&self) -> usize {
        let Ok(output) = self
            .command("sinfo")
            .args(["-h", "-N", "-o", "%N %T"])
            .output()
        else {
            return 0;
        };
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.ends_with(" idle"))
            .count()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failed case can leave jobs running: cancel them while slurmctld
        // and slurmd are still there to kill their processes.
        let idle = |c: &Cluster| {
            c.command("squeue")
                .args(["-h", "-t", "pending,running,completing"])
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout.is_empty())
        };
        if !self.daemons.is_empty() && !idle(self) {
            let _ = self.command("scancel").arg("--me").status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while !idle(self) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for daemon in self.daemons.iter_mut().rev() {
            stop(&mut daemon.child);
        }
    }
}

/// SIGTERM by PID, then SIGKILL if it has not exited in [`STOP_TIMEOUT`]; waits either way.
fn stop(child: &mut Child) {
    // One already reaped (see `exited`) may have had its PID reused: leave it.
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The configuration: no cgroups, no accounting database, everything in `dir`.
fn slurm_conf(dir: &Path, ports: &[u16; 4]) -> String {
    let dir = dir.display();
    let mut conf = format!(
        "ClusterName=harness\n\
         SlurmctldHost=localhost\n\
         SlurmctldPort={ctld}\n\
         AuthType=auth/munge\n\
         CredType=cred/munge\n\
         AuthInfo=socket={dir}/munge/munge.socket\n\
         SlurmUser=root\n\
         SlurmdUser=root\n\
         StateSaveLocation={dir}/state\n\
         SlurmdSpoolDir={dir}/spool/%n\n\
         SlurmctldPidFile={dir}/state/slurmctld.pid\n\
         SlurmdPidFile={dir}/spool/slurmd-%n.pid\n\
         ProctrackType=proctrack/linuxproc\n\
         TaskPlugin=task/none\n\
         JobAcctGatherType=jobacct_gather/none\n\
         AccountingStorageType=accounting_storage/none\n\
         SelectType=select/cons_tres\n\
         SelectTypeParameters=CR_CPU\n\
         MpiDefault=none\n\
         ReturnToService=2\n\
         # A cancelled or lost shard must stay lost, not be rerun minutes later.\n\
         JobRequeue=0\n\
         # Finished jobs stay visible to scontrol: there is no slurmdbd for sacct.\n\
         MinJobAge=3600\n\
         # Start jobs as soon as they are submitted or their dependency is met.\n\
         SchedulerParameters=batch_sched_delay=0,sched_interval=5\n",
        ctld = ports[0],
    );
    for (node, port) in NODES.iter().zip(&ports[1..]) {
        let _ = writeln!(
            conf,
            "NodeName={node} NodeHostname=localhost Port={port} CPUs=1 State=UNKNOWN"
        );
    }
    let _ = writeln!(
        conf,
        "PartitionName=harness Nodes={} Default=YES MaxTime=INFINITE State=UP",
        NODES.join(",")
    );
    conf
}

/// Four ports free right now: slurmctld's and one per slurmd. All are held
/// at once so that they differ.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("0.0.0.0:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A user's uid and gid, from `/etc/passwd`.
fn user_ids(user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 3 && fields[0] == user)
        .map(|fields| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        .unwrap_or_else(|| panic!("no user {user} in /etc/passwd: is munge installed?"))
}

/// The last `lines` lines of a file, or why it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({e})"),
    }
}
