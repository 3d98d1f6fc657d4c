//! `rampart alerts list|show|ack|close|reopen`: alerts and their lifecycle, straight on the data directory.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use rampart_model::{
    Alert, AlertStatus, AlertTransition, Classification, Clock, EntityKind, Level, SystemClock, TimeSpec, format_timestamp, parse_entity,
};
use rampart_store::AlertStore;
use rampart_store::{AlertAction, AlertRequest, MAX_SEARCH_LIMIT, SqliteOptions, SqliteStore};
use serde_json::json;

use super::events::{resolve_time, time_arg};
use super::{Global, usage};
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
    #[arg(long, value_parser = parse_level)]
    level: Option<Level>,
    /// Only alerts about this entity: kind:value (ip, account, email, device, card, session, asn, api_key) or a bare value.
    #[arg(long)]
    entity: Option<String>,
    /// Only alerts in this status: open, acknowledged, closed.
    #[arg(long, value_parser = parse_status)]
    status: Option<AlertStatus>,
    /// Only alerts whose last event is at or after this time: RFC 3339, epoch seconds, or relative (now, -1h, now-24h).
    #[arg(long, value_parser = time_arg, allow_hyphen_values = true)]
    from: Option<TimeSpec>,
    /// Only alerts whose last event is at or before this time: RFC 3339, epoch seconds, or relative (now, -1h, now-24h).
    #[arg(long, value_parser = time_arg, allow_hyphen_values = true)]
    to: Option<TimeSpec>,
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

fn parse_level(text: &str) -> Result<Level, String> {
    Level::parse(text).ok_or_else(|| format!("expected one of {}", Level::names()))
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
    let entity = args.entity.as_deref().map(entity_arg).transpose()?;
    let mut request = AlertRequest {
        rule_id: args.rule,
        level: args.level.map(|level| level.as_str().to_owned()),
        entity,
        status: args.status,
        from: resolve_time("from", args.from, &SystemClock)?,
        to: resolve_time("to", args.to, &SystemClock)?,
        limit: 0,
        cursor: None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // The table's columns are as wide as their longest cell, so it is read after the last page.
    let mut rows = Vec::new();
    let mut remaining = args.limit;
    while remaining > 0 {
        request.limit = remaining.min(MAX_SEARCH_LIMIT);
        let page = store.list_alerts(&request)?;
        remaining -= page.items.len();
        for alert in &page.items {
            if args.json {
                writeln!(out, "{}", serde_json::to_string(alert)?)?;
            } else {
                rows.push(table_row(alert));
            }
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    if !args.json {
        write_table(&mut out, &rows)?;
    }
    Ok(())
}

const HEADER: [&str; 7] = ["ID", "LAST EVENT", "LEVEL", "STATUS", "EVENTS", "RULE", "ENTITIES"];

/// The alerts table: each column as wide as its widest cell, the count right-aligned, the last
/// column unpadded.
fn write_table(out: &mut impl Write, rows: &[[String; 7]]) -> std::io::Result<()> {
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADER.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            match i {
                4 => line.push_str(&format!("{pad}{cell}  ")),
                6 => line.push_str(cell),
                _ => line.push_str(&format!("{cell}{pad} ")),
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The `--entity` filter (the model's one entity parser).
fn entity_arg(text: &str) -> Result<(Option<EntityKind>, String)> {
    parse_entity(text).ok_or_else(|| {
        usage("--entity: expected kind:value (kinds: ip, account, email, device, card, session, asn, api_key) or a bare value")
    })
}

fn table_row(alert: &Alert) -> [String; 7] {
    [
        alert.id.clone(),
        format_timestamp(alert.last_event_time),
        alert.rule.level.clone(),
        status_text(alert),
        alert.event_count.to_string(),
        alert.rule.title.chars().take(60).collect(),
        entities_text(alert),
    ]
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
        outln!("{}", serde_json::to_string_pretty(&json!({"alert": alert, "transitions": transitions, "evidence": alert.evidence}))?);
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
        Some(actor) if actor.trim().is_empty() => return Err(usage("--actor must not be empty")),
        Some(actor) => actor,
        None => format!("cli:{}", os_user()),
    };
    let note = who.note.filter(|n| !n.trim().is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(usage(format!("--note is longer than {MAX_NOTE_CHARS} characters")));
    }
    let alert = store.transition_alert(id, action, &actor, note.as_deref(), SystemClock.now()).map_err(|error| match error {
        rampart_store::StoreError::AlertNotFound(_) => not_found(id),
        other => other.into(),
    })?;
    outln!("{} {}", alert.id, status_text(&alert));
    Ok(())
}

fn not_found(id: &str) -> anyhow::Error {
    anyhow!("there is no alert `{id}` (see `rampart alerts list`)")
}

/// The user running the command, as the OS names them: `$USER` (or `$USERNAME`, `$LOGNAME`),
/// else the name `/etc/passwd` gives this process's user id, else `uid:<n>`.
fn os_user() -> String {
    ["USER", "USERNAME", "LOGNAME"].iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty())).unwrap_or_else(user_of_uid)
}

#[cfg(unix)]
fn user_of_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's user.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return "unknown".into() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd_name(&passwd, uid).unwrap_or_else(|| format!("uid:{uid}"))
}

#[cfg(not(unix))]
fn user_of_uid() -> String {
    "unknown".into()
}

/// The name of `uid` in the text of /etc/passwd (`name:password:uid:gid:...`).
#[cfg_attr(not(unix), allow(dead_code))]
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next().filter(|n| !n.is_empty() && !n.starts_with('#'))?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_11_actor_is_the_passwd_name_of_the_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nbuilder:x:1000:1000::/home/builder:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 1000).as_deref(), Some("builder"));
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 42), None);
    }

    #[test]
    fn issue_11_alerts_table_columns_fit_long_statuses() {
        let rows = [
            ["a1".to_owned(), "t".into(), "high".into(), "closed (false_positive)".into(), "3".into(), "Rule".into(), "ip:1".into()],
            ["a2".to_owned(), "t".into(), "low".into(), "open".into(), "12".into(), "Rule".into(), "ip:2".into()],
        ];
        let mut out = Vec::new();
        write_table(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let columns: Vec<usize> = text.lines().map(|l| l.find("Rule").or_else(|| l.find("RULE")).unwrap()).collect();
        assert_eq!(columns, vec![columns[0]; 3], "{text}");
        assert_eq!(
            text,
            "ID LAST EVENT LEVEL STATUS                  EVENTS  RULE ENTITIES\n\
             a1 t          high  closed (false_positive)      3  Rule ip:1\n\
             a2 t          low   open                        12  Rule ip:2\n"
        );
    }

    #[test]
    fn issue_12_list_flags_use_the_models_vocabulary() {
        use clap::Parser;

        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ListArgs,
        }
        let cli = Cli::try_parse_from(["alerts", "--level", "high", "--from", "now-24h", "--to", "-1h", "--entity", "ip:2001:db8::1"])
            .expect("valid flags");
        assert_eq!(cli.args.level, Some(Level::High));
        let clock = rampart_model::FixedClock::new(rampart_model::parse_rfc3339("2026-12-07T12:00:00Z").expect("a time"));
        let from = resolve_time("from", cli.args.from, &clock).expect("in range").map(format_timestamp);
        let to = resolve_time("to", cli.args.to, &clock).expect("in range").map(format_timestamp);
        assert_eq!((from.as_deref(), to.as_deref()), (Some("2026-12-06T12:00:00.000Z"), Some("2026-12-07T11:00:00.000Z")));
        assert_eq!(entity_arg("ip:2001:db8::1").ok(), Some((Some(EntityKind::Ip), "2001:db8::1".to_owned())));
        assert!(entity_arg("email:").is_err());
        for bad in [["alerts", "--level", "severe"], ["alerts", "--from", "yesterday"], ["alerts", "--to", "now-1w"]] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
