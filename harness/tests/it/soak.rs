//! `reports/bench/soak.sh` end to end: a 30 s soak of all five APIs at once writes its results, samples and plot, and loses nothing.
//!
//! The script runs the harness and reference server binaries of this build
//! (`SOAK_BIN_DIR`), with small loads fit for a debug build on a busy 2-core
//! machine. Thirty seconds prove that the script works; whether memory stays
//! flat is for the hour-long run, so the RSS tolerance here only refuses a
//! runaway. The
//! script needs bash and python3 (standard library only).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The run: 30 s of load, the grace period, the debug harnesses' reports.
const TIMEOUT: Duration = Duration::from_secs(150);

const APIS: [&str; 5] = ["fibric", "pulse", "fauna", "actyx", "atproto"];

/// Stops the script's process group (bash, the server, the harnesses) when
/// dropped; SIGTERM, so that the script's trap stops what it started.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

/// The cells of the Markdown table row of results.md that starts with `| first |`, by column name.
fn row(results: &str, first: &str) -> Option<Vec<(String, String)>> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let mut header = None;
    for line in results.lines() {
        if line.starts_with("| process |") {
            header = Some(cells(line));
        } else if let Some(header) = &header
            && line.starts_with(&format!("| {first} |"))
        {
            return Some(header.iter().cloned().zip(cells(line)).collect());
        }
    }
    None
}

#[test]
fn a_30_second_soak_of_the_five_apis_writes_its_results_and_loses_nothing() {
    testenv::program("python3");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin: PathBuf = Path::new(env!("CARGO_BIN_EXE_harness"))
        .parent()
        .unwrap()
        .to_owned();
    assert!(
        bin.join("reference-server").is_file(),
        "no reference-server beside the harness in {}: build it too (cargo build -p reference-server, \
         or run the workspace's tests)",
        bin.display()
    );
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let log = |name: &str| std::fs::File::create(work.path().join(name)).unwrap();
    let child = Command::new("bash")
        .arg(root.join("reports/bench/soak.sh"))
        .arg("30s")
        .current_dir(&root)
        .env("SOAK_BIN_DIR", &bin)
        .env("SOAK_OUT", out.path())
        .env("SOAK_FIBRIC", "20 20")
        .env("SOAK_PULSE", "20 20")
        .env("SOAK_FAUNA", "20 20")
        .env("SOAK_ACTYX", "20 20")
        .env("SOAK_ATPROTO", "20 20")
        // Thirty seconds prove the script, not flatness (the hour run does
        // that): a harness keeps every interval's histograms until its report,
        // about 1.8 MiB a second (issue 25's note), so only a runaway is
        // refused here. The other tests share the machine, so one slow
        // interval is not news either.
        .env("SOAK_RSS_TOLERANCE", "4")
        .env("SOAK_P99_FACTOR", "10")
        .stdin(Stdio::null())
        .stdout(log("stdout.txt"))
        .stderr(log("stderr.txt"))
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let mut group = Group(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = group.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(group);
    let logs = || {
        let mut text = format!(
            "stdout:\n{}\nstderr:\n{}",
            read(&work.path().join("stdout.txt")),
            read(&work.path().join("stderr.txt"))
        );
        for api in APIS {
            text.push_str(&format!(
                "\n{api}.log:\n{}",
                read(&out.path().join(format!("{api}.log")))
            ));
        }
        text
    };
    let Some(status) = status else {
        panic!("soak.sh took longer than {TIMEOUT:?}\n{}", logs());
    };
    assert!(status.success(), "soak.sh exited {status}\n{}", logs());
    for file in ["results.md", "rss.csv", "soak.svg"] {
        assert!(
            out.path().join(file).is_file(),
            "soak.sh wrote no {file}\n{}",
            logs()
        );
    }
    let samples = read(&out.path().join("rss.csv")).lines().count() - 1;
    assert!(
        samples >= 20,
        "rss.csv has {samples} samples in a 30 s run\n{}",
        logs()
    );
    let results = read(&out.path().join("results.md"));
    for api in APIS {
        let cells = row(&results, api)
            .unwrap_or_else(|| panic!("results.md has no row for {api}:\n{results}"));
        let lost = cells.iter().find(|(column, _)| column == "lost");
        assert_eq!(
            lost.map(|(_, value)| value.as_str()),
            Some("0"),
            "{api}: {cells:?}\n{results}"
        );
    }
}
