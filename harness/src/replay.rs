//! `harness replay FILE [--check ID]`: runs the minimal failing case saved in a report again.
//!
//! The target is the report's (a fresh embedded reference server when the
//! run used one), or `--target`. The output is the verdict, the findings and
//! the transcript of this run; the exit code is 1 while the case still fails.

use std::io::Write;
use std::time::Instant;

use scenarios::Verdict;
use scenarios::transcript::Transcript;

use crate::checks;
use crate::cli::ReplayArgs;
use crate::events::CheckResult;
use crate::exit::Exit;
use crate::report::model::{CheckReport, Report, TargetKind};
use crate::runner::{CheckContext, result_of};
use crate::target::{self, Credentials, Target};

/// The saved case to replay: the one named, or the only one there is.
fn pick<'a>(report: &'a Report, id: Option<&str>) -> Result<&'a CheckReport, String> {
    let saved: Vec<&CheckReport> = report.checks.iter().filter(|c| c.case.is_some()).collect();
    match id {
        Some(id) => report
            .checks
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| format!("the report has no check {id}"))
            .and_then(|c| {
                if c.case.is_some() {
                    Ok(c)
                } else {
                    Err(format!("{id} has no saved case (only failures found by generated plans have one); run it with: {}", c.replay))
                }
            }),
        None => match saved.as_slice() {
            [one] => Ok(one),
            [] => Err("the report has no saved failing case".to_owned()),
            many => Err(format!(
                "the report has {} saved cases; pick one with --check: {}",
                many.len(),
                many.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
            )),
        },
    }
}

/// Prints a transcript one observation per line.
pub fn print_transcript(out: &mut dyn Write, transcript: &Transcript) -> std::io::Result<()> {
    for entry in &transcript.entries {
        let mut detail = serde_json::to_value(&entry.observed).unwrap_or_default();
        let kind = detail["kind"].as_str().unwrap_or("").to_owned();
        if let Some(map) = detail.as_object_mut() {
            map.remove("kind");
        }
        writeln!(
            out,
            "{:>9.1}ms  conn {:<3} {:<12} {}",
            entry.at_micros as f64 / 1000.0,
            entry.conn,
            kind,
            detail
        )?;
    }
    Ok(())
}

pub async fn command(args: &ReplayArgs) -> Exit {
    let credentials = match Credentials::from_args(&args.credentials, false) {
        Ok(credentials) => credentials,
        Err(error) => {
            eprintln!("harness replay: {error}");
            return Exit::Usage;
        }
    };
    let report = match Report::read(&args.file) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("harness replay: {error}");
            return Exit::Usage;
        }
    };
    let saved = match pick(&report, args.check.as_deref()) {
        Ok(saved) => saved,
        Err(error) => {
            eprintln!("harness replay: {error}");
            return Exit::Usage;
        }
    };
    let registry = checks::registry();
    let Some(check) = registry.iter().find(|c| c.meta().id == saved.id) else {
        eprintln!("harness replay: this harness has no check {}", saved.id);
        return Exit::Usage;
    };
    let http = reqwest::Client::new();
    let url = args.target.clone().or_else(|| {
        (report.target.kind != TargetKind::Embedded).then(|| report.target.url.clone())
    });
    let control_token = &args.credentials.control_token;
    let (target, embedded) = match reach(url, control_token, &http).await {
        Ok(reached) => reached,
        Err(exit) => return exit,
    };
    let mut ctx = CheckContext::new(target.clone(), http);
    ctx.seed = saved.seed;
    ctx.credentials = credentials;
    if embedded.is_some() {
        ctx.patience = crate::embedded::PATIENCE;
    }
    if let Some(command) = &args.producer {
        match crate::producer::Producer::spawn(command) {
            Ok(producer) => ctx.producer = Some(producer),
            Err(error) => {
                eprintln!("harness replay: --producer {command:?} does not start: {error}");
                return Exit::Usage;
            }
        }
    }
    let plan = saved
        .case
        .as_ref()
        .map(|c| c.plan.clone())
        .unwrap_or_default();
    let started = Instant::now();
    let outcome = check.replay(&ctx, plan).await;
    let result = result_of(
        check.meta(),
        outcome,
        started.elapsed(),
        saved.seed,
        &target,
        &args.file,
    );
    if let Some(running) = embedded {
        let _ = running.shutdown().await;
    }
    print_result(&saved.id, &target, &result);
    match result.verdict {
        Verdict::Pass | Verdict::Skip => Exit::Ok,
        Verdict::Fail | Verdict::NonStrict => Exit::Failed,
        Verdict::Error => Exit::Broken,
    }
}

/// The target the replay runs against: `url`, or an embedded reference server
/// (kept running by the returned handle). A failure is said and becomes the exit.
async fn reach(
    url: Option<String>,
    control_token: &str,
    http: &reqwest::Client,
) -> Result<(Target, Option<reference_server::server::Running>), Exit> {
    match url {
        Some(url) => match target::probe(&url, control_token, http).await {
            Ok(target) => Ok((target, None)),
            Err(error) => {
                eprintln!("harness replay: {error}");
                Err(match error {
                    target::TargetError::BadUrl { .. } => Exit::Usage,
                    target::TargetError::Unreachable { .. } => Exit::Broken,
                })
            }
        },
        None => {
            let defects = reference_server::defects::Defects::none();
            match crate::embedded::start(control_token, defects).await {
                Ok(running) => Ok((
                    Target::embedded(running.base_url(), control_token.to_owned()),
                    Some(running),
                )),
                Err(error) => {
                    eprintln!("harness replay: starting the embedded reference server: {error:#}");
                    Err(Exit::Broken)
                }
            }
        }
    }
}

/// The verdict, findings, plan and transcript of a replayed case.
fn print_result(id: &str, target: &Target, result: &CheckResult) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "replay {} against {}: {}",
        id,
        target.base_url(),
        result.verdict
    );
    for finding in &result.findings {
        let _ = writeln!(out, "  {}: {}", finding.kind, finding.message);
    }
    if let Some(error) = &result.error {
        let _ = writeln!(out, "  error: {error}");
    }
    if let Some(case) = &result.case {
        let _ = writeln!(out, "plan: {}", case.plan);
        let _ = print_transcript(&mut out, &case.transcript);
    }
}
