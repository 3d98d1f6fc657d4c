//! `rampart rules validate|test|list|disable|enable|mapping`: Sigma rule tooling.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rampart_detect::{
    CompiledRules, DEFAULT_MAPPING, Detector, FieldMapping, RuleError, RuleFile, RuleMatch, Scratch, builtin_rules, compile_rules,
    read_disabled, read_rule_path, write_disabled,
};
use rampart_ingest::{BodyLine, CardProtector, Ingestor, body_lines};
use rampart_model::Detection;
use serde_json::json;
use time::OffsetDateTime;

use super::Global;
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check rule files or directories; prints every error and exits 1 if any rule is invalid.
    Validate {
        /// Rule files (.yml) or directories of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Field mapping to compile against [default: detect.mapping, else the built-in one].
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
    /// Run rules over a file of events or log lines and show what each rule matches, and why.
    Test {
        /// Rule files (.yml) or directories of them.
        #[arg(required_unless_present = "builtin", value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Run the built-in rule pack too (alone when no PATH is named).
        #[arg(long)]
        builtin: bool,
        /// Events (NDJSON) or access-log lines.
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// auto, jsonl, combined, common, combined-truth, nginx-json, or a [log_formats] name.
        #[arg(long, default_value = "auto")]
        format: String,
        /// Field mapping [default: detect.mapping, else the built-in one].
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Print the matches as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// List the rules the server loads (built-in, the data directory's rules/, detect.rules_dirs).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch a rule off by id; a running server picks the change up within detect.reload_interval.
    Disable {
        /// The rule's id.
        id: String,
    },
    /// Switch a disabled rule back on.
    Enable {
        /// The rule's id.
        id: String,
    },
    /// Print the built-in field mapping (a starting point for detect.mapping).
    Mapping,
}

pub fn run(global: &Global, command: Command) -> Result<()> {
    let config = global.config()?;
    match command {
        Command::Validate { paths, mapping } => validate(&config, &paths, mapping.as_deref()),
        Command::Test { paths, builtin, events, format, mapping, json } => {
            test(&config, &Rules { paths: &paths, builtin }, &events, &format, mapping.as_deref(), json)
        }
        Command::List { json } => list(&config, json),
        Command::Disable { id } => set_disabled(&config, &id, true),
        Command::Enable { id } => set_disabled(&config, &id, false),
        Command::Mapping => {
            out!("{DEFAULT_MAPPING}");
            Ok(())
        }
    }
}

fn mapping_for(config: &Config, explicit: Option<&Path>) -> Result<FieldMapping> {
    match explicit.or(config.detect.mapping.as_deref()) {
        Some(path) => FieldMapping::load(path).map_err(Into::into),
        None => Ok(FieldMapping::builtin()),
    }
}

/// The rules a verb runs: files and directories named, and the built-in pack when asked for.
struct Rules<'a> {
    paths: &'a [PathBuf],
    builtin: bool,
}

/// Reads rule files and directories, with the errors of those that cannot be read. Test-case
/// files (a top-level `tests:` list, as in the pack's `rules/tests/`) are not rules: they are
/// skipped, and counted.
fn read_paths(paths: &[PathBuf]) -> (Vec<RuleFile>, Vec<RuleError>, usize) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = 0;
    for path in paths {
        let (found, errs) = read_rule_path(path);
        for file in found {
            if is_test_cases(&file.text) {
                skipped += 1;
            } else {
                files.push(file);
            }
        }
        errors.extend(errs);
    }
    (files, errors, skipped)
}

/// Whether a YAML file is a file of rule test cases (`tests:` at the top level and neither
/// `detection:` nor `correlation:`), not a rule.
fn is_test_cases(text: &str) -> bool {
    let top_level = |key: &str| text.lines().any(|line| line.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')));
    top_level("tests") && !top_level("detection") && !top_level("correlation")
}

/// Compiled rules and the count of test-case files skipped.
fn compile_paths(config: &Config, rules: &Rules<'_>, mapping: Option<&Path>) -> Result<(CompiledRules, usize)> {
    let mapping = mapping_for(config, mapping)?;
    let (mut files, read_errors, skipped) = read_paths(rules.paths);
    if rules.builtin {
        files.splice(0..0, builtin_rules());
    }
    let mut compiled = compile_rules(&files, &mapping, &HashSet::new());
    let mut errors = read_errors;
    errors.append(&mut compiled.errors);
    compiled.errors = errors;
    if compiled.rules.is_empty() && compiled.errors.is_empty() {
        let named: Vec<String> = rules.paths.iter().map(|p| p.display().to_string()).collect();
        let tests = if skipped > 0 { format!(" (only {skipped} test-case file(s))") } else { String::new() };
        bail!("no rules found in {}{tests}; `--builtin` runs the built-in pack", named.join(", "));
    }
    Ok((compiled, skipped))
}

fn validate(config: &Config, paths: &[PathBuf], mapping: Option<&Path>) -> Result<()> {
    let (compiled, skipped) = compile_paths(config, &Rules { paths, builtin: false }, mapping)?;
    for error in &compiled.errors {
        outln!("error: {error}");
    }
    for warning in &compiled.warnings {
        outln!("warning: {warning}");
    }
    let unrouted = compiled.rules.iter().filter(|r| !r.routed).count();
    outln!("{} rule(s) valid, {} invalid", compiled.rules.len(), compiled.errors.len());
    if skipped > 0 {
        outln!("{skipped} test-case file(s) skipped (not rules)");
    }
    if unrouted > 0 {
        outln!("{unrouted} valid rule(s) have a logsource the field mapping routes no events to; they will never match");
    }
    if !compiled.errors.is_empty() {
        bail!("{} rule(s) or file(s) are invalid", compiled.errors.len());
    }
    Ok(())
}

fn test(config: &Config, rules: &Rules<'_>, events: &Path, format: &str, mapping: Option<&Path>, json: bool) -> Result<()> {
    let (compiled, _) = compile_paths(config, rules, mapping)?;
    for error in &compiled.errors {
        eprintln!("error: {error}");
    }
    let text = std::fs::read(events).with_context(|| format!("cannot read {}", events.display()))?;
    let format = match format {
        "auto" => {
            let head = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]);
            config.formats.detect(head.lines().take(20)).context("cannot tell the format of the events file; name it with --format")?
        }
        name => config.formats.get(name).ok_or_else(|| super::usage(format!("--format: no format is named `{name}`")))?,
    };
    let key: [u8; 32] = rand::random();
    let ingestor = Ingestor::new(config.ingest.clone(), CardProtector::new(&key)).with_client_ip(config.client_ip.clone());
    let detector = Detector::from_compiled(compiled);
    let rules = detector.rules();
    let mut scratch = Scratch::default();
    let mut matches: Vec<RuleMatch> = Vec::new();
    let mut detections: Vec<Detection> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let (mut events_read, mut refused) = (0usize, 0usize);
    let now = OffsetDateTime::now_utc();
    for BodyLine { number: line, bytes: raw, .. } in body_lines(&text) {
        let event = match ingestor.ingest_line(&format, line, raw, now, false, None) {
            Ok(event) => event,
            Err(error) => {
                eprintln!("line {line}: refused: {} ({})", error.message, error.code.as_str());
                refused += 1;
                continue;
            }
        };
        events_read += 1;
        matches.clear();
        detections.clear();
        rules.engine.evaluate(&event, &mut scratch, &mut matches);
        detector.observe_record(&event, event.id(), event.timestamp(), &matches, now, &mut detections);
        // Building blocks of correlations match without raising alerts; show them, marked, as the why.
        for found in matches.iter().filter(|m| !m.rule.generates) {
            print_match(line, found, "building block", json)?;
        }
        for detection in &detections {
            *counts.entry(format!("{} ({})", detection.rule.title, detection.rule.id)).or_default() += 1;
            print_detection(line, detection, json)?;
        }
    }
    for detection in detector.expire(OffsetDateTime::now_utc() + time::Duration::days(366)) {
        *counts.entry(format!("{} ({})", detection.rule.title, detection.rule.id)).or_default() += 1;
        print_detection(0, &detection, json)?;
    }
    if !json {
        outln!("{events_read} event(s), {refused} refused; matches by rule:");
        for rule in rules.rules.iter().filter(|r| !r.disabled && r.generates) {
            let label = format!("{} ({})", rule.title, rule.id);
            outln!("  {:>6}  {label}", counts.get(&label).copied().unwrap_or(0));
        }
    }
    if !rules.errors.is_empty() {
        bail!("{} rule(s) or file(s) are invalid", rules.errors.len());
    }
    Ok(())
}

/// One rule match of `rules test` (line 0: a window closed at the end of the file).
fn print_match(line: usize, found: &RuleMatch, note: &str, json: bool) -> Result<()> {
    if json {
        let fields: Vec<_> = found.fields.iter().map(|f| json!({"field": f.field, "value": f.value})).collect();
        outln!(
            "{}",
            json!({"line": line, "rule": found.rule.id, "title": found.rule.title, "level": found.rule.level.as_str(), "note": note, "matched": fields})
        );
        return Ok(());
    }
    outln!("line {line}: {} ({}) [{note}]", found.rule.title, found.rule.id);
    for field in &found.fields {
        outln!("    {} = {:?}", field.field, field.value);
    }
    Ok(())
}

/// One detection of `rules test`: a rule's match or a correlation's hit.
fn print_detection(line: usize, detection: &Detection, json: bool) -> Result<()> {
    if json {
        outln!(
            "{}",
            json!({
                "line": line,
                "rule": detection.rule.id,
                "title": detection.rule.title,
                "level": detection.rule.level,
                "group_by": detection.group_by,
                "event_count": detection.event_count,
                "evidence": detection.evidence,
                "matched": detection.matched,
            })
        );
        return Ok(());
    }
    let place = if line == 0 { "end of file".to_owned() } else { format!("line {line}") };
    outln!("{place}: {} ({}) [{}]", detection.rule.title, detection.rule.id, detection.rule.level);
    if !detection.group_by.is_empty() {
        let groups: Vec<String> = detection.group_by.iter().map(|(field, value)| format!("{field}={value}")).collect();
        outln!("    group {} over {} event(s)", groups.join(", "), detection.event_count);
    }
    for field in &detection.matched {
        outln!("    {} = {:?}", field.field, field.value);
    }
    Ok(())
}

fn list(config: &Config, json: bool) -> Result<()> {
    let detector = rampart_detect::Detector::load(config.rule_sources())?;
    let rules = detector.rules();
    if json {
        let items: Vec<&rampart_detect::RuleInfo> = rules.rules.iter().map(AsRef::as_ref).collect();
        let errors: Vec<String> = rules.errors.iter().map(ToString::to_string).collect();
        let warnings: Vec<String> = rules.warnings.iter().map(ToString::to_string).collect();
        outln!("{}", serde_json::to_string_pretty(&json!({"items": items, "errors": errors, "warnings": warnings}))?);
        return Ok(());
    }
    outln!("{:<38} {:<13} {:<16} {:<9} {:<7} title", "id", "level", "type", "state", "routed");
    for rule in &rules.rules {
        let state = match (rule.disabled, &rule.inert) {
            (true, _) => "disabled",
            (false, Some(_)) => "inert",
            (false, None) if !rule.generates => "block",
            _ => "enabled",
        };
        let kind = rule.correlation.as_ref().map_or("rule", |c| c.kind.as_str());
        let routed = if rule.routed { "yes" } else { "no" };
        outln!("{:<38} {:<13} {:<16} {:<9} {:<7} {}", rule.id, rule.level.as_str(), kind, state, routed, rule.title);
    }
    outln!(
        "{} rule(s), {} refused; state `block`: a building block of correlations, raising no alerts of its own",
        rules.rules.len(),
        rules.errors.len()
    );
    for error in &rules.errors {
        outln!("error: {error}");
    }
    for warning in &rules.warnings {
        outln!("warning: {warning}");
    }
    Ok(())
}

fn set_disabled(config: &Config, id: &str, disable: bool) -> Result<()> {
    let sources = config.rule_sources();
    let path = sources.disabled.clone().context("no disabled-rules file is configured")?;
    let detector = rampart_detect::Detector::load(sources)?;
    if !detector.rules().rules.iter().any(|r| r.id == id) {
        bail!("no loaded rule has the id {id}; `rampart rules list` shows them");
    }
    let mut disabled = read_disabled(&path);
    let changed = if disable { disabled.insert(id.to_owned()) } else { disabled.remove(id) };
    write_disabled(&path, &disabled).with_context(|| format!("cannot write {}", path.display()))?;
    let what = if disable { "disabled" } else { "enabled" };
    if changed {
        outln!("rule {id} {what}")
    } else {
        outln!("rule {id} was already {what}")
    }
    Ok(())
}
