//! `rampart ingest --follow`: tails a log file across rotations into the data directory or a
//! server, resuming where it stopped.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use rampart_ingest::{Follower, LineBatch, StartAt, state_file_name};

use super::Global;
use crate::datadir::DataDir;
use crate::sink::Sink;

/// Bytes read per round; one round is delivered as one batch per file.
const ROUND_BYTES: usize = 4 << 20;
/// How long to wait when the file has nothing new.
const IDLE: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log file to follow.
    #[arg(long, value_name = "FILE")]
    follow: PathBuf,
    /// jsonl, combined, common, combined-truth, nginx-json, or a [log_formats] name.
    #[arg(long)]
    format: String,
    /// Where to start the first time (later runs resume where they stopped).
    #[arg(long, value_enum, default_value = "beginning")]
    start: Start,
    /// Send to a running server instead of the data directory.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// API token for --to (an ingest token), or RAMPART_TOKEN.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Where offsets and file identities live [default: DATA/follow; with --to,
    /// $XDG_STATE_HOME/rampart/follow, else ~/.local/state/rampart/follow].
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Start {
    Beginning,
    End,
}

pub fn run(global: &Global, args: Args) -> Result<()> {
    let config = global.config()?;
    let format = config.formats.get(&args.format).ok_or_else(|| {
        super::usage(format!("--format: no format is named `{}`; known: {}", args.format, config.formats.names().join(", ")))
    })?;
    let sink = Sink::open(&config, args.to.clone(), args.token.clone())?;
    // One state file per followed path: in the data directory when delivering into it (set up
    // by now, key included), elsewhere when delivering to a server: following for a server
    // must not make a data directory, which would lack its key.
    let path = std::path::absolute(&args.follow).with_context(|| format!("cannot resolve {}", args.follow.display()))?;
    let state_dir = match (&args.state, &args.to) {
        (Some(dir), _) => private_dir(dir)?,
        (None, None) => DataDir::new(&config.data_dir).follow_dir()?,
        (None, Some(_)) => private_dir(&remote_state_dir()?)?,
    };
    let state = state_dir.join(state_file_name(&path));
    let start = match args.start {
        Start::Beginning => StartAt::Beginning,
        Start::End => StartAt::End,
    };
    let mut follower = Follower::open(&path, &state, start)?;
    eprintln!("following {} as {} (state in {})", path.display(), format.name(), state.display());
    let (mut stored, mut refused) = (0usize, 0usize);
    loop {
        let lines = match follower.poll(ROUND_BYTES) {
            Ok(lines) => lines,
            Err(error) => {
                // Polling again is safe: nothing is skipped.
                tracing::warn!(error = %error, "cannot read the followed file; retrying");
                std::thread::sleep(IDLE * 4);
                continue;
            }
        };
        if lines.is_empty() {
            std::thread::sleep(IDLE);
            continue;
        }
        for batch in LineBatch::group(&lines) {
            let delivered = sink.send(&format, &batch.body, &batch.key, batch.offset, true)?;
            stored += delivered.accepted;
            refused += delivered.rejected.max(delivered.errors.len());
            for error in delivered.errors.iter().take(3) {
                tracing::warn!(code = %error.code, reason = %error.message, "line refused");
            }
            // Only now is the batch durable: a crash before this line re-reads it, and the
            // derived event ids make the re-read a duplicate.
            let (file, end) = batch.commit;
            follower.commit(file, end)?;
        }
        tracing::info!(stored, refused, "following");
    }
}

/// The state directory of a delivery to a server: `$XDG_STATE_HOME/rampart/follow`, else
/// `~/.local/state/rampart/follow`.
fn remote_state_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(state) => PathBuf::from(state),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/state"),
            None => return Err(super::usage("--to: neither XDG_STATE_HOME nor HOME is set; name a state directory with --state")),
        },
    };
    Ok(base.join("rampart/follow"))
}

fn private_dir(dir: &std::path::Path) -> Result<PathBuf> {
    crate::datadir::create_private_dir(dir)?;
    Ok(dir.to_owned())
}
