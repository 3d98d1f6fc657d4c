//! `rampart`: the command-line entry point. Exit codes: 0 success, 1 failure, 2 usage error.

#[macro_use]
mod out;
mod cmd;
mod config;
mod datadir;
mod sink;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Rampart: security operations for online shops.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, propagate_version = true)]
struct Cli {
    /// Data directory (overrides store.data_dir; `demo`: kept, not temporary). Not for `generate`.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Configuration file [default: ./rampart.toml when present; `demo`: the embedded defaults].
    /// Not for `generate`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a server on a temporary data directory, fed live with generated shop traffic and attacks.
    Demo(cmd::demo::Args),
    /// Write a commented ./rampart.toml and create the data directory with its secret key.
    Init(cmd::init::Args),
    /// Run the HTTP API on the embedded store.
    Serve(cmd::serve::Args),
    /// Manage API tokens (works on the data directory; a running server sees changes at once).
    #[command(subcommand)]
    Token(cmd::token::Command),
    /// Search stored events.
    #[command(subcommand)]
    Events(cmd::events::Command),
    /// Alerts: list, show, acknowledge, close and reopen (works on the data directory).
    #[command(subcommand)]
    Alerts(cmd::alerts::Command),
    /// Measure ingestion and storage throughput on this machine.
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// Write seeded shop traffic with ground-truth labels: access.log, events.ndjson, truth.json.
    Generate(cmd::generate::Args),
    /// Read log files (access logs, NDJSON events) as fast as possible, keeping their timestamps.
    Replay(cmd::replay::Args),
    /// Sigma rules: validate, test against events, list, disable and enable.
    #[command(subcommand)]
    Rules(cmd::rules::Command),
    /// Tail a log file into Rampart, surviving rotation and restarts: `ingest --follow FILE --format F`.
    Ingest(cmd::ingest::Args),
}

/// Parses the command line; a verb that touches no data directory and reads no settings
/// (`generate`) refuses `--data` and `--config` as a usage error rather than ignoring them.
fn parse() -> Cli {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Generate(_)) && (cli.data.is_some() || cli.config.is_some()) {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, "`generate` writes files only: it takes neither --data nor --config")
            .exit();
    }
    cli
}

fn main() -> ExitCode {
    let cli = parse();
    // The demo's screen is its own output: alert lines stay in the log at debug level, not on it.
    let default_filter = match cli.command {
        Command::Demo(_) => "info,rampart::alert=warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()))
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let global = cmd::Global { data: cli.data, config: cli.config };
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(&global, args),
        Command::Init(args) => cmd::init::run(&global, args),
        Command::Serve(args) => cmd::serve::run(&global, args),
        Command::Token(command) => cmd::token::run(&global, command),
        Command::Events(command) => cmd::events::run(&global, command),
        Command::Alerts(command) => cmd::alerts::run(&global, command),
        Command::Bench(command) => cmd::bench::run(&global, command),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Replay(args) => cmd::replay::run(&global, args),
        Command::Ingest(args) => cmd::ingest::run(&global, args),
        Command::Rules(command) => cmd::rules::run(&global, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`| head`) is not a failure.
        Err(error) if out::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) if error.chain().any(|cause| cause.is::<cmd::UsageError>()) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
