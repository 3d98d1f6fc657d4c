//! `rampart alerts list|show|ack|close|reopen`: alerts and their lifecycle, straight on the data directory.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use rampart_model::{Alert, AlertStatus, AlertTransition, Classification, EntityKind, format_timestamp};
use rampart_store::{AlertAction, AlertRequest, MAX_SEARCH_LIMIT, SqliteOptions, SqliteStore, Store};
use serde_json::json;
use time::OffsetDateTime;

use super::Global;
use super::events::time_arg;
use crate::datadir::DataDir;

/// Longest note, as the API takes it.
const MAX_NOTE_CHARS: usize = 4000;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List alerts, newest first.
    List(ListArgs),
    /// Show one alert: its fields, transitions and evidence event ids.
    Show {
        /// The alert's id.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an open alert (someone is on it).
    Ack {
        /// The alert's id.
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Close an open or acknowledged alert with a classification.
    Close {
        /// The alert's id.
        id: String,
        /// How it was judged: true_positive, benign_positive or false_positive.
        #[arg(long = "as", value_name = "CLASSIFICATION", value_parser = parse_classification)]
        classification: Classification,
        #[command(flatten)]
        who: Who,
    },
    /// Reopen a closed alert.
    Reopen {
        /// The alert's id.
        id: String,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only alerts of this rule id.
    #[arg(long)]
    rule: Option<String>,
    /// Only alerts of this level: informational, low, medium, high, critical.
    #[arg(long, value_parser = ["informational", "low", "medium", "high", "critical"])]
    level: Option<String>,
    /// Only alerts about this entity: kind:value (ip, account, email, device, card, session, asn, api_key) or a bare value.
    #[arg(long)]
    entity: Option<String>,
    /// Only alerts in this status: open, acknowledged, closed.
    #[arg(long, value_parser = parse_status)]
    status: Option<AlertStatus>,
    /// Only alerts whose last event is at or after this time (RFC 3339 or epoch seconds).
    #[arg(long)]
    from: Option<String>,
    /// Only alerts whose last event is at or before this time (RFC 3339 or epoch seconds).
    #[arg(long)]
    to: Option<String>,
    /// Most alerts to print.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print NDJSON (one alert per line) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Who makes a change, and why.
#[derive(Debug, clap::Args)]
pub struct Who {
    /// Why; kept with the change.
    #[arg(long)]
    note: Option<String>,
    /// Who the change is recorded for [default: cli:<OS user>].
    #[arg(long)]
    actor: Option<String>,
}

fn parse_classification(text: &str) -> Result<Classification, String> {
    Classification::parse(text).ok_or_else(|| "expected true_positive, benign_positive or false_positive".to_owned())
}

fn parse_status(text: &str) -> Result<AlertStatus, String> {
    AlertStatus::parse(text).ok_or_else(|| "expected open, acknowledged or closed".to_owned())
}

pub fn run(global: &Global, command: Command) -> Result<()> {
    let config = global.config()?;
    let dir = DataDir::new(&config.data_dir);
    if !dir.db_path().exists() {
        bail!("no data in {} yet (run `rampart serve` or `rampart replay` first)", config.data_dir.display());
    }
    let store = SqliteStore::open(&dir.db_path(), SqliteOptions::default())?;
    match command {
        Command::List(args) => list(&store, args),
        Command::Show { id, json } => show(&store, &id, json),
        Command::Ack { id, who } => change(&store, &id, AlertAction::Acknowledge, who),
        Command::Close { id, classification, who } => change(&store, &id, AlertAction::Close(classification), who),
        Command::Reopen { id, who } => change(&store, &id, AlertAction::Reopen, who),
    }
}

fn list(store: &SqliteStore, args: ListArgs) -> Result<()> {
    let entity = args.entity.as_deref().map(parse_entity).transpose()?;
    let mut request = AlertRequest {
        rule_id: args.rule,
        level: args.level,
        entity,
        status: args.status,
        from: time_arg("from", &args.from)?,
        to: time_arg("to", &args.to)?,
        limit: 0,
        cursor: None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.json {
        writeln!(out, "{:<32} {:<24} {:<13} {:<12} {:>6}  {:<40} ENTITIES", "ID", "LAST EVENT", "LEVEL", "STATUS", "EVENTS", "RULE")?;
    }
    let mut remaining = args.limit;
    while remaining > 0 {
        request.limit = remaining.min(MAX_SEARCH_LIMIT);
        let page = store.list_alerts(&request)?;
        remaining -= page.items.len();
        for alert in &page.items {
            if args.json {
                writeln!(out, "{}", serde_json::to_string(alert)?)?;
            } else {
                writeln!(out, "{}", table_row(alert))?;
            }
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(())
}

/// `kind:value` when the part before the first colon names a kind, else a bare value.
fn parse_entity(text: &str) -> Result<(Option<EntityKind>, String)> {
    let (kind, value) = match text.split_once(':') {
        Some((kind, value)) if EntityKind::parse(kind).is_some() => (EntityKind::parse(kind), value),
        _ => (None, text),
    };
    if value.is_empty() {
        bail!("--entity: expected kind:value (kinds: ip, account, email, device, card, session, asn, api_key) or a bare value");
    }
    Ok((kind, value.to_owned()))
}

fn table_row(alert: &Alert) -> String {
    let title: String = alert.rule.title.chars().take(40).collect();
    format!(
        "{:<32} {:<24} {:<13} {:<12} {:>6}  {:<40} {}",
        alert.id,
        format_timestamp(alert.last_event_time),
        alert.rule.level,
        status_text(alert),
        alert.event_count,
        title,
        entities_text(alert)
    )
}

fn status_text(alert: &Alert) -> String {
    match alert.classification {
        Some(classification) => format!("{} ({})", alert.status.as_str(), classification.as_str()),
        None => alert.status.as_str().to_owned(),
    }
}

fn entities_text(alert: &Alert) -> String {
    alert.entities.iter().map(|e| format!("{}:{}", e.kind.as_str(), e.value)).collect::<Vec<_>>().join(" ")
}

fn show(store: &SqliteStore, id: &str, json: bool) -> Result<()> {
    let (alert, transitions) = store.get_alert(id)?.ok_or_else(|| not_found(id))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({"alert": alert, "transitions": transitions, "evidence": alert.evidence}))?);
        return Ok(());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "alert      {}", alert.id)?;
    writeln!(out, "rule       {} ({}) [{}]", alert.rule.title, alert.rule.id, alert.rule.level)?;
    if !alert.rule.tags.is_empty() {
        writeln!(out, "tags       {}", alert.rule.tags.join(" "))?;
    }
    writeln!(out, "status     {}", status_text(&alert))?;
    writeln!(out, "entities   {}", entities_text(&alert))?;
    for (field, value) in &alert.group_by {
        writeln!(out, "group by   {field} = {value}")?;
    }
    writeln!(
        out,
        "events     {} from {} to {}",
        alert.event_count,
        format_timestamp(alert.first_event_time),
        format_timestamp(alert.last_event_time)
    )?;
    writeln!(out, "detected   {} (updated {})", format_timestamp(alert.detected_at), format_timestamp(alert.updated_at))?;
    for matched in &alert.matched {
        writeln!(out, "matched    {} = {:?}", matched.field, matched.value)?;
    }
    writeln!(out, "transitions")?;
    for transition in &transitions {
        writeln!(out, "  {}", transition_text(transition))?;
    }
    writeln!(out, "evidence ({} of {} events)", alert.evidence.len(), alert.event_count)?;
    for event_id in &alert.evidence {
        writeln!(out, "  {event_id}")?;
    }
    Ok(())
}

fn transition_text(t: &AlertTransition) -> String {
    let mut text = format!("{}  {:<12} by {}", format_timestamp(t.at), t.action.as_str(), t.actor);
    if let Some(classification) = t.classification {
        text.push_str(&format!(" as {}", classification.as_str()));
    }
    if let Some(n) = t.events_added {
        text.push_str(&format!(" (+{n} events)"));
    }
    if let Some(note) = &t.note {
        text.push_str(&format!(": {note}"));
    }
    text
}

fn change(store: &SqliteStore, id: &str, action: AlertAction, who: Who) -> Result<()> {
    let actor = match who.actor {
        Some(actor) if actor.trim().is_empty() => bail!("--actor must not be empty"),
        Some(actor) => actor,
        None => format!("cli:{}", os_user()),
    };
    let note = who.note.filter(|n| !n.trim().is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        bail!("--note is longer than {MAX_NOTE_CHARS} characters");
    }
    let alert = store.transition_alert(id, action, &actor, note.as_deref(), OffsetDateTime::now_utc()).map_err(|error| match error {
        rampart_store::StoreError::AlertNotFound(_) => not_found(id),
        other => other.into(),
    })?;
    println!("{} {}", alert.id, status_text(&alert));
    Ok(())
}

fn not_found(id: &str) -> anyhow::Error {
    anyhow!("there is no alert `{id}` (see `rampart alerts list`)")
}

/// The user running the command, as the OS names them.
fn os_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
