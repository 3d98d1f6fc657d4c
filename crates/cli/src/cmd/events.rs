//! `rampart events search`: the search of `GET /v1/events`, straight on the data directory.

use std::io::Write;

use anyhow::{Result, anyhow};
use rampart_model::{Clock, Event, Query, SystemClock, TimeSpec, fields};
use rampart_store::EventStore;
use rampart_store::{SearchRequest, SqliteOptions, SqliteStore};
use time::OffsetDateTime;

use super::Global;
use crate::datadir::DataDir;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Search events, newest first (query syntax: docs/api.md).
    Search(SearchArgs),
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Terms that must all hold, e.g. 'source.ip:203.0.113.0/24 -event.outcome:success'.
    #[arg(default_value = "")]
    query: String,
    /// Earliest event time: RFC 3339, epoch seconds, or relative (now, -1h, now-24h).
    #[arg(long, value_parser = time_arg, allow_hyphen_values = true)]
    from: Option<TimeSpec>,
    /// Latest event time: RFC 3339, epoch seconds, or relative (now, -1h, now-24h).
    #[arg(long, value_parser = time_arg, allow_hyphen_values = true)]
    to: Option<TimeSpec>,
    /// Most events to print.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print NDJSON (one event per line) instead of a table.
    #[arg(long)]
    json: bool,
}

/// The value of a `--from`/`--to` option: an RFC 3339 time, epoch seconds or milliseconds, or
/// relative to now (`now`, `-1h`, `now-24h`); a usage error otherwise (exit 2). It is resolved
/// against the clock when the command runs ([`resolve_time`]).
pub fn time_arg(value: &str) -> Result<TimeSpec, String> {
    TimeSpec::parse(value)
}

/// A `--from`/`--to` value as a time, read against `clock` (a usage error when out of range).
pub fn resolve_time(name: &str, spec: Option<TimeSpec>, clock: &dyn Clock) -> Result<Option<OffsetDateTime>> {
    spec.map(|spec| spec.resolve(clock).map_err(|error| super::usage(format!("--{name}: {error}")))).transpose()
}

pub fn run(global: &Global, Command::Search(args): Command) -> Result<()> {
    let config = global.config()?;
    let dir = DataDir::new(&config.data_dir);
    if !dir.db_path().exists() {
        return Err(anyhow!("no events stored in {} yet", config.data_dir.display()));
    }
    let store = SqliteStore::open(&dir.db_path(), SqliteOptions::default())?;
    let query = Query::parse(&args.query).map_err(|error| super::usage(format!("invalid query: {error}")))?;
    let mut request = SearchRequest::new(query);
    request.from = resolve_time("from", args.from, &SystemClock)?;
    request.to = resolve_time("to", args.to, &SystemClock)?;
    let mut remaining = args.limit;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.json {
        writeln!(out, "{:<24} {:<18} {:<8} {:<15} {:<16} DETAIL", "TIME", "ACTION", "OUTCOME", "SOURCE", "USER")?;
    }
    while remaining > 0 {
        request.limit = remaining.min(rampart_store::MAX_SEARCH_LIMIT);
        let page = store.search(&request)?;
        remaining -= page.items.len();
        for event in &page.items {
            if args.json {
                writeln!(out, "{}", event.to_json_string())?;
            } else {
                writeln!(out, "{}", table_row(event))?;
            }
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(())
}

fn table_row(event: &Event) -> String {
    let text = |path: &str| event.get(path).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default();
    let detail = [fields::HTTP_METHOD, fields::URL_ORIGINAL, fields::HTTP_STATUS, fields::ORDER_ID, fields::PAYMENT_OUTCOME]
        .iter()
        .map(|path| text(path))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let user = [fields::USER_NAME, fields::USER_EMAIL, fields::USER_ID].iter().map(|p| text(p)).find(|s| !s.is_empty()).unwrap_or_default();
    format!(
        "{:<24} {:<18} {:<8} {:<15} {:<16} {}",
        text(fields::TIMESTAMP),
        text(fields::EVENT_ACTION),
        text(fields::EVENT_OUTCOME),
        text(fields::SOURCE_IP),
        user,
        detail.chars().take(80).collect::<String>()
    )
}
