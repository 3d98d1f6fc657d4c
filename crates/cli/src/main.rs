//! `rampart`: the command-line entry point. Exit codes: 0 success, 1 failure, 2 usage error.

mod cmd;
mod config;
mod datadir;
mod follow;
mod generate;
mod sink;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rampart: security operations for online shops.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, propagate_version = true)]
struct Cli {
    /// Data directory (overrides store.data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Configuration file [default: ./rampart.toml when present].
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
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
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
