//! `LoadConfig`: `harness load`'s flags and `--profile` file, validated in one step.
//!
//! Everything that can be told wrong without touching the target is told
//! here, before anything runs, and every error is a usage error (exit 2).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use scenarios::Api;

use super::adapter::{self, Access, ProducerCommand};
use super::profile::Profile;
use super::schedule::Schedule;
use super::shard::{self, Shard, ShardArg};
use super::threshold::Threshold;
use crate::cli::LoadArgs;
use crate::target::Credentials;

/// A run of `harness load`, ready to start.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub api: Api,
    /// The run id (a lowercase ULID).
    pub run: String,
    pub profile: Profile,
    pub schedule: Schedule,
    pub thresholds: Vec<Threshold>,
    pub shard: Shard,
    /// The id the workers of one sharded run share, if they were given one.
    pub run_id: Option<String>,
    pub start_at: Option<SystemTime>,
    /// The target's base URL; `None`: start the reference server in this process.
    pub target: Option<String>,
    /// Where subscribers connect, when not to the target.
    pub subscribe_url: Option<String>,
    pub report_dir: PathBuf,
    pub credentials: Credentials,
    /// Control-API token of a reference-server target.
    pub control_token: String,
    /// `Some` for a passive run (nothing published): what subscribers read
    /// (`--stream`), or `None` inside for the API's default.
    pub passive: Option<Option<String>>,
    /// What drives the request load's users.
    pub request_engine: super::requests::Engine,
    /// `--producer`: what Fibric and Pulse publish through.
    pub producer: Option<String>,
    /// `--metrics-out`: where the OpenMetrics text of the run goes.
    pub metrics_out: Option<PathBuf>,
    /// `--remote-write`: the receiver every interval is pushed to, and the
    /// bearer token from `$HARNESS_REMOTE_WRITE_TOKEN`.
    pub remote_write: Option<(String, Option<String>)>,
}

impl LoadConfig {
    /// Resolves the profile under the flags and checks every rule between them.
    pub fn from_args(args: &LoadArgs) -> Result<LoadConfig, String> {
        let profile = Profile::resolve(args)?;
        let schedule = Schedule::new(profile.rate, profile.duration, profile.ramp)?;
        let thresholds = profile
            .thresholds
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Threshold>, String>>()
            .map_err(|message| format!("--threshold {message}"))?;
        let passive = check_shape(args, &profile)?;
        let credentials = Credentials::from_args(&args.credentials, true)?;
        let target = args
            .target
            .as_deref()
            .map(crate::target::parse_url)
            .transpose()
            .map_err(|error| error.to_string())?;
        let subscribe_url = args
            .subscribe_url
            .as_deref()
            .map(crate::target::parse_url)
            .transpose()
            .map_err(|error| format!("--subscribe-url: {error}"))?;
        let run = ulid::Ulid::generate().to_string().to_lowercase();
        let report_dir = args
            .report_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports/out").join(format!("load-{run}")));
        Ok(LoadConfig {
            api: args.api,
            run,
            profile,
            schedule,
            thresholds,
            shard: args.shard.resolve()?,
            run_id: args.run_id.clone().or_else(|| match args.shard {
                ShardArg::Auto => shard::scheduler_run_id(|name| std::env::var(name).ok()),
                ShardArg::Given(_) => None,
            }),
            start_at: args.start_at,
            target,
            subscribe_url,
            report_dir,
            credentials,
            control_token: args.credentials.control_token.clone(),
            passive: passive.then(|| args.stream.clone()),
            request_engine: args.request_engine,
            producer: args.producer.clone(),
            metrics_out: args.metrics_out.clone(),
            remote_write: args
                .remote_write
                .as_deref()
                .map(|url| {
                    let token = std::env::var("HARNESS_REMOTE_WRITE_TOKEN").ok();
                    remote_write_url(url).map(|url| (url, token))
                })
                .transpose()?,
        })
    }

    /// How the adapter reaches a target at `base`.
    pub fn access(&self, base: &str) -> Access {
        Access {
            base: base.to_owned(),
            subscribe_base: self
                .subscribe_url
                .clone()
                .unwrap_or_else(|| base.to_owned()),
            control_token: self.control_token.clone(),
            credentials: self.credentials.clone(),
            passive: self.passive.clone(),
            producer: self.producer.clone().map(|command| ProducerCommand {
                command,
                processes: self.profile.publishers,
            }),
        }
    }

    /// The stream engine's plan.
    pub fn plan(&self) -> super::engine::Plan {
        super::engine::Plan {
            schedule: self.schedule,
            shard: self.shard,
            subscribers: self.profile.subscribers,
            publishers: self.profile.publishers,
            batch: self.profile.batch,
            start_at: self.start_at,
            grace: self.profile.grace,
            interval: self.profile.interval,
        }
    }
}

/// A `--remote-write` endpoint: an http:// or https:// URL with a host (a
/// query is kept: some receivers take their options there).
fn remote_write_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--remote-write {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "--remote-write {url:?}: give an http:// or https:// URL, such as http://prometheus:9090/api/v1/write"
        ));
    }
    Ok(url.to_owned())
}

/// The rules between the settings; says whether the run is passive.
fn check_shape(args: &LoadArgs, profile: &Profile) -> Result<bool, String> {
    if profile.rate == 0.0 && profile.subscribers == 0 && profile.users == 0 {
        return Err(
            "nothing to run: give a --rate, --subscribers or request --users above zero".to_owned(),
        );
    }
    // Subscribers of a run that publishes nothing watch what the target has.
    let passive = profile.rate == 0.0 && profile.subscribers > 0;
    if passive && profile.users > 0 {
        return Err(
            "request --users beside passive subscribers (--rate 0) are not supported; run them apart"
                .to_owned(),
        );
    }
    if let Some(needed) = adapter::passive_needs_stream(args.api).filter(|_| passive)
        && args.stream.is_none()
    {
        return Err(needed.to_owned());
    }
    if args.stream.is_some() && !passive {
        return Err("--stream is for passive subscribers: a run with --rate 0".to_owned());
    }
    if args.producer.is_some() {
        if !matches!(args.api, Api::Fibric | Api::Pulse) {
            return Err(format!(
                "--producer publishes for fibric and pulse; {} publishes through its own API",
                args.api.name()
            ));
        }
        if passive || profile.rate == 0.0 {
            return Err(
                "--producer publishes, but this run publishes nothing (--rate 0)".to_owned(),
            );
        }
    }
    if profile.publishers == 0 {
        return Err("--publishers must be at least 1".to_owned());
    }
    if profile.batch == 0 {
        return Err("--batch must be at least 1".to_owned());
    }
    if profile.batch > 1 && !adapter::takes_batches(args.api) {
        return Err(format!(
            "--batch {}: a {} publish carries one event; batches are for actyx and fibric",
            profile.batch,
            args.api.name()
        ));
    }
    if profile.interval < Duration::from_millis(100) {
        return Err("--interval must be at least 100ms".to_owned());
    }
    Ok(passive)
}
