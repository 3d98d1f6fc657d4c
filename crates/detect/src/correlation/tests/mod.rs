//! Sigma correlation rules: what is refused at load (with file, line and reason), how rules are
//! resolved (`load`), and how each correlation type fires over hand-made events (`run`).

mod load;
mod run;

use std::collections::HashSet;
use std::sync::Arc;

use rampart_model::{Entity, EntityKind, Event, MatchedValue};
use serde_json::json;
use time::OffsetDateTime;

use crate::correlation::{Condition, CorrelationHit, CorrelationLimits, CorrelationStats, CorrelationType, Correlator};
use crate::detector::{Detector, RuleSources};
use crate::error::{RuleError, RuleErrorKind, StateError};
use crate::mapping::FieldMapping;
use crate::sigma::{CompiledRules, RuleFile, RuleInfo, Scratch, compile_rules};

/// Three single-event rules: failed and successful logins, and orders.
const BASE: &str = "\
title: Failed login
id: failed-login
name: failed_login
logsource: {product: rampart, category: authentication}
detection:
    sel: {event.action: login, event.outcome: failure}
    condition: sel
---
title: Successful login
id: ok-login
name: successful_login
logsource: {product: rampart, category: authentication}
detection:
    sel: {event.action: login, event.outcome: success}
    condition: sel
---
title: Order placed
id: order
name: order_placed
logsource: {product: rampart, category: order}
detection:
    sel: {event.action: order_placed}
    condition: sel
";

fn file(name: &str, text: &str) -> RuleFile {
    RuleFile { name: name.to_owned(), text: text.to_owned() }
}

fn compile_with(texts: &[(&str, &str)], disabled: &[&str]) -> CompiledRules {
    let files: Vec<RuleFile> = texts.iter().map(|(name, text)| file(name, text)).collect();
    let disabled: HashSet<String> = disabled.iter().map(|id| (*id).to_owned()).collect();
    compile_rules(&files, &FieldMapping::builtin(), &disabled)
}

/// The base rules and one correlation file.
fn compile(correlation: &str) -> CompiledRules {
    compile_with(&[("base.yml", BASE), ("corr.yml", correlation)], &[])
}

/// A correlation document whose `correlation` section is `body` (indented here): its first line
/// is line 4 of the file.
fn correlation(body: &str) -> String {
    let mut text = String::from("title: Brute force\nid: brute\ncorrelation:\n");
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Compiles a bad correlation beside the base rules: exactly one error, in `corr.yml`, and the
/// base rules still load.
fn refused_text(text: &str) -> RuleError {
    let compiled = compile(text);
    assert_eq!(compiled.errors.len(), 1, "{text}\n{:?}", compiled.errors);
    assert_eq!(compiled.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["failed-login", "ok-login", "order"], "{text}");
    assert!(compiled.correlations.is_empty());
    let error = compiled.errors[0].clone();
    assert_eq!(error.file, "corr.yml");
    error
}

fn refused(body: &str) -> RuleError {
    refused_text(&correlation(body))
}

/// (line, kind, message) of an error.
fn said(error: &RuleError) -> (Option<usize>, &'static str, String) {
    match &error.kind {
        RuleErrorKind::Invalid(message) => (error.line, "invalid", message.clone()),
        RuleErrorKind::Unsupported(message) => (error.line, "unsupported", message.clone()),
        RuleErrorKind::Inert(message) => (error.line, "inert", message.clone()),
        other => (error.line, "other", other.to_string()),
    }
}

fn rule<'a>(compiled: &'a CompiledRules, id: &str) -> &'a Arc<RuleInfo> {
    compiled.rules.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no rule {id}"))
}

const COUNT_FAILED: &str = "type: event_count\nrules: [failed_login]\ngroup-by: [source.ip]\ntimespan: 5m\ncondition: {gte: 3}\n";
