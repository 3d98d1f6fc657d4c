//! Rule files in, one [`Engine`] and the correlations out: parsing, filters, disabled rules and per-rule errors.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::correlation::{BaseRule, CorrelationSet, CorrelationSpec, plan_correlations};
use crate::error::{RuleError, RuleErrorKind};
use crate::mapping::FieldMapping;
use crate::ruleset::MAX_RULE_BYTES_TOTAL;
use crate::sigma::compile::{AtomTable, Expr, compile_detection};
use crate::sigma::document::{Document, FilterDocument, Level, LogSource, SourcedDocument, parse_documents};
use crate::sigma::matcher::{CompiledRule, Engine, Route};

/// What Rampart knows about a loaded rule, for matches, listings and alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The rule's `id` (or, lacking one, its title).
    pub id: String,
    /// A hash of the text of the rule's file: changes whenever the rule does.
    pub version: String,
    /// The title.
    pub title: String,
    /// What it detects.
    pub description: Option<String>,
    /// How serious a match is.
    #[serde(serialize_with = "level_name")]
    pub level: Level,
    /// The tags (`attack.t1190` ...).
    pub tags: Vec<String>,
    /// `stable`, `test`, `experimental` ...
    pub status: Option<String>,
    /// The file it came from.
    pub file: String,
    /// The logsource as written.
    #[serde(serialize_with = "logsource_fields")]
    pub logsource: LogSource,
    /// Whether the field mapping routes any events to it (rules for other systems load but never match).
    pub routed: bool,
    /// Whether it is switched off (`rampart rules disable`).
    pub disabled: bool,
    /// Titles of the filters applied to it.
    pub filters: Vec<String>,
    /// Its `name`, by which correlations may name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a correlation rule: what it correlates and when it fires. `None` for single-event rules.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "correlation_fields")]
    pub correlation: Option<Arc<CorrelationSpec>>,
    /// Whether its own matches (or hits) raise alerts: false for a rule named only by
    /// correlations that do not `generate`, which uses it as a building block.
    pub generates: bool,
    /// Why it loads but can never fire (a correlation naming a disabled rule); `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inert: Option<String>,
}

fn level_name<S: serde::Serializer>(level: &Level, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(level.as_str())
}

fn correlation_fields<S: serde::Serializer>(spec: &Option<Arc<CorrelationSpec>>, serializer: S) -> Result<S::Ok, S::Error> {
    spec.as_deref().serialize(serializer)
}

fn logsource_fields<S: serde::Serializer>(logsource: &LogSource, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    for (key, value) in [("category", &logsource.category), ("product", &logsource.product), ("service", &logsource.service)] {
        if let Some(value) = value {
            map.serialize_entry(key, value)?;
        }
    }
    map.end()
}

/// A rule file's name and text.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// Shown in errors and listings: a path, or `builtin:<name>`.
    pub name: String,
    /// The YAML.
    pub text: String,
}

/// The outcome of compiling rule files: the engine over every good, enabled rule, the
/// correlations that run, every rule (enabled or not) for listings, and what was refused.
#[derive(Debug)]
pub struct CompiledRules {
    /// The matcher of single-event rules.
    pub engine: Engine,
    /// The correlation rules that run (enabled, not inert), for a [`Correlator`](crate::Correlator).
    pub correlations: CorrelationSet,
    /// Every loaded rule, enabled or disabled: single-event rules in load order, then
    /// correlation rules (each after those it names).
    pub rules: Vec<Arc<RuleInfo>>,
    /// Rules and files refused, with file, line and reason.
    pub errors: Vec<RuleError>,
    /// Rules that load but cannot fire, with file, line and reason ([`RuleErrorKind::Inert`]).
    pub warnings: Vec<RuleError>,
}

/// Compiles rule files into an engine. Bad documents are reported and skipped; `disabled` (rule
/// ids) are listed but not matched.
pub fn compile_rules(files: &[RuleFile], mapping: &FieldMapping, disabled: &HashSet<String>) -> CompiledRules {
    let mut errors = Vec::new();
    let mut documents = Vec::new();
    let mut total = 0;
    for file in files {
        total += file.text.len() as u64;
        if total > MAX_RULE_BYTES_TOTAL {
            errors.push(RuleError::new(&file.name, None, None, RuleErrorKind::TotalTooLarge { total, limit: MAX_RULE_BYTES_TOTAL }));
            continue;
        }
        let (docs, errs) = parse_documents(&file.name, &file.text);
        documents.extend(docs);
        errors.extend(errs);
    }
    let mut table = AtomTable::default();
    let mut rules: Vec<(SourcedDocument, RuleInfo, Expr)> = Vec::new();
    let mut filters = Vec::new();
    let mut correlations = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for sourced in documents {
        let rule = match &sourced.document {
            Document::Filter(_) => {
                filters.push(sourced);
                continue;
            }
            Document::Correlation(_) => {
                correlations.push(sourced);
                continue;
            }
            Document::Rule(rule) => rule.clone(),
        };
        let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
        if let Some(first) = seen.get(&id) {
            errors.push(sourced.error("id", RuleErrorKind::Invalid(format!("rule id {id} is already used by a rule in {first}"))));
            continue;
        }
        let expr = match compile_detection(&rule.detection, mapping, &mut table) {
            Ok(expr) => expr,
            Err((needle, kind)) => {
                errors.push(sourced.error(&needle, kind));
                continue;
            }
        };
        seen.insert(id.clone(), sourced.file.clone());
        let info = RuleInfo {
            disabled: disabled.contains(&id),
            id,
            version: format!("{:012x}", xxhash_rust::xxh3::xxh3_64(sourced.text.as_bytes()) >> 16),
            title: rule.title.clone(),
            description: rule.description.clone(),
            level: rule.level,
            tags: rule.tags.clone(),
            status: rule.status.clone(),
            file: sourced.file.clone(),
            routed: mapping.routes_for(&rule.logsource) != 0,
            logsource: rule.logsource.clone(),
            filters: Vec::new(),
            name: rule.name.clone(),
            correlation: None,
            generates: true,
            inert: None,
        };
        rules.push((sourced, info, expr));
    }
    for sourced in &filters {
        let Document::Filter(filter) = &sourced.document else { continue };
        if let Err(error) = apply_filter(sourced, filter, mapping, &mut table, &mut rules) {
            errors.push(error);
        }
    }
    let routes: Vec<Route> = mapping
        .routes()
        .iter()
        .enumerate()
        .map(|(index, route)| {
            let clauses = route.when.iter().map(|(path, values)| (path.clone(), values.values().to_vec())).collect();
            (clauses, 1u64 << index)
        })
        .collect();
    let base: Vec<BaseRule<'_>> = rules
        .iter()
        .map(|(_, info, _)| BaseRule {
            id: &info.id,
            name: info.name.as_deref(),
            disabled: info.disabled,
            routed: info.routed,
            version: &info.version,
        })
        .collect();
    let mut warnings = Vec::new();
    let (planned, generates) = plan_correlations(&correlations, &base, mapping, disabled, &mut errors, &mut warnings);
    let mut listed = Vec::with_capacity(rules.len() + planned.len());
    let mut compiled = Vec::new();
    for (sourced, mut info, expr) in rules {
        info.generates = generates.get(&info.id).copied().unwrap_or(true);
        let info = Arc::new(info);
        listed.push(info.clone());
        if !info.disabled {
            let Document::Rule(rule) = &sourced.document else { continue };
            compiled.push(CompiledRule { routes: mapping.routes_for(&rule.logsource), info, expr });
        }
    }
    let mut running = Vec::new();
    for plan in planned {
        let info = Arc::new(plan.info);
        listed.push(info.clone());
        if plan.active {
            running.push((info, plan.inputs, plan.state_version));
        }
    }
    CompiledRules {
        engine: Engine::build(table, compiled, &routes),
        correlations: CorrelationSet::build(running),
        rules: listed,
        errors,
        warnings,
    }
}

/// Adds a filter's condition (AND) to every rule it names, or, naming none, to every rule of its
/// logsource.
fn apply_filter(
    sourced: &SourcedDocument,
    filter: &FilterDocument,
    mapping: &FieldMapping,
    table: &mut AtomTable,
    rules: &mut [(SourcedDocument, RuleInfo, Expr)],
) -> Result<(), RuleError> {
    let condition = compile_detection(&filter.detection, mapping, table).map_err(|(needle, kind)| sourced.error(&needle, kind))?;
    let mut applied = 0;
    for (rule_doc, info, expr) in rules.iter_mut() {
        let Document::Rule(rule) = &rule_doc.document else { continue };
        let named = if filter.rules.is_empty() {
            logsource_covers(&filter.logsource, &rule.logsource)
        } else {
            filter
                .rules
                .iter()
                .any(|wanted| Some(wanted) == rule.id.as_ref() || Some(wanted) == rule.name.as_ref() || *wanted == rule.title)
        };
        if named {
            *expr = Expr::And(vec![expr.clone(), condition.clone()]);
            info.filters.push(filter.title.clone());
            applied += 1;
        }
    }
    if applied == 0 && !filter.rules.is_empty() {
        return Err(sourced
            .error("rules", RuleErrorKind::Invalid(format!("the filter names rules that are not loaded: {}", filter.rules.join(", ")))));
    }
    Ok(())
}

/// Whether every key the filter's logsource sets is the rule's too.
fn logsource_covers(filter: &LogSource, rule: &LogSource) -> bool {
    let same = |f: &Option<String>, r: &Option<String>| f.is_none() || f == r;
    same(&filter.category, &rule.category) && same(&filter.product, &rule.product) && same(&filter.service, &rule.service)
}
