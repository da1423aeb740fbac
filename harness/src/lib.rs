//! The harness: conformance checks, load generation, the fault proxy, snapshots and reports.
//!
//! `main.rs` only calls [`main`]; tests call [`Cli::parse_from`] and the
//! command functions directly.
//!
//! # Layout
//!
//! - [`cli`]: the subcommands and flags of the CLI contract.
//! - [`exit`]: the exit codes.
//! - [`check`]: `harness check`: validated settings, check selection, the run.
//! - [`expect`]: `--expect FILE`, a target's known deviations, read and validated.
//! - [`checks`]: the executable checks, one per catalogue entry.
//! - [`embedded`]: the in-process reference server and its test-friendly timings.
//! - [`load`]: `harness load`: stream load, latency histograms, thresholds.
//! - [`runner`]: executes checks, turns outcomes into verdicts, emits run events.
//! - [`property`]: checks as properties over generated plans, shrunk to a minimal failing case.
//! - [`audit`]: what every case of a run recorded, read for the checks that judge the whole run.
//! - [`events`]: the run event stream and the [`events::Reporter`] trait.
//! - [`target`]: the server under test: embedded, or a probed URL; its credentials.
//! - [`producer`]: `--producer`, how checks publish to targets other than the reference server.
//! - [`report`]: report.json (versioned), JUnit, Markdown, HTML and the terminal.
//! - [`report_cmd`]: `harness report render` and `harness report merge`.
//! - [`replay`]: `harness replay`: a saved failing case, run again.
//! - [`record`]: the case transcript, and HTTP calls that record into it (with limits).
//! - [`client`]: one client per API, without I/O: paths, bodies, logins, accounts and resume positions.
//! - [`transport`]: recorded streams, one reader for every framing (SSE, JSON lines), with limits and timeouts.
//! - [`proxy`]: the fault proxy and its schedule language.
//! - [`snapshot`]: `harness snapshot record|check`: wire-format snapshots, normalised, diffed.
//! - [`selftest`]: the catalogue against the reference server, clean and with each defect.

pub mod audit;
pub mod check;
pub mod checks;
pub mod cli;
pub mod client;
pub mod embedded;
pub mod events;
pub mod exit;
pub mod expect;
pub mod load;
pub mod producer;
pub mod property;
pub mod proxy;
pub mod record;
pub mod replay;
pub mod report;
pub mod report_cmd;
pub mod runner;
pub mod selftest;
pub mod snapshot;
pub mod target;
pub mod transport;

pub use cli::Cli;
pub use exit::Exit;

use cli::{Command, ReportCommand};

/// Runs one parsed command line and returns its exit code.
pub async fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Check(args) => check::command(&args).await,
        Command::Replay(args) => replay::command(&args).await,
        Command::Load(args) => load::command(&args).await,
        Command::Proxy(args) => proxy_cmd(&args).await,
        Command::Snapshot(cmd) => snapshot::command(&cmd).await,
        Command::Report(ReportCommand::Render(args)) => report_cmd::render(&args),
        Command::Report(ReportCommand::Merge(args)) => report_cmd::merge(&args),
        Command::Selftest(args) => selftest::command(&args).await,
    }
}

/// `harness proxy`: the fault proxy on its own, until Ctrl-C.
async fn proxy_cmd(args: &cli::ProxyArgs) -> Exit {
    let schedule = match proxy::schedule::Schedule::parse(&args.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            eprintln!("harness proxy: --schedule: {error}");
            return Exit::Usage;
        }
    };
    let framing = match args.framing.as_str() {
        "lines" => proxy::framing::Framing::Lines,
        "raw" => proxy::framing::Framing::Raw,
        _ => proxy::framing::Framing::Sse,
    };
    let running = match proxy::start(
        args.listen,
        args.upstream.clone(),
        schedule.clone(),
        framing,
        proxy::FaultLog::Stderr,
    )
    .await
    {
        Ok(running) => running,
        Err(error) => {
            eprintln!("harness proxy: cannot listen on {}: {error}", args.listen);
            return Exit::Broken;
        }
    };
    println!(
        "proxying on http://{} to {} with schedule: {schedule}",
        running.addr, args.upstream
    );
    let _ = tokio::signal::ctrl_c().await;
    Exit::Ok
}

/// The binary's entry point: parse, log to stderr, run, exit.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("harness: cannot start the runtime: {error}");
            return Exit::Broken.into();
        }
    };
    runtime.block_on(run(cli)).into()
}
