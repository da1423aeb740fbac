//! The command line: flags, `--list-defects`, and the process's exit codes.
//!
//! Exit codes: 0 after a clean shutdown; 2 for bad usage or configuration
//! (unknown flag or defect, unreadable or invalid config file); 3 when the
//! server cannot run (the address is taken, the data directory is locked or
//! unreadable).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::config::{Config, Storage};
use crate::config_file::{self, FileConfig, Overrides};
use crate::defects::{self, Defects};
use crate::server;

/// A faithful local stand-in for five event-streaming APIs (Fauna, Prisma
/// Pulse, AT Protocol, Actyx, Fibric), all on one listener.
#[derive(Debug, Parser)]
#[command(name = "reference-server", version)]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Keep the log in this directory (the default, `./reference-data`).
    #[arg(long, value_name = "DIR", conflicts_with = "memory")]
    pub data_dir: Option<PathBuf>,
    /// Keep the log in memory only: everything is lost on exit.
    #[arg(long)]
    pub memory: bool,
    /// A TOML config file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Bearer token of the `/_control/` API.
    #[arg(long, value_name = "TOKEN")]
    pub control_token: Option<String>,
    /// Break one rule on purpose (repeatable); see --list-defects.
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Print every defect with a short description and exit.
    #[arg(long)]
    pub list_defects: bool,
}

impl Cli {
    /// Turns flags and the config file into a validated configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let flags = Overrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            memory: self.memory,
            control_token: self.control_token.clone(),
            defects: Defects::parse(&self.defects)?,
        };
        Ok(config_file::resolve(file, flags)?)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_defects {
        print!("{}", defects::listing());
        return ExitCode::SUCCESS;
    }
    let config = match cli.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("reference-server: {error:#}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("reference-server: cannot start the runtime: {error}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reference-server: {error:#}");
            ExitCode::from(3)
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let log = server::open_log(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(config, log, CancellationToken::new())?;
    announce(&state.config, addr);
    server::serve(listener, state, server::termination_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Prints the ready line scripts wait for, then the dev credentials.
fn announce(config: &Config, addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let storage = match &config.storage {
        Storage::Memory => "memory (lost on exit)".to_owned(),
        Storage::Durable(dir) => dir.display().to_string(),
    };
    let mut text = format!("listening on http://{addr}\nstorage: {storage}\ncredentials:\n");
    for line in config.describe_credentials() {
        text.push_str(&format!("  {line}\n"));
    }
    for defect in config.defects.iter() {
        text.push_str(&format!("defect on: {defect}\n"));
    }
    // A failed write to stdout (a closed pipe) must not stop the server.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
