//! The running rule set: loaded from its sources, swapped whole on change (keeping the last good
//! version of a file that breaks), running its correlations, and turning matches and correlation
//! hits into detections.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rampart_model::{
    AlertRule, Detection, ENTITY_SOURCE_FIELDS, Entity, EntityKind, Event, FieldSource, FieldValue, MAX_EVIDENCE, MatchedValue,
};
use time::OffsetDateTime;
use xxhash_rust::xxh3::Xxh3;

use crate::correlation::{CorrelationHit, CorrelationLimits, CorrelationStats, CorrelationType, Correlator};
use crate::error::{MappingError, RuleError, StateError};
use crate::mapping::FieldMapping;
use crate::ruleset::{builtin_rules, is_rule_file, read_rule_dir};
use crate::sigma::{CompiledRules, RuleFile, RuleInfo, RuleMatch, Scratch, compile_rules};

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

/// A rule set in use: read by many threads, replaced whole on reload. Its correlations' state
/// sits beside it behind a mutex, taken only when a batch has matches for a correlation to see.
pub struct Detector {
    sources: RuleSources,
    loaded: RwLock<Loaded>,
    correlator: Mutex<Correlator>,
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
        let none = compile_rules(&[], &FieldMapping::empty(), &HashSet::new());
        let correlator = Mutex::new(Correlator::new(&none, CorrelationLimits::default()));
        let detector =
            Detector { sources, loaded: RwLock::new(Loaded { rules: Arc::new(none), good: HashMap::new(), stamp: 0 }), correlator };
        detector.reload()?;
        Ok(detector)
    }

    /// A detector over rules already compiled, with no sources to reload from (the server's
    /// built-in default, tests).
    pub fn from_compiled(rules: CompiledRules) -> Detector {
        let correlator = Mutex::new(Correlator::new(&rules, CorrelationLimits::default()));
        Detector {
            sources: RuleSources::default(),
            loaded: RwLock::new(Loaded { rules: Arc::new(rules), good: HashMap::new(), stamp: 0 }),
            correlator,
        }
    }

    /// The same detector with other limits on its correlations' state (which starts empty).
    pub fn with_correlation_limits(self, limits: CorrelationLimits) -> Detector {
        let rules = self.rules();
        *self.correlator() = Correlator::new(&rules, limits);
        self
    }

    fn correlator(&self) -> MutexGuard<'_, Correlator> {
        // A panic while holding it leaves counts at worst half-updated; keep detecting.
        self.correlator.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        // Unchanged correlations keep their groups across the swap.
        let mut correlator = self.correlator();
        let fresh = Correlator::new(&compiled, correlator.limits());
        let previous = std::mem::replace(&mut *correlator, fresh);
        correlator.carry_over(previous);
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Loaded { rules: Arc::new(compiled), good, stamp };
        }
        Ok(report)
    }

    /// Runs every event through the rules and returns what they detected, `now` as its time:
    /// matches of rules that raise alerts, and the correlation hits the events complete.
    pub fn detect(&self, events: &[Event], now: OffsetDateTime) -> Vec<Detection> {
        let matched = self.match_batch(events);
        self.correlate_batch(matched, |_| true, now)
    }

    /// The first half of [`Detector::detect`]: the rules' matches on each event, which change no
    /// state. Only the events that matched are kept (cloned), so that the caller may hand the
    /// batch to the store and correlate afterwards just the events it stored as new: a resent
    /// event must not count twice in a window.
    pub fn match_batch(&self, events: &[Event]) -> BatchMatches {
        let rules = self.rules();
        let mut scratch = Scratch::default();
        let mut matches = Vec::new();
        let mut matched = Vec::new();
        let mut newest_ms = None::<i64>;
        // What correlating and alerting read later: the correlations' fields and the entities.
        let paths: Arc<[String]> =
            rules.correlations.fields().iter().cloned().chain(ENTITY_SOURCE_FIELDS.iter().map(|f| (*f).to_owned())).collect();
        for (index, event) in events.iter().enumerate() {
            let time_ms = millis(event.timestamp());
            newest_ms = Some(newest_ms.map_or(time_ms, |newest| newest.max(time_ms)));
            rules.engine.evaluate(event, &mut scratch, &mut matches);
            if !matches.is_empty() {
                let values = paths.iter().map(|path| event.get(path).cloned()).collect();
                let event = CapturedEvent { id: event.id().to_owned(), time: event.timestamp(), paths: paths.clone(), values };
                matched.push(MatchedEvent { index, event, matches: std::mem::take(&mut matches) });
            }
        }
        BatchMatches { matched, newest_ms }
    }

    /// The second half of [`Detector::detect`]: detections of the matched events for which
    /// `is_new(index in the batch)` holds, and the correlation windows they feed; then closes
    /// the windows due by the batch's newest event time.
    pub fn correlate_batch(&self, batch: BatchMatches, is_new: impl Fn(usize) -> bool, now: OffsetDateTime) -> Vec<Detection> {
        let (mut detections, mut hits) = (Vec::new(), Vec::new());
        for MatchedEvent { event, matches, .. } in batch.matched.iter().filter(|m| is_new(m.index)) {
            self.observe(event, &event.id, event.time, matches, now, &mut detections, &mut hits);
        }
        if let Some(newest_ms) = batch.newest_ms {
            self.correlator().expire(newest_ms, &mut hits);
        }
        detections.extend(hits.iter().filter(|hit| hit.rule.generates).map(|hit| detection_of_hit(hit, now)));
        detections
    }

    /// One record's part of [`Detector::detect`], for callers that match records themselves
    /// (the access-log fast path: [`Engine::evaluate`](crate::Engine::evaluate) on a parsed
    /// record, no event built). Appends the detections of `matches` (those of rules that generate
    /// alerts) and of the correlation hits they cause.
    pub fn observe_record<S: FieldSource + ?Sized>(
        &self,
        record: &S,
        event_id: &str,
        event_time: OffsetDateTime,
        matches: &[RuleMatch],
        now: OffsetDateTime,
        out: &mut Vec<Detection>,
    ) {
        let mut hits = Vec::new();
        self.observe(record, event_id, event_time, matches, now, out, &mut hits);
        out.extend(hits.iter().filter(|hit| hit.rule.generates).map(|hit| detection_of_hit(hit, now)));
    }

    /// One event's detections (matches of rules that generate) and the correlation hits it causes.
    #[allow(clippy::too_many_arguments)]
    fn observe<S: FieldSource + ?Sized>(
        &self,
        record: &S,
        event_id: &str,
        event_time: OffsetDateTime,
        matches: &[RuleMatch],
        now: OffsetDateTime,
        detections: &mut Vec<Detection>,
        hits: &mut Vec<CorrelationHit>,
    ) {
        for found in matches.iter().filter(|found| found.rule.generates) {
            detections.push(detection_for(record, event_id, event_time, found, now));
        }
        if matches.is_empty() {
            return;
        }
        // Held per matching event only, so that threads match in parallel.
        let mut correlator = self.correlator();
        if !correlator.is_empty() {
            correlator.observe(record, event_id, millis(event_time), matches, hits);
        }
    }

    /// Evaluates the correlation windows closed by `now` (event time: the newest event time for
    /// replays, the clock for live traffic) and returns what conditions decided at close
    /// (`lt`, `lte`, `neq`) detected. Call it now and then.
    pub fn expire(&self, now: OffsetDateTime) -> Vec<Detection> {
        let mut hits = Vec::new();
        self.correlator().expire(millis(now), &mut hits);
        hits.iter().filter(|hit| hit.rule.generates).map(|hit| detection_of_hit(hit, now)).collect()
    }

    /// Counters of the correlations: groups held, evicted, late and skipped events, hits.
    pub fn correlation_stats(&self) -> CorrelationStats {
        self.correlator().stats()
    }

    /// The correlations' state, for [`Detector::restore_state`] after a restart.
    pub fn snapshot_state(&self) -> Vec<u8> {
        self.correlator().snapshot()
    }

    /// Restores the correlations' state from [`Detector::snapshot_state`]: unchanged
    /// correlations get their groups back, changed or new ones start empty. On error nothing
    /// changes.
    pub fn restore_state(&self, bytes: &[u8]) -> Result<(), StateError> {
        let rules = self.rules();
        let mut correlator = self.correlator();
        *correlator = Correlator::restore(bytes, &rules, correlator.limits())?;
        Ok(())
    }
}

/// Milliseconds since the epoch.
fn millis(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What a correlation hit detected: the group's entities and values, its events and the
/// measured value.
pub fn detection_of_hit(hit: &CorrelationHit, now: OffsetDateTime) -> Detection {
    let time = |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(now);
    let entities = hit
        .group_by
        .iter()
        .filter_map(|(field, value)| EntityKind::of_field(field).map(|kind| Entity { kind, value: value.clone(), field: field.clone() }))
        .collect();
    let spec = hit.rule.correlation.as_deref();
    let kind = spec.map_or(CorrelationType::EventCount, |spec| spec.kind);
    let field = match spec.and_then(|spec| spec.field.clone()) {
        Some(field) => field,
        None => kind.as_str().to_owned(),
    };
    let measured = hit.value.unwrap_or(hit.count as f64);
    Detection {
        rule: alert_rule(&hit.rule),
        entities,
        group_by: hit.group_by.iter().cloned().collect(),
        first_event_time: time(hit.first_ms),
        last_event_time: time(hit.last_ms),
        event_count: hit.count,
        evidence: hit.evidence.iter().take(MAX_EVIDENCE).cloned().collect(),
        matched: vec![MatchedValue { field, value: number_text(measured) }],
        detected_at: now,
    }
}

/// A measured value as text: whole numbers without a fraction.
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { value.to_string() }
}

/// What a rule's match on one event detected: the rule, the event's entities and the matched values.
pub fn detection_for<S: FieldSource + ?Sized>(
    event: &S,
    event_id: &str,
    event_time: OffsetDateTime,
    found: &RuleMatch,
    now: OffsetDateTime,
) -> Detection {
    Detection {
        rule: alert_rule(&found.rule),
        entities: entities_of(event),
        group_by: BTreeMap::new(),
        first_event_time: event_time,
        last_event_time: event_time,
        event_count: 1,
        evidence: vec![event_id.to_owned()],
        matched: found.fields.iter().map(|f| MatchedValue { field: f.field.clone(), value: f.value.clone() }).collect(),
        detected_at: now,
    }
}

/// The alert's view of a rule.
pub fn alert_rule(rule: &RuleInfo) -> AlertRule {
    AlertRule {
        id: rule.id.clone(),
        version: rule.version.clone(),
        title: rule.title.clone(),
        level: rule.level.as_str().to_owned(),
        tags: rule.tags.clone(),
    }
}

/// The entities an event names, from [`ENTITY_SOURCE_FIELDS`].
pub fn entities_of<S: FieldSource + ?Sized>(event: &S) -> Vec<Entity> {
    let mut entities = Vec::new();
    for field in ENTITY_SOURCE_FIELDS {
        let Some(kind) = EntityKind::of_field(field) else { continue };
        let value = match event.field(field) {
            Some(FieldValue::Str(s)) if !s.is_empty() && s != "-" => s.to_owned(),
            Some(FieldValue::Ip(ip)) => ip.to_string(),
            Some(FieldValue::Int(n)) => n.to_string(),
            _ => continue,
        };
        entities.push(Entity { kind, value, field: (*field).to_owned() });
    }
    entities
}

/// A batch's rule matches, waiting to be correlated ([`Detector::match_batch`]).
#[derive(Debug, Default)]
pub struct BatchMatches {
    matched: Vec<MatchedEvent>,
    newest_ms: Option<i64>,
}

#[derive(Debug)]
struct MatchedEvent {
    /// Its position in the batch.
    index: usize,
    event: CapturedEvent,
    matches: Vec<RuleMatch>,
}

/// The fields of a matched event that correlating and alerting read, copied out so the batch
/// can go to the store meanwhile (cloning whole events cost more than the correlating).
#[derive(Debug)]
struct CapturedEvent {
    id: String,
    time: OffsetDateTime,
    /// Shared by the batch; `values[i]` is the event's value at `paths[i]`.
    paths: Arc<[String]>,
    values: Vec<Option<serde_json::Value>>,
}

impl FieldSource for CapturedEvent {
    fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        let index = self.paths.iter().position(|p| p == path)?;
        self.values.get(index)?.as_ref().map(FieldValue::from_json)
    }

    fn for_each_text<'s>(&'s self, _visit: &mut dyn FnMut(&'s str)) {
        // Full-text search is the matcher's, done before the capture.
    }
}
