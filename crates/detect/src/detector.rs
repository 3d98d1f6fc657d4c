//! The running rule set: loaded from its sources, swapped whole on change (keeping the last good
//! version of a file that breaks), and turning matches into alerts.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rampart_model::{Alert, AlertRule, Event, FieldSource, FieldValue, MatchedValue, fields};
use time::OffsetDateTime;
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use crate::error::{MappingError, RuleError};
use crate::mapping::FieldMapping;
use crate::ruleset::{builtin_rules, is_rule_file, read_rule_dir};
use crate::sigma::{CompiledRules, RuleFile, RuleMatch, Scratch, compile_rules};

/// Where a rule set comes from.
#[derive(Debug, Clone, Default)]
pub struct RuleSources {
    /// Whether the built-in rules are loaded.
    pub builtin: bool,
    /// Directories of `.yml` rules, read recursively.
    pub dirs: Vec<PathBuf>,
    /// A field mapping file replacing the built-in one.
    pub mapping: Option<PathBuf>,
    /// The file listing disabled rule ids, one a line.
    pub disabled: Option<PathBuf>,
}

/// What the sources hold right now.
#[derive(Debug)]
pub struct SourceContents {
    /// The rule files that could be read.
    pub files: Vec<RuleFile>,
    /// Files that could not be read.
    pub errors: Vec<RuleError>,
    /// The field mapping.
    pub mapping: FieldMapping,
    /// Disabled rule ids.
    pub disabled: HashSet<String>,
}

impl RuleSources {
    /// Reads the sources: the rule files, the mapping and the disabled ids.
    pub fn read(&self) -> Result<SourceContents, MappingError> {
        let mapping = match &self.mapping {
            Some(path) => FieldMapping::load(path)?,
            None => FieldMapping::builtin(),
        };
        let mut files = if self.builtin { builtin_rules() } else { Vec::new() };
        let mut errors = Vec::new();
        for dir in &self.dirs {
            let (found, errs) = read_rule_dir(dir);
            files.extend(found);
            errors.extend(errs);
        }
        let disabled = self.disabled.as_deref().map(read_disabled).unwrap_or_default();
        Ok(SourceContents { files, errors, mapping, disabled })
    }

    /// A fingerprint of everything the rule set is read from (names, sizes, modification times),
    /// to notice changes without reading the files.
    pub fn stamp(&self) -> u64 {
        let mut hasher = Xxh3::new();
        let mut add = |path: &Path| {
            path.hash(&mut hasher);
            if let Ok(meta) = std::fs::metadata(path) {
                meta.len().hash(&mut hasher);
                meta.modified().ok().hash(&mut hasher);
            }
        };
        for dir in &self.dirs {
            let mut paths = Vec::new();
            walk(dir, &mut paths, 0);
            paths.sort();
            paths.iter().for_each(|p| add(p));
        }
        self.mapping.iter().chain(self.disabled.iter()).for_each(|p| add(p));
        hasher.finish()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() && depth < 16 => walk(&path, out, depth + 1),
            Ok(kind) if kind.is_file() && is_rule_file(&path) => out.push(path),
            _ => {}
        }
    }
}

/// The ids in a disabled-rules file (blank lines and `#` comments skipped). A missing file is empty.
pub fn read_disabled(path: &Path) -> HashSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Writes a disabled-rules file (sorted), replacing it atomically.
pub fn write_disabled(path: &Path, ids: &HashSet<String>) -> std::io::Result<()> {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    let mut text = String::from("# Rule ids switched off with `rampart rules disable`; one a line.\n");
    for id in sorted {
        text.push_str(id);
        text.push('\n');
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(temp, path)
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Rules now loaded.
    pub rules: usize,
    /// Errors of the new set (files that failed keep their last good version).
    pub errors: Vec<RuleError>,
    /// Files whose last good version was kept because the new one failed.
    pub kept: Vec<String>,
}

struct Loaded {
    rules: Arc<CompiledRules>,
    /// The text of each file as last loaded without errors.
    good: HashMap<String, String>,
    stamp: u64,
}

/// A rule set in use: read by many threads, replaced whole on reload.
pub struct Detector {
    sources: RuleSources,
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("sources", &self.sources).field("rules", &self.rules().rules.len()).finish()
    }
}

impl Detector {
    /// Loads the rule set. Bad rules are left out and listed in `rules().errors`; only a bad
    /// mapping file stops the load.
    pub fn load(sources: RuleSources) -> Result<Detector, MappingError> {
        // The first load is a reload with no earlier version to fall back on.
        let none = Loaded { rules: Arc::new(compile_rules(&[], &FieldMapping::empty(), &HashSet::new())), good: HashMap::new(), stamp: 0 };
        let detector = Detector { sources, loaded: RwLock::new(none) };
        detector.reload()?;
        Ok(detector)
    }

    /// A detector over rules already compiled, with no sources to reload from (the server's
    /// built-in default, tests).
    pub fn from_compiled(rules: CompiledRules) -> Detector {
        Detector { sources: RuleSources::default(), loaded: RwLock::new(Loaded { rules: Arc::new(rules), good: HashMap::new(), stamp: 0 }) }
    }

    /// The rules in use.
    pub fn rules(&self) -> Arc<CompiledRules> {
        match self.loaded.read() {
            Ok(loaded) => loaded.rules.clone(),
            Err(poisoned) => poisoned.into_inner().rules.clone(),
        }
    }

    /// Reloads when any source changed since the last load; `None` when nothing changed.
    pub fn reload_if_changed(&self) -> Option<Result<ReloadReport, MappingError>> {
        let stamp = self.sources.stamp();
        let current = self.loaded.read().map(|l| l.stamp).unwrap_or_default();
        (stamp != current).then(|| self.reload_with_stamp(stamp))
    }

    /// Reloads now. A file that now fails keeps its last good version; a bad mapping keeps the
    /// whole current set.
    pub fn reload(&self) -> Result<ReloadReport, MappingError> {
        self.reload_with_stamp(self.sources.stamp())
    }

    fn reload_with_stamp(&self, stamp: u64) -> Result<ReloadReport, MappingError> {
        let SourceContents { mut files, errors: read_errors, mapping, disabled } = match self.sources.read() {
            Ok(read) => read,
            Err(error) => {
                // Do not retry a broken mapping every poll; the next change retries.
                if let Ok(mut loaded) = self.loaded.write() {
                    loaded.stamp = stamp;
                }
                return Err(error);
            }
        };
        let mut compiled = compile_rules(&files, &mapping, &disabled);
        let failed: HashSet<String> = compiled.errors.iter().map(|e| e.file.clone()).collect();
        let previous = self.loaded.read().map(|l| l.good.clone()).unwrap_or_default();
        let mut kept = Vec::new();
        for file in &mut files {
            if failed.contains(&file.name)
                && let Some(text) = previous.get(&file.name)
            {
                file.text = text.clone();
                kept.push(file.name.clone());
            }
        }
        // The errors stay those of the files as they are now, even where an old version runs.
        let mut errors = read_errors;
        errors.append(&mut compiled.errors);
        if !kept.is_empty() {
            compiled = compile_rules(&files, &mapping, &disabled);
        }
        let good: HashMap<String, String> = files
            .iter()
            .filter(|f| !failed.contains(&f.name) || kept.contains(&f.name))
            .map(|f| (f.name.clone(), f.text.clone()))
            .collect();
        let report = ReloadReport { rules: compiled.rules.len(), errors: errors.clone(), kept };
        compiled.errors = errors;
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Loaded { rules: Arc::new(compiled), good, stamp };
        }
        Ok(report)
    }

    /// Runs every event through the rules and returns the alerts, `now` as their time.
    pub fn detect(&self, events: &[Event], now: OffsetDateTime) -> Vec<Alert> {
        let rules = self.rules();
        let mut scratch = Scratch::default();
        let mut matches = Vec::new();
        let mut alerts = Vec::new();
        for event in events {
            matches.clear();
            rules.engine.evaluate(event, &mut scratch, &mut matches);
            for found in &matches {
                alerts.push(alert_for(event, event.id(), event.timestamp(), found, now));
            }
        }
        alerts
    }
}

/// The alert for a rule's match on an event.
pub fn alert_for<S: FieldSource + ?Sized>(
    event: &S,
    event_id: &str,
    event_time: OffsetDateTime,
    found: &RuleMatch,
    now: OffsetDateTime,
) -> Alert {
    let text = |path: &str| match event.field(path) {
        Some(FieldValue::Str(s)) => Some(s.to_owned()),
        Some(FieldValue::Ip(ip)) => Some(ip.to_string()),
        _ => None,
    };
    let mut key = Vec::with_capacity(found.rule.id.len() + event_id.len() + 1);
    key.extend_from_slice(found.rule.id.as_bytes());
    key.push(0);
    key.extend_from_slice(event_id.as_bytes());
    Alert {
        id: format!("{:032x}", xxh3_128(&key)),
        created_at: now,
        rule: AlertRule {
            id: found.rule.id.clone(),
            title: found.rule.title.clone(),
            level: found.rule.level.as_str().to_owned(),
            tags: found.rule.tags.clone(),
        },
        event_id: event_id.to_owned(),
        event_time,
        source_ip: text(fields::SOURCE_IP),
        user_name: text(fields::USER_NAME),
        matched: found.fields.iter().map(|f| MatchedValue { field: f.field.clone(), value: f.value.clone() }).collect(),
    }
}
