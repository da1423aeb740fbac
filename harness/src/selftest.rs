//! `harness selftest`: the catalogue against the reference server, clean and with each defect switched on.
//!
//! It shows two things: the clean server passes every selected check, and
//! every check fails against each defect it names (so no check is one that
//! nothing can fail). Each defect's run covers the checks that name it (and,
//! for a check that judges what the run recorded, the rest of its API's
//! catalogue, which feeds it); the table prints one row per check.

use std::io::Write;
use std::time::SystemTime;

use reference_server::defects::{Defect, Defects};
use scenarios::{Api, Need, Verdict};

use crate::check::CheckConfig;
use crate::checks;
use crate::cli::SelftestArgs;
use crate::events::{CheckResult, Reporter, RunEvent, RunInfo};
use crate::exit::Exit;
use crate::report::model::RunOptions;
use crate::runner::{self, Check, CheckContext, RunSettings};
use crate::target::Target;

/// Keeps every finished check's result.
#[derive(Debug, Default)]
struct Collect(Vec<CheckResult>);

impl Reporter for Collect {
    fn event(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        if let RunEvent::CheckFinished { result, .. } = event {
            self.0.push(result.clone());
        }
        Ok(())
    }
}

/// Runs `checks` against a fresh embedded server with `defects`.
async fn run_against(
    config: &CheckConfig,
    defects: Defects,
    checks: &[&dyn Check],
) -> anyhow::Result<Vec<CheckResult>> {
    let running = crate::embedded::start(&config.control_token, defects).await?;
    let target = Target::embedded(running.base_url(), config.control_token.clone());
    let mut ctx = CheckContext::new(target.clone(), reqwest::Client::new());
    ctx.seed = config.seed;
    ctx.cases = config.cases;
    ctx.patience = crate::embedded::PATIENCE;
    let info = RunInfo {
        run_id: ulid::Ulid::generate().to_string(),
        started_at: SystemTime::now(),
        target: target.info(),
        options: RunOptions {
            apis: config.apis.clone(),
            checks: config.globs.clone(),
            seed: config.seed,
            cases: config.cases,
            strict: false,
        },
        checks: checks.iter().map(|c| c.meta()).collect(),
    };
    let settings = RunSettings {
        strict: false,
        check_timeout: config.check_timeout,
        report_file: std::path::PathBuf::from("selftest.json"),
        expect: crate::expect::Expectations::default(),
    };
    let mut collect = Collect::default();
    let mut reporters: [&mut dyn Reporter; 1] = [&mut collect];
    runner::run(info, checks, &ctx, &settings, &mut reporters).await?;
    running.shutdown().await?;
    Ok(collect.0)
}

/// One row of the table: a check, its clean verdict, and its verdict under each defect it names.
#[derive(Debug)]
pub struct Row {
    pub id: &'static str,
    pub clean: Verdict,
    pub defects: Vec<(&'static str, Verdict)>,
}

impl Row {
    /// Clean passes, and every named defect makes it fail (non-strict counts for SHOULD checks).
    pub fn proven(&self) -> bool {
        self.clean == Verdict::Pass
            && !self.defects.is_empty()
            && self
                .defects
                .iter()
                .all(|(_, v)| matches!(v, Verdict::Fail | Verdict::NonStrict))
    }
}

/// Runs the selftest for the selected checks and returns its rows.
pub async fn rows(config: &CheckConfig) -> anyhow::Result<Vec<Row>> {
    let registry = checks::registry();
    let selected = config.select(&registry);
    let clean = run_against(config, Defects::none(), &selected).await?;
    let mut rows: Vec<Row> = clean
        .iter()
        .map(|r| Row {
            id: r.meta.id,
            clean: r.verdict,
            defects: Vec::new(),
        })
        .collect();
    let mut named: Vec<&'static str> = selected
        .iter()
        .flat_map(|c| c.meta().killed_by.iter().copied())
        .collect();
    named.sort_unstable();
    named.dedup();
    for name in named {
        let Some(defect) = Defect::from_name(name) else {
            anyhow::bail!(
                "a check names the defect {name}, which the reference server does not have"
            );
        };
        let victims = under_defect(&registry, &selected, name);
        let results = run_against(config, Defects::parse(&[defect.name()])?, &victims).await?;
        for result in results {
            if !result.meta.killed_by.contains(&name) {
                continue;
            }
            if let Some(row) = rows.iter_mut().find(|row| row.id == result.meta.id) {
                row.defects.push((name, result.verdict));
            }
        }
    }
    Ok(rows)
}

/// The checks a defect's run takes: the selected ones that name it, and,
/// when one of those judges what the run recorded (`Need::Transcripts`),
/// every check of its API in the catalogue, whose cases feed it.
fn under_defect<'a>(
    registry: &'a [Box<dyn Check>],
    selected: &[&'a dyn Check],
    name: &str,
) -> Vec<&'a dyn Check> {
    let victims: Vec<&dyn Check> = selected
        .iter()
        .copied()
        .filter(|c| c.meta().killed_by.contains(&name))
        .collect();
    let audited: Vec<Api> = victims
        .iter()
        .filter(|c| c.meta().needs.contains(&Need::Transcripts))
        .map(|c| c.meta().api)
        .collect();
    if audited.is_empty() {
        return victims;
    }
    registry
        .iter()
        .map(AsRef::as_ref)
        .filter(|c| {
            let meta = c.meta();
            audited.contains(&meta.api) || victims.iter().any(|v| v.meta().id == meta.id)
        })
        .collect()
}

/// Prints the table: one line per check, `✓` where a defect made it fail, `✗` where it did not.
pub fn print_table(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(10);
    writeln!(out, "{:width$}  {:<6}  killed by", "check", "clean")?;
    for row in rows {
        let defects: Vec<String> = row
            .defects
            .iter()
            .map(|(name, verdict)| {
                let mark = if matches!(verdict, Verdict::Fail | Verdict::NonStrict) {
                    "✓"
                } else {
                    "✗"
                };
                format!("{mark} {name}")
            })
            .collect();
        let status = if row.proven() { "" } else { "   <- NOT PROVEN" };
        writeln!(
            out,
            "{:width$}  {:<6}  {}{status}",
            row.id,
            row.clean.name(),
            defects.join(", ")
        )?;
    }
    Ok(())
}

pub async fn command(args: &SelftestArgs) -> Exit {
    let check_args = crate::cli::CheckArgs {
        apis: args.apis.clone(),
        target: None,
        checks: args.checks.clone(),
        seed: Some(args.seed),
        cases: args.cases,
        strict: false,
        expect: None,
        report_dir: None,
        formats: Vec::new(),
        list: false,
        rules: false,
        credentials: crate::cli::CredentialArgs {
            control_token: "control_test_token".to_owned(),
            fibric_keys: Vec::new(),
            pulse_keys: Vec::new(),
            fauna_secret: None,
            actyx_app_id: None,
        },
        check_timeout: std::time::Duration::from_secs(120),
        producer: None,
        plc_url: None,
        patience: crate::embedded::PATIENCE,
    };
    let config = match CheckConfig::from_args(&check_args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("harness selftest: {error}");
            return Exit::Usage;
        }
    };
    let rows = match rows(&config).await {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("harness selftest: {error:#}");
            return Exit::Broken;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = print_table(&mut out, &rows);
    let unproven: Vec<&str> = rows.iter().filter(|r| !r.proven()).map(|r| r.id).collect();
    if unproven.is_empty() {
        let _ = writeln!(
            out,
            "selftest: all {} checks pass on the clean server and fail under each defect they name",
            rows.len()
        );
        Exit::Ok
    } else {
        let _ = writeln!(
            out,
            "selftest: {} of {} checks not proven: {}",
            unproven.len(),
            rows.len(),
            unproven.join(", ")
        );
        Exit::Failed
    }
}
