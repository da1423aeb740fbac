//! The command line: every subcommand of the CLI contract, parsed by clap into typed arguments.
//!
//! Flags become validated settings in one step per command (see
//! [`crate::check::CheckConfig::from_args`]); nothing below that step sees raw flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use scenarios::Api;

use crate::report::Format;

/// Conformance checks, load tests, a fault proxy and wire snapshots for
/// event-streaming APIs (Fauna, Prisma Pulse, AT Protocol, Actyx, Fibric).
///
/// Exit codes: 0 every MUST check passed (or every threshold held); 1 a check
/// or threshold failed, or a merge lacks a shard; 2 bad usage or
/// configuration; 3 the target could not be reached or the harness itself failed.
#[derive(Debug, Parser)]
#[command(name = "harness", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance checks against a target (default: the embedded reference server).
    Check(Box<CheckArgs>),
    /// Re-run one failing case saved in a report.
    Replay(ReplayArgs),
    /// Load-test a target: subscribers, a publisher at a fixed rate, latency histograms.
    Load(Box<LoadArgs>),
    /// Run the fault proxy on its own, between a client and a server.
    Proxy(ProxyArgs),
    /// Record or check wire-format snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Render or merge reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Show that every check is failed by some reference-server defect and passed by the clean server.
    Selftest(SelftestArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration (try 30s or 500ms): {e}"))
}

/// How the harness authenticates to a target: the same flags for `check` and `load`.
///
/// Every default is the reference server's development credential.
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// Control-API token of a reference-server target (Fibric and foreign events are published through it).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HARNESS_CONTROL_TOKEN",
        default_value = "control_test_token"
    )]
    pub control_token: String,
    /// A Fibric API key and its tenant, as KEY=TENANT (repeatable). The checks
    /// need two, of different tenants; load uses the first. Default:
    /// sk_test_tenant_a=tn_a and sk_test_tenant_b=tn_b.
    #[arg(long = "fibric-key", value_name = "KEY=TENANT")]
    pub fibric_keys: Vec<String>,
    /// A Prisma Pulse API key (repeatable). The first is the one every check
    /// and load uses; a second, of another environment, lets the environment
    /// check run (without it, that check is skipped). Default: pulse_test_key
    /// and pulse_test_key_2.
    #[arg(long = "pulse-key", value_name = "KEY")]
    pub pulse_keys: Vec<String>,
    /// The Fauna secret queries and streams use (default: fauna_test_secret).
    #[arg(long, value_name = "SECRET", env = "HARNESS_FAUNA_SECRET")]
    pub fauna_secret: Option<String>,
    /// The Actyx app id the harness authenticates as (default: com.example.harness).
    #[arg(long, value_name = "APP_ID")]
    pub actyx_app_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this API (repeatable): fibric, pulse, fauna, actyx, atproto. Default: all.
    #[arg(long = "api", value_name = "API")]
    pub apis: Vec<Api>,
    /// Base URL of the server under test. Default: start the reference server in-process.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Only checks whose id matches this glob (repeatable), e.g. 'fibric/cursor/*'.
    #[arg(long = "checks", value_name = "GLOB")]
    pub checks: Vec<String>,
    /// Seed of the generated plans; a run with the same seed does the same thing.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Generated cases per property check.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub cases: u32,
    /// SHOULD checks that are not met fail the run.
    #[arg(long)]
    pub strict: bool,
    /// A TOML file of the target's known deviations ([[expect]] check, verdict, why):
    /// an expected verdict does not fail the run; any other verdict of a listed
    /// check does, also a pass (the entry is stale).
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Where to write the reports. Default: reports/out/<run id>.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Also write this format (repeatable): junit, markdown, html. report.json is always written.
    #[arg(long = "format", value_name = "FMT")]
    pub formats: Vec<Format>,
    /// Print every selected check (id, level, title) and exit without running anything.
    #[arg(long)]
    pub list: bool,
    /// With --list: print, per API, how many of the seed's testable rules the
    /// checks assert against any target, then the ids of those none asserts.
    #[arg(long, requires = "list")]
    pub rules: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// A check still running after this long is stopped and reported as a harness error.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub check_timeout: Duration,
    /// A command that publishes events on a target that is not a reference server
    /// (JSON requests on stdin, one JSON answer per line on stdout; see the README).
    #[arg(long, value_name = "CMD")]
    pub producer: Option<String>,
    /// The PLC directory that resolves the AT Protocol target's DIDs (default: the target's /_plc).
    #[arg(long, value_name = "URL")]
    pub plc_url: Option<String>,
    /// How long to wait for what takes the target's own time: a keep-alive, cutting a stalled consumer.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub patience: Duration,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A report.json written by `harness check`.
    pub file: PathBuf,
    /// Which failing check to replay, when the report has several.
    #[arg(long = "check", value_name = "ID")]
    pub check: Option<String>,
    /// Replay against this server instead of the report's target.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The target's credentials, as `harness check` takes them.
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// A command that publishes events on a target that is not a reference server.
    #[arg(long, value_name = "CMD")]
    pub producer: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long, value_name = "API")]
    pub api: Api,
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// A load profile (TOML: rate, duration, ramp, subscribers, publishers,
    /// grace, interval, thresholds); flags override it. See fixtures/load/.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Concurrent stream subscribers.
    #[arg(long, value_name = "N")]
    pub subscribers: Option<u32>,
    /// Events published per second, or `max`: a closed loop, each publisher
    /// sending its next request as soon as the last is acknowledged.
    #[arg(long, value_name = "R", value_parser = crate::load::schedule::parse_rate)]
    pub rate: Option<f64>,
    /// How long the run publishes, ramp included.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// A threshold such as 'deliver.p99<50ms' (repeatable); a broken one exits 1.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Publisher workers; each sends its share of the events one request at a time [default: 1].
    #[arg(long, value_name = "N")]
    pub publishers: Option<u32>,
    /// Events per publish request (Actyx and Fibric take several) [default: 1].
    #[arg(long, value_name = "N")]
    pub batch: Option<u32>,
    /// How long the rate takes to climb from zero (part of --duration) [default: 0s].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub ramp: Option<Duration>,
    /// This worker's share of the load, as i/N (the events k with k mod N = i),
    /// or `auto`: from a Slurm job array, a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, HARNESS_SHARD_COUNT) or MPI.
    #[arg(long, value_name = "I/N|auto", default_value = "0/1")]
    pub shard: crate::load::shard::ShardArg,
    /// An id every worker of one sharded run shares (a scheduler's job id);
    /// `report merge` refuses reports whose ids differ. Default with
    /// `--shard auto` in a Slurm array: slurm-$SLURM_ARRAY_JOB_ID.
    #[arg(long, value_name = "ID", env = "HARNESS_RUN_ID", value_parser = crate::load::shard::parse_run_id)]
    pub run_id: Option<String>,
    /// When the schedule starts, as RFC 3339 (so that N workers start together).
    /// Default: once every subscriber is connected.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
    /// How long subscribers may still receive after the last publish [default: 5s].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// The length of an interval in the HDR interval logs [default: 1s].
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Request/response load: users sending the API's requests back to
    /// back for --duration, beside the streams [default: 0]. With users,
    /// --rate and --subscribers default to 0.
    #[arg(long, value_name = "N")]
    pub users: Option<u32>,
    /// A request endpoint the users drive (repeatable): fibric list; pulse
    /// streams, lookup; fauna query, feed; actyx offsets, query, publish; atproto
    /// getLatestCommit, describeServer, createRecord. Default: every one that
    /// only reads.
    #[arg(long = "endpoint", value_name = "NAME")]
    pub endpoints: Vec<String>,
    /// What drives the --users: `direct` (hyper connections of the harness's
    /// own, plain http:// only) or `goose` (goose users, with goose's HTML and
    /// JSON reports; every https:// target goes through goose).
    #[arg(long, value_name = "ENGINE", default_value = "direct")]
    pub request_engine: crate::load::requests::Engine,
    /// What passive subscribers read, in a run that publishes nothing (--rate 0):
    /// Fibric filters as a query string (event_type=order.*; default all), a
    /// Pulse model (required), a Fauna FQL set (Product.all(); required), an
    /// Actyx AQL query (default FROM allEvents); the AT firehose takes none.
    #[arg(long, value_name = "WHAT")]
    pub stream: Option<String>,
    /// Where subscribers connect, when not to --target: a fault proxy in
    /// front of it, say. Publishers always go to --target.
    #[arg(long, value_name = "URL")]
    pub subscribe_url: Option<String>,
    /// Also write the run's counters and histograms (cumulative buckets) to
    /// FILE as OpenMetrics text, for `promtool` or a backfill.
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
    /// Push every interval's counters and histograms to this Prometheus
    /// remote-write endpoint (e.g. http://prometheus:9090/api/v1/write);
    /// a bearer token comes from $HARNESS_REMOTE_WRITE_TOKEN. A receiver
    /// that refuses or is down is reported, never waited for.
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,
    /// Publish through this command instead of the reference server's control
    /// API (Fibric and Pulse): `check`'s producer protocol, Fibric batches as
    /// one `envelopes` request; one process per publisher worker.
    #[arg(long, value_name = "CMD")]
    pub producer: Option<String>,
}

fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (try 2026-11-23T10:00:00Z): {e}"))
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where the proxy listens; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The server to forward to, as HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub upstream: String,
    /// The fault schedule, e.g. 'conn 1: after 3 frames + 5 bytes, rst; all: latency 20ms'.
    #[arg(long, value_name = "SPEC", default_value = "")]
    pub schedule: String,
    /// What a frame is in response bodies: sse, lines or raw.
    #[arg(long, value_name = "FRAMING", default_value = "sse", value_parser = ["sse", "lines", "raw"])]
    pub framing: String,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Run the snapshot script against a target and write one file per exchange.
    Record(SnapshotArgs),
    /// Run it again and fail with a diff on any change.
    Check(SnapshotArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[arg(long, value_name = "API")]
    pub api: Api,
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Accept the changes (check only).
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render a report.json again in other formats.
    Render(RenderArgs),
    /// Add the histograms of several load workers into one report: the shards
    /// of one run, each once; missing shards make it incomplete (exit 1).
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A report.json written by `harness check`.
    pub file: PathBuf,
    /// Format to write (repeatable). Default: junit, markdown and html.
    #[arg(long = "format", value_name = "FMT")]
    pub formats: Vec<Format>,
    /// Folder to write into. Default: the report's own folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The workers' report folders (or their load.json); a folder without a
    /// load.json is a worker that did not finish, and is skipped.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write the merged run's counters and histograms to FILE as OpenMetrics text.
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Only this API's checks (repeatable). Default: all.
    #[arg(long = "api", value_name = "API")]
    pub apis: Vec<Api>,
    /// Only checks whose id matches this glob (repeatable).
    #[arg(long = "checks", value_name = "GLOB")]
    pub checks: Vec<String>,
    /// Seed of the generated plans.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Generated cases per property check.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub cases: u32,
}
