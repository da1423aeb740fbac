//! `harness snapshot record|check`: what a server puts on the wire, kept as reviewed text.
//!
//! A fixed script per API ([`scripts`]) makes one of each event and message
//! the API has, and each error case, against the target. Every exchange is
//! normalised ([`normalise`]) and rendered as text ([`render`], [`cbor`]) into
//! `DIR/<api>/NN-name.snap`. `check` runs the script again and compares:
//! a changed, new or missing file fails with a unified diff; `--update`
//! writes the new text instead.
//!
//! Exit codes: 0 the snapshots match (or were written); 1 they differ;
//! 2 bad usage (no snapshots to check, `--update` on record); 3 the target
//! could not be reached or the script could not finish.

pub mod cbor;
pub mod exchange;
pub mod normalise;
pub mod render;
pub mod scripts;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reference_server::defects::Defects;
use scenarios::check::Api;

use crate::cli::{SnapshotArgs, SnapshotCommand};
use crate::exit::Exit;
use crate::target::{self, Credentials, Target, TargetError};
use exchange::{ScriptError, Session};
use normalise::Normaliser;

/// The control token the embedded server is started with.
const CONTROL_TOKEN: &str = "control_test_token";

/// The file name extension of a snapshot.
pub const EXTENSION: &str = "snap";

/// `harness snapshot record|check`.
pub async fn command(cmd: &SnapshotCommand) -> Exit {
    let (args, checking) = match cmd {
        SnapshotCommand::Record(args) => (args, false),
        SnapshotCommand::Check(args) => (args, true),
    };
    let verb = if checking { "check" } else { "record" };
    if args.update && !checking {
        eprintln!("harness snapshot record: --update belongs to check; record always writes");
        return Exit::Usage;
    }
    let dir = args.dir.join(args.api.name());
    if checking && !args.update && read_dir(&dir).map(|m| m.is_empty()).unwrap_or(true) {
        eprintln!(
            "harness snapshot check: {} holds no snapshots; run `harness snapshot record` first",
            dir.display()
        );
        return Exit::Usage;
    }
    let taken = match take_from(args).await {
        Ok(taken) => taken,
        Err(Failure::Usage(e)) => {
            eprintln!("harness snapshot {verb}: {e}");
            return Exit::Usage;
        }
        Err(Failure::Broken(e)) => {
            eprintln!("harness snapshot {verb}: {e}");
            return Exit::Broken;
        }
    };
    if !checking {
        return match write(&dir, &taken) {
            Ok(()) => {
                println!(
                    "recorded {} exchanges of {} in {}",
                    taken.len(),
                    args.api,
                    dir.display()
                );
                Exit::Ok
            }
            Err(e) => {
                eprintln!("harness snapshot record: writing {}: {e}", dir.display());
                Exit::Broken
            }
        };
    }
    let old = read_dir(&dir).unwrap_or_default();
    let diff = compare(args.api, &old, &taken);
    print!("{}", diff.text);
    if diff.changed == 0 {
        println!("{}: {} snapshots match", args.api, taken.len());
        return Exit::Ok;
    }
    if args.update {
        return match write(&dir, &taken) {
            Ok(()) => {
                println!("{}: {} snapshots updated", args.api, diff.changed);
                Exit::Ok
            }
            Err(e) => {
                eprintln!("harness snapshot check: writing {}: {e}", dir.display());
                Exit::Broken
            }
        };
    }
    println!(
        "{}: {} of {} snapshots differ; review the diff, then accept it with `harness snapshot check --update`",
        args.api,
        diff.changed,
        taken.len().max(old.len())
    );
    Exit::Failed
}

enum Failure {
    Usage(String),
    Broken(String),
}

/// Runs the script against the target the flags name (the embedded server by default).
async fn take_from(args: &SnapshotArgs) -> Result<Vec<(String, String)>, Failure> {
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| Failure::Broken(e.to_string()))?;
    match &args.target {
        Some(url) => {
            let target = target::probe(url, CONTROL_TOKEN, &http)
                .await
                .map_err(|e| match e {
                    TargetError::BadUrl { .. } => Failure::Usage(e.to_string()),
                    TargetError::Unreachable { .. } => Failure::Broken(e.to_string()),
                })?;
            take(args.api, &target, &http)
                .await
                .map_err(|e| Failure::Broken(format!("the script stopped: {e}")))
        }
        None => take_embedded(args.api, Defects::none())
            .await
            .map_err(|e| Failure::Broken(e.to_string())),
    }
}

/// Runs the script against an embedded reference server with `defects` on.
pub async fn take_embedded(api: Api, defects: Defects) -> anyhow::Result<Vec<(String, String)>> {
    let running = crate::embedded::start(CONTROL_TOKEN, defects).await?;
    let target = Target::embedded(running.base_url(), CONTROL_TOKEN.to_owned());
    let http = reqwest::Client::builder().build()?;
    let taken = take(api, &target, &http).await;
    let _ = running.shutdown().await;
    taken.map_err(|e| anyhow::anyhow!("the script stopped: {e}"))
}

/// Runs `api`'s script against `target`: each exchange's file stem and normalised text.
pub async fn take(
    api: Api,
    target: &Target,
    http: &reqwest::Client,
) -> Result<Vec<(String, String)>, ScriptError> {
    let mut session = Session::new(http.clone(), target.base_url().to_owned());
    let ctx = scripts::Context {
        target: target.clone(),
        credentials: Credentials::default(),
    };
    scripts::run(api, &mut session, &ctx).await?;
    let rules = scripts::rules(api);
    Ok(session
        .exchanges
        .iter()
        .map(|exchange| {
            let mut norm = Normaliser::new(rules, &session.literals);
            (
                exchange.name.clone(),
                render::exchange(api.name(), exchange, &mut norm),
            )
        })
        .collect())
}

/// The snapshots in `dir`, by file stem.
pub fn read_dir(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            out.insert(stem.to_owned(), std::fs::read_to_string(&path)?);
        }
    }
    Ok(out)
}

/// Writes the snapshots and removes the ones the script no longer makes.
pub fn write(dir: &Path, taken: &[(String, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for stem in read_dir(dir)?.keys() {
        if !taken.iter().any(|(name, _)| name == stem) {
            std::fs::remove_file(file(dir, stem))?;
        }
    }
    for (name, text) in taken {
        std::fs::write(file(dir, name), text)?;
    }
    Ok(())
}

fn file(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.{EXTENSION}"))
}

/// What a check found: a readable report and how many snapshots differ.
#[derive(Debug)]
pub struct Comparison {
    pub text: String,
    pub changed: usize,
}

/// Compares recorded snapshots with new ones, file by file.
pub fn compare(api: Api, old: &BTreeMap<String, String>, new: &[(String, String)]) -> Comparison {
    let mut text = String::new();
    let mut changed = 0;
    for (name, now) in new {
        let path = format!("{api}/{name}.{EXTENSION}");
        match old.get(name) {
            Some(was) if was == now => {}
            Some(was) => {
                changed += 1;
                let diff = similar::TextDiff::from_lines(was.as_str(), now.as_str());
                let _ = writeln!(text, "changed: {path}");
                let _ = write!(
                    text,
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header(&format!("recorded {path}"), &format!("now {path}"))
                );
            }
            None => {
                changed += 1;
                let _ = writeln!(
                    text,
                    "new: {path} (the script made an exchange no snapshot holds)"
                );
                for line in now.lines() {
                    let _ = writeln!(text, "+{line}");
                }
            }
        }
    }
    for (name, was) in old {
        if !new.iter().any(|(n, _)| n == name) {
            changed += 1;
            let _ = writeln!(
                text,
                "missing: {api}/{name}.{EXTENSION} (recorded, but the script made no such exchange this time)"
            );
            for line in was.lines() {
                let _ = writeln!(text, "-{line}");
            }
        }
    }
    Comparison { text, changed }
}
