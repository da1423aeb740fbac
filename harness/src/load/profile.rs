//! Load profiles: the shape of a run from a TOML file (`--profile`), with flags overriding it.
//!
//! ```toml
//! # fixtures/load/smoke.toml
//! rate = 50            # events per second over all workers, or "max" (closed loop)
//! duration = "5s"      # ramp included
//! ramp = "1s"
//! subscribers = 10
//! publishers = 1
//! batch = 1            # events per publish request (Actyx, Fibric)
//! grace = "5s"
//! interval = "1s"
//! thresholds = ["deliver.p99<250ms", "lost==0"]
//! users = 0            # request/response load users
//! endpoints = []       # which request endpoints; default: every read
//! ```
//!
//! Every key is optional in the file; `duration` must come from the file or
//! a flag, and so must `rate` and `subscribers` unless the run has request
//! users (then they default to 0). Thresholds and endpoints from both add up.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::LoadArgs;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rate: Option<FileRate>,
    duration: Option<String>,
    ramp: Option<String>,
    subscribers: Option<u32>,
    publishers: Option<u32>,
    batch: Option<u32>,
    grace: Option<String>,
    interval: Option<String>,
    #[serde(default)]
    thresholds: Vec<String>,
    users: Option<u32>,
    #[serde(default)]
    endpoints: Vec<String>,
}

/// A `rate` in a profile file: events per second, or `"max"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileRate {
    PerSecond(f64),
    Word(String),
}

impl FileRate {
    fn resolve(&self) -> Result<f64, String> {
        match self {
            FileRate::PerSecond(rate) => Ok(*rate),
            FileRate::Word(word) => {
                super::schedule::parse_rate(word).map_err(|e| format!("rate = {e}"))
            }
        }
    }
}

/// A run's shape, flags and file resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub rate: f64,
    pub duration: Duration,
    pub ramp: Duration,
    pub subscribers: u32,
    pub publishers: u32,
    /// Events per publish request.
    pub batch: u32,
    pub grace: Duration,
    pub interval: Duration,
    pub thresholds: Vec<String>,
    /// Request/response load users.
    pub users: u32,
    /// The request endpoints they drive; empty means every read endpoint.
    pub endpoints: Vec<String>,
}

fn duration(key: &str, text: Option<&str>) -> Result<Option<Duration>, String> {
    text.map(|t| {
        humantime::parse_duration(t)
            .map_err(|e| format!("{key} = {t:?} is not a duration (try \"30s\"): {e}"))
    })
    .transpose()
}

impl Profile {
    /// The profile of `args`: its `--profile` file, if any, under its flags.
    pub fn resolve(args: &LoadArgs) -> Result<Profile, String> {
        let file = match &args.profile {
            Some(path) => read(path)?,
            None => File::default(),
        };
        let missing =
            |what: &str| format!("give {what} as a flag (--{what}) or in the --profile file");
        let from_file = |key: &str, text: &Option<String>| duration(key, text.as_deref());
        let mut thresholds = file.thresholds.clone();
        thresholds.extend(args.thresholds.iter().cloned());
        let mut endpoints = file.endpoints.clone();
        endpoints.extend(args.endpoints.iter().cloned());
        let users = args.users.or(file.users).unwrap_or(0);
        // A request-only run publishes nothing and subscribes nowhere unless told to.
        let streams_default = (users > 0).then_some(0);
        Ok(Profile {
            rate: args
                .rate
                .or(file.rate.as_ref().map(FileRate::resolve).transpose()?)
                .or(streams_default.map(f64::from))
                .ok_or_else(|| missing("rate"))?,
            duration: args
                .duration
                .or(from_file("duration", &file.duration)?)
                .ok_or_else(|| missing("duration"))?,
            ramp: args
                .ramp
                .or(from_file("ramp", &file.ramp)?)
                .unwrap_or_default(),
            subscribers: args
                .subscribers
                .or(file.subscribers)
                .or(streams_default)
                .ok_or_else(|| missing("subscribers"))?,
            publishers: args.publishers.or(file.publishers).unwrap_or(1),
            batch: args.batch.or(file.batch).unwrap_or(1),
            grace: args
                .grace
                .or(from_file("grace", &file.grace)?)
                .unwrap_or(Duration::from_secs(5)),
            interval: args
                .interval
                .or(from_file("interval", &file.interval)?)
                .unwrap_or(Duration::from_secs(1)),
            thresholds,
            users,
            endpoints,
        })
    }
}

fn read(path: &Path) -> Result<File, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--profile {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("--profile {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> LoadArgs {
        let mut all = vec!["harness", "load", "--api", "fibric"];
        all.extend_from_slice(argv);
        match Cli::parse_from(all).command {
            Command::Load(args) => *args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_override_the_file_and_thresholds_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "rate = 50\nduration = \"5s\"\nsubscribers = 10\nthresholds = [\"lost==0\"]\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let profile = Profile::resolve(&args(&[
            "--profile",
            p,
            "--rate",
            "80",
            "--threshold",
            "deliver.p99<1s",
        ]))
        .unwrap();
        assert_eq!(profile.rate, 80.0);
        assert_eq!(profile.duration, Duration::from_secs(5));
        assert_eq!(profile.subscribers, 10);
        assert_eq!(profile.publishers, 1);
        assert_eq!(profile.thresholds, ["lost==0", "deliver.p99<1s"]);
    }

    #[test]
    fn a_missing_setting_or_a_bad_file_says_what_is_wrong() {
        let error = Profile::resolve(&args(&["--rate", "5", "--duration", "1s"])).unwrap_err();
        assert!(error.contains("--subscribers"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "rate = 5\nspeed = 3\n").unwrap();
        let error = Profile::resolve(&args(&["--profile", path.to_str().unwrap()])).unwrap_err();
        assert!(error.contains("speed"), "{error}");
        std::fs::write(&path, "rate = 5\nsubscribers = 1\nduration = \"soon\"\n").unwrap();
        let error = Profile::resolve(&args(&["--profile", path.to_str().unwrap()])).unwrap_err();
        assert!(error.contains("not a duration"), "{error}");
    }

    #[test]
    fn a_file_may_ask_for_the_closed_loop_and_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "rate = \"max\"\nbatch = 10\nduration = \"5s\"\nsubscribers = 1\n",
        )
        .unwrap();
        let profile = Profile::resolve(&args(&["--profile", path.to_str().unwrap()])).unwrap();
        assert!(profile.rate.is_infinite());
        assert_eq!(profile.batch, 10);
        std::fs::write(
            &path,
            "rate = \"quick\"\nduration = \"5s\"\nsubscribers = 1\n",
        )
        .unwrap();
        let error = Profile::resolve(&args(&["--profile", path.to_str().unwrap()])).unwrap_err();
        assert!(error.contains("not a rate"), "{error}");
    }

    #[test]
    fn request_users_alone_make_a_run_without_streams() {
        let profile = Profile::resolve(&args(&[
            "--users",
            "4",
            "--duration",
            "2s",
            "--endpoint",
            "list",
        ]))
        .unwrap();
        assert_eq!((profile.rate, profile.subscribers), (0.0, 0));
        assert_eq!(
            (profile.users, profile.endpoints.as_slice()),
            (4, &["list".to_owned()][..])
        );
        // Streams asked for explicitly still run beside the users.
        let profile =
            Profile::resolve(&args(&["--users", "2", "--duration", "1s", "--rate", "9"])).unwrap();
        assert_eq!(profile.rate, 9.0);
    }

    #[test]
    fn the_committed_profiles_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/load");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let profile = Profile::resolve(&args(&["--profile", path.to_str().unwrap()]))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for threshold in &profile.thresholds {
                threshold
                    .parse::<super::super::threshold::Threshold>()
                    .unwrap();
            }
            seen += 1;
        }
        assert!(seen >= 2);
    }
}
