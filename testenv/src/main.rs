//! `testenv`: the test command's helper. `debian` lists packages to install, `plan` the tests to leave out, `summary` what ran.
//!
//! - `testenv ci`: exits 0 when `CI` is set (not empty, `0` or `false`), else 1:
//!   the one reading of `CI`, for the script's choice of nextest profile too.
//! - `testenv debian`: the Debian packages that provide missing needs, one a line.
//! - `testenv plan`: says on stderr which needs are missing; prints on stdout
//!   the nextest filterset of the tests that need them (nothing when none
//!   are missing). Exits 1 when a missing need is required: under `CI`, any;
//!   under `STREAMCHECK_REAL_CLIENTS`, a real peer.
//! - `testenv summary JUNIT`: how many tests ran and passed (from nextest's
//!   JUnit report), which did not run and why. Exits 1 when the needs table
//!   names a test that no longer exists.

use std::process::{Command, ExitCode};

use testenv::needs::NEEDS;
use testenv::plan::{Plan, Strictness, filterset};
use testenv::probe::Env;
use testenv::summary::{Listed, dead_selections, parse_junit, parse_list, render};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = Plan::probe(&Env::from_process());
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["debian"] => {
            for package in plan.debian() {
                println!("{package}");
            }
            ExitCode::SUCCESS
        }
        ["ci"] if Strictness::from_process().ci => ExitCode::SUCCESS,
        ["ci"] => ExitCode::FAILURE,
        ["plan"] => print_plan(&plan, Strictness::from_process()),
        ["summary", junit] => summary(&plan, junit),
        _ => {
            eprintln!("usage: testenv ci | debian | plan | summary JUNIT");
            ExitCode::from(2)
        }
    }
}

fn print_plan(plan: &Plan, strictness: Strictness) -> ExitCode {
    let errors = plan.errors(strictness);
    for (entry, missing) in &plan.missing {
        let verdict = match strictness.requires(entry) {
            Some(var) => format!("an error, since {var} is set"),
            None => "the tests that need it will not run".to_owned(),
        };
        eprintln!(
            "test.sh: {}: {}; {verdict}. To get it:",
            entry.what, missing.reason
        );
        for line in &missing.remedy {
            eprintln!("    {line}");
        }
    }
    if !errors.is_empty() {
        return ExitCode::FAILURE;
    }
    if let Some(filter) = plan.left_out() {
        println!("{filter}");
    }
    ExitCode::SUCCESS
}

fn summary(plan: &Plan, junit: &str) -> ExitCode {
    let counts = std::fs::read_to_string(junit)
        .ok()
        .and_then(|xml| parse_junit(&xml));
    let every_need = filterset(NEEDS.iter().flat_map(|e| e.tests)).expect("the table has tests");
    let (Some(listed), Some(ignored)) = (
        nextest_list(&["-E", &every_need]),
        nextest_list(&["--run-ignored", "only"]),
    ) else {
        return ExitCode::FAILURE;
    };
    print!("{}", render(counts, plan, &listed, &ignored));
    let dead = dead_selections(&listed);
    for (what, tests) in &dead {
        eprintln!(
            "test.sh: testenv/src/needs.rs lists `{} {}` under {what}, but no such test exists: update the table",
            tests.binary, tests.name
        );
    }
    if dead.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `cargo nextest list --workspace` with `args`, one test a line; `None` (said) when it fails.
fn nextest_list(args: &[&str]) -> Option<Vec<Listed>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "nextest",
            "list",
            "--workspace",
            "--message-format",
            "oneline",
        ])
        .args(args)
        .output();
    match output {
        Ok(out) if out.status.success() => Some(parse_list(&String::from_utf8_lossy(&out.stdout))),
        Ok(out) => {
            eprintln!(
                "test.sh: cargo nextest list {} failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("test.sh: cannot run cargo nextest list: {e}");
            None
        }
    }
}
