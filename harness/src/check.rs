//! `harness check`: validate the flags, pick the checks, reach the target, run, report.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use globset::{Glob, GlobSet, GlobSetBuilder};
use scenarios::Api;

use crate::checks;
use crate::cli::CheckArgs;
use crate::events::{Reporter, RunInfo};
use crate::exit::Exit;
use crate::expect::Expectations;
use crate::producer::Producer;
use crate::report::Format;
use crate::report::model::{RunOptions, Summary};
use crate::report::terminal::Terminal;
use crate::report::writer::ReportWriter;
use crate::runner::{self, Check, CheckContext, RunSettings};
use crate::target::{self, Credentials, Target, TargetError};

/// `harness check`'s settings, validated.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub apis: Vec<Api>,
    pub target: Option<String>,
    pub globs: Vec<String>,
    matcher: GlobSet,
    pub seed: u64,
    pub cases: u32,
    pub strict: bool,
    pub report_dir: Option<PathBuf>,
    pub formats: Vec<Format>,
    pub control_token: String,
    pub check_timeout: Duration,
    pub credentials: Credentials,
    pub producer: Option<String>,
    pub patience: Duration,
    /// `--expect`'s entries; empty without the flag.
    pub expect: Expectations,
}

/// A usage problem: reported with exit code 2 before anything runs.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl CheckConfig {
    pub fn from_args(args: &CheckArgs) -> Result<Self, UsageError> {
        let mut apis = if args.apis.is_empty() {
            Api::ALL.to_vec()
        } else {
            args.apis.clone()
        };
        apis.sort();
        apis.dedup();
        let mut builder = GlobSetBuilder::new();
        for glob in &args.checks {
            let compiled = Glob::new(glob)
                .map_err(|e| UsageError(format!("--checks {glob:?} is not a glob: {e}")))?;
            builder.add(compiled);
        }
        let matcher = builder
            .build()
            .map_err(|e| UsageError(format!("--checks: {e}")))?;
        if let Some(url) = &args.target {
            target::parse_url(url).map_err(|e| UsageError(e.to_string()))?;
        }
        let mut credentials =
            Credentials::from_args(&args.credentials, false).map_err(UsageError)?;
        if let Some(url) = &args.plc_url {
            target::parse_url(url).map_err(|e| UsageError(format!("--plc-url: {e}")))?;
            credentials.plc_url = Some(url.clone());
        }
        let expect = match &args.expect {
            Some(path) => Expectations::read(path).map_err(|e| UsageError(e.to_string()))?,
            None => Expectations::default(),
        };
        let mut formats = args.formats.clone();
        formats.sort();
        formats.dedup();
        Ok(Self {
            apis,
            target: args.target.clone(),
            globs: args.checks.clone(),
            matcher,
            seed: args.seed.unwrap_or_else(random_seed),
            cases: args.cases,
            strict: args.strict,
            report_dir: args.report_dir.clone(),
            formats,
            control_token: args.credentials.control_token.clone(),
            check_timeout: args.check_timeout,
            credentials,
            producer: args.producer.clone(),
            patience: args.patience,
            expect,
        })
    }

    /// The checks this run selects, in catalogue order.
    pub fn select<'a>(&self, checks: &'a [Box<dyn Check>]) -> Vec<&'a dyn Check> {
        checks
            .iter()
            .map(|check| &**check)
            .filter(|check| {
                let meta = check.meta();
                self.apis.contains(&meta.api)
                    && (self.globs.is_empty() || self.matcher.is_match(meta.id))
            })
            .collect()
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            apis: self.apis.clone(),
            checks: self.globs.clone(),
            seed: self.seed,
            cases: self.cases,
            strict: self.strict,
        }
    }
}

/// A seed for runs that were not given one; printed and saved, so the run can be repeated.
fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Keep it short enough to type: 0 ..= 2^32 - 1.
    runner::check_seed(nanos as u64, "seed") >> 32
}

/// `harness check --list`: one selected check per line, the id first.
pub fn list(
    config: &CheckConfig,
    checks: &[Box<dyn Check>],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for check in config.select(checks) {
        let meta = check.meta();
        writeln!(out, "{}  {}  {}", meta.id, meta.level, meta.title)?;
    }
    Ok(())
}

/// `harness check --list --rules`: per selected API, the seed's testable rules
/// that checks running against any target assert, then the ids none asserts.
pub fn list_rules(config: &CheckConfig, out: &mut dyn Write) -> anyhow::Result<()> {
    for &api in &config.apis {
        let coverage = scenarios::rules::coverage(api);
        writeln!(
            out,
            "{api}: {} of {} testable rules checked against any target ({:.0} %)",
            coverage.checked,
            coverage.testable,
            coverage.percent()
        )?;
        for rule in &coverage.unchecked {
            writeln!(out, "  {}", rule.id)?;
        }
    }
    Ok(())
}

/// The whole command, with the real catalogue, stdout and the process's exit code.
pub async fn command(args: &CheckArgs) -> Exit {
    let config = match CheckConfig::from_args(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("harness check: {error}");
            return Exit::Usage;
        }
    };
    let registry = checks::registry();
    if args.list {
        let selected = config.select(&registry);
        if selected.is_empty() {
            eprintln!("harness check: {}", nothing_selected(&config));
        }
        let mut out = std::io::stdout().lock();
        let listed = if args.rules {
            list_rules(&config, &mut out)
        } else {
            list(&config, &registry, &mut out)
        };
        return match listed {
            Ok(()) => Exit::Ok,
            Err(error) => {
                eprintln!("harness check: {error:#}");
                Exit::Broken
            }
        };
    }
    match execute(&config, &registry, None).await {
        Ok(summary) => Exit::from_code(summary.exit_code),
        Err(CheckError::Usage(error)) => {
            eprintln!("harness check: {error}");
            Exit::Usage
        }
        Err(CheckError::Unreachable(error)) => {
            eprintln!("harness check: {error}");
            Exit::Broken
        }
        Err(CheckError::Harness(error)) => {
            eprintln!("harness check: {error:#}");
            Exit::Broken
        }
    }
}

fn nothing_selected(config: &CheckConfig) -> String {
    let apis: Vec<&str> = config.apis.iter().map(|a| a.name()).collect();
    if config.globs.is_empty() {
        format!("the catalogue has no checks for {} yet", apis.join(", "))
    } else {
        format!(
            "no check of {} matches {}",
            apis.join(", "),
            config.globs.join(", ")
        )
    }
}

/// How `harness check` can fail before it has a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Harness(#[from] anyhow::Error),
}

/// Runs the selected checks of `registry` and writes the reports. `terminal`
/// replaces stdout for the human summary (tests pass a buffer).
pub async fn execute(
    config: &CheckConfig,
    registry: &[Box<dyn Check>],
    terminal: Option<&mut dyn Write>,
) -> Result<Summary, CheckError> {
    let selected = config.select(registry);
    // Globs that match nothing are a mistake worth stopping for; an API whose
    // catalogue has not landed yet is not, and the summary says so.
    if selected.is_empty() && !config.globs.is_empty() {
        return Err(CheckError::Usage(nothing_selected(config)));
    }
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| CheckError::Harness(e.into()))?;
    let (target, embedded) = reach(config, &http).await?;
    let run_id = ulid::Ulid::generate().to_string();
    let report_dir = config
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join("out").join(&run_id));
    let info = RunInfo {
        run_id,
        started_at: SystemTime::now(),
        target: target.info(),
        options: config.options(),
        checks: selected.iter().map(|c| c.meta()).collect(),
    };
    let producer = match &config.producer {
        Some(command) => Some(Producer::spawn(command).map_err(|e| {
            CheckError::Usage(format!("--producer {command:?} does not start: {e}"))
        })?),
        None => None,
    };
    let ctx = CheckContext {
        target,
        seed: config.seed,
        cases: config.cases,
        http,
        credentials: config.credentials.clone(),
        producer,
        // The embedded server's own timings are short; waiting longer proves nothing.
        patience: if embedded.is_some() {
            config.patience.min(crate::embedded::PATIENCE)
        } else {
            config.patience
        },
        audit: crate::audit::Audit::default(),
    };
    let settings = RunSettings {
        strict: config.strict,
        check_timeout: config.check_timeout,
        report_file: report_dir.join(crate::report::Format::Json.file_name()),
        expect: config.expect.clone(),
    };
    let mut writer = ReportWriter::new(report_dir.clone(), &config.formats);
    let (checks, w) = (&selected[..], &mut writer);
    let result = match terminal {
        Some(out) => {
            let hidden = crate::report::terminal::Progress::Hidden;
            let terminal = Terminal::new(out, false, hidden, report_dir, &config.formats);
            run_with(terminal, w, info, checks, &ctx, &settings).await
        }
        None => {
            let terminal = Terminal::stdout(report_dir, &config.formats);
            run_with(terminal, w, info, checks, &ctx, &settings).await
        }
    };
    if let Some(running) = embedded
        && let Err(error) = running.shutdown().await
    {
        tracing::warn!("the embedded reference server did not stop cleanly: {error:#}");
    }
    Ok(result?)
}

/// Runs the checks with the report writer and `terminal` as reporters.
async fn run_with<W: Write>(
    mut terminal: Terminal<W>,
    writer: &mut ReportWriter,
    info: RunInfo,
    selected: &[&dyn Check],
    ctx: &CheckContext,
    settings: &RunSettings,
) -> anyhow::Result<Summary> {
    let mut reporters: [&mut dyn Reporter; 2] = [writer, &mut terminal];
    runner::run(info, selected, ctx, settings, &mut reporters).await
}

/// The target: `--target` probed, or an embedded reference server (kept running by the returned handle).
async fn reach(
    config: &CheckConfig,
    http: &reqwest::Client,
) -> Result<(Target, Option<reference_server::server::Running>), CheckError> {
    Ok(match &config.target {
        None => {
            let running = crate::embedded::start(
                &config.control_token,
                reference_server::defects::Defects::none(),
            )
            .await
            .map_err(|e| {
                CheckError::Harness(e.context("starting the embedded reference server"))
            })?;
            let target = Target::embedded(running.base_url(), config.control_token.clone());
            (target, Some(running))
        }
        Some(url) => {
            let target = target::probe(url, &config.control_token, http)
                .await
                .map_err(|e| match e {
                    TargetError::BadUrl { .. } => CheckError::Usage(e.to_string()),
                    TargetError::Unreachable { .. } => CheckError::Unreachable(e.to_string()),
                })?;
            (target, None)
        }
    })
}
