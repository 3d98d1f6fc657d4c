//! The built-in rule pack (`rules/` at the repository root) against its tests (`rules/tests/`).
//!
//! Every rule file `rules/<path>` has a test file `rules/tests/<path>`:
//!
//! ```yaml
//! tests:
//!   - rule: 282bdf1e-aed3-4a99-82a4-49d2567701cb   # the id of a rule of the file that raises alerts
//!     defaults: {event.action: login, event.category: authentication}   # optional: merged into every event
//!     true_positive:                      # run together through a fresh detector: the rule must fire
//!       - {"@timestamp": "2026-11-22T10:00:00Z", user.name: alice@example.com, ...}
//!       - repeat: 12                      # twelve copies, `every` apart from the event's @timestamp;
//!         every: 20s                      # `{i}` in a string becomes 0, 1, 2 ...
//!         event: {"@timestamp": "2026-11-22T10:00:00Z", user.name: "user{i}@example.com"}
//!     true_negative:                      # run together through a fresh detector: the rule must not fire
//!       - ...
//! ```
//!
//! Events are written as they are ingested (ECS fields, nested or dotted). A `web_request` event
//! without `url.path` gets the path and query of its `url.original`, as the access-log parser
//! splits them. For a single-event rule every true-positive event must be evidence of one of its
//! detections; a correlation must fire at least once. Rules that only feed correlations (named by
//! them, without `generate`) raise nothing and need no case of their own.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use rampart_detect::{Detector, RuleSources, builtin_rules, is_rule_file};
use rampart_model::{Detection, Event, format_timestamp, parse_duration, parse_timestamp};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::datetime;

/// When the tests' detections are made; the events carry their own times.
const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

fn pack_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// Rule files under `rules/` (its `tests/` folder excepted), relative, `/`-separated, sorted.
fn rule_files() -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("rules/ is readable") {
            let entry = entry.expect("rules/ is readable");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || (prefix.is_empty() && name == "tests") {
                continue;
            }
            let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            if entry.file_type().expect("rules/ is readable").is_dir() {
                walk(&entry.path(), &relative, out);
            } else if is_rule_file(&entry.path()) {
                out.push(relative);
            }
        }
    }
    let mut files = Vec::new();
    walk(&pack_root(), "", &mut files);
    files.sort();
    files
}

fn pack() -> Detector {
    Detector::load(RuleSources { builtin: true, ..RuleSources::default() }).expect("the built-in mapping loads")
}

/// The rules of each file that raise alerts: file (relative) → (id → whether it is a correlation).
fn alerting_rules(detector: &Detector) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut by_file: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for rule in &detector.rules().rules {
        let file = rule.file.strip_prefix("builtin:").unwrap_or(&rule.file).to_owned();
        let entry = by_file.entry(file).or_default();
        if rule.generates {
            entry.insert(rule.id.clone(), rule.correlation.is_some());
        }
    }
    by_file
}

/// One test entry of a test file.
#[derive(Debug)]
struct Case {
    rule: String,
    true_positive: Vec<Event>,
    true_negative: Vec<Event>,
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cases of a test file; panics with the file's name on a malformed one.
fn read_cases(path: &Path) -> Vec<Case> {
    let where_ = path.display().to_string();
    let doc = yaml(path);
    let tests = doc.get("tests").and_then(Value::as_array).unwrap_or_else(|| panic!("{where_}: no `tests:` list"));
    tests
        .iter()
        .enumerate()
        .map(|(n, test)| {
            let rule = test.get("rule").and_then(Value::as_str).unwrap_or_else(|| panic!("{where_}: test {n} names no `rule`"));
            let defaults = test.get("defaults").cloned().unwrap_or(Value::Object(Map::new()));
            let events = |key: &str| {
                let entries = test.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
                let prefix = if key == "true_positive" { "tp" } else { "tn" };
                expand(&entries, &defaults, &format!("{where_}: {rule} {key}"), prefix)
            };
            Case { rule: rule.to_owned(), true_positive: events("true_positive"), true_negative: events("true_negative") }
        })
        .collect()
}

/// The events of a case: entries expanded (`repeat`), defaults merged, ids given, URLs split.
fn expand(entries: &[Value], defaults: &Value, context: &str, prefix: &str) -> Vec<Event> {
    let mut events = Vec::new();
    for entry in entries {
        let (template, copies, every) = match entry.get("repeat") {
            Some(repeat) => {
                let copies = repeat.as_u64().unwrap_or_else(|| panic!("{context}: `repeat` must be a count"));
                let every = entry
                    .get("every")
                    .and_then(Value::as_str)
                    .map_or(std::time::Duration::ZERO, |text| parse_duration(text).unwrap_or_else(|e| panic!("{context}: every: {e}")));
                let template = entry.get("event").cloned().unwrap_or_else(|| panic!("{context}: `repeat` without `event`"));
                (template, copies, every)
            }
            None => (entry.clone(), 1, std::time::Duration::ZERO),
        };
        for i in 0..copies {
            let mut fields = defaults.as_object().cloned().unwrap_or_default();
            fields.extend(template.as_object().cloned().unwrap_or_else(|| panic!("{context}: an event must be a map")));
            let mut event = substitute(Value::Object(fields), i);
            let Some(map) = event.as_object_mut() else { unreachable!("built from a map") };
            if let Some(start) = map.get("@timestamp") {
                let start = parse_timestamp(start).unwrap_or_else(|| panic!("{context}: bad @timestamp {start}"));
                let offset = time::Duration::try_from(every * u32::try_from(i).expect("a small count")).expect("a short run");
                map.insert("@timestamp".into(), Value::String(format_timestamp(start + offset)));
            }
            if !map.contains_key("event.id") && map.get("event").and_then(|e| e.get("id")).is_none() {
                map.insert("event.id".into(), Value::String(format!("{prefix}-{}", events.len())));
            }
            split_url(map);
            events.push(Event::from_json(event).unwrap_or_else(|e| panic!("{context}: not a valid event: {e}")));
        }
    }
    events
}

/// `{i}` in every string becomes `i`.
fn substitute(value: Value, i: u64) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace("{i}", &i.to_string())),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| substitute(v, i)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, substitute(v, i))).collect()),
        other => other,
    }
}

/// Gives a dotted `web_request` event the `url.path` and `url.query` of its `url.original`.
fn split_url(map: &mut Map<String, Value>) {
    let is_request = map.get("event.action").and_then(Value::as_str) == Some("web_request");
    let Some(original) = map.get("url.original").and_then(Value::as_str).map(str::to_owned) else { return };
    if !is_request || map.contains_key("url.path") {
        return;
    }
    let (path, query) = original.split_once('?').unwrap_or((&original, ""));
    map.insert("url.path".into(), Value::String(path.to_owned()));
    if !query.is_empty() {
        map.insert("url.query".into(), Value::String(query.to_owned()));
    }
}

fn fired<'a>(detections: &'a [Detection], rule: &str) -> Vec<&'a Detection> {
    detections.iter().filter(|d| d.rule.id == rule).collect()
}

#[test]
fn every_rule_file_is_built_in() {
    let embedded: Vec<String> = builtin_rules().into_iter().map(|f| f.name.strip_prefix("builtin:").unwrap().to_owned()).collect();
    assert_eq!(embedded, rule_files(), "builtin_rules() must embed exactly the files under rules/");
}

#[test]
fn the_pack_loads_without_errors_or_warnings() {
    let detector = pack();
    let rules = detector.rules();
    let problems: Vec<String> = rules.errors.iter().chain(&rules.warnings).map(ToString::to_string).collect();
    assert!(problems.is_empty(), "the rule pack has problems:\n{}", problems.join("\n"));
    assert!(rules.rules.iter().all(|r| r.routed), "every rule of the pack sees events");
    // The six web rules of the first release keep their ids.
    for id in [
        "7d11335f-605a-4248-8e38-2868acdc7f8f",
        "5fb51e6e-59f8-4f81-aa9d-3b426ac7b38b",
        "12a9a1a0-f232-4459-80cf-ca9b1cb78928",
        "58e31243-7e59-4e8d-ba63-8a9753f4ea8b",
        "ad25e2ff-fbcf-45b2-90ec-50e0bcf886d4",
        "4cddd4a6-3d58-46a9-861d-b0e702db7da0",
    ] {
        assert!(rules.rules.iter().any(|r| r.id == id), "{id} is missing");
    }
}

#[test]
fn every_rule_has_its_metadata() {
    let detector = pack();
    let alerting: HashSet<String> = alerting_rules(&detector).into_values().flat_map(BTreeMap::into_keys).collect();
    let mut problems = Vec::new();
    for file in rule_files() {
        let text = std::fs::read_to_string(pack_root().join(&file)).unwrap();
        for (n, doc) in text.split("\n---\n").enumerate() {
            let doc: Value = serde_norway::from_str(doc).unwrap_or_else(|e| panic!("{file} document {n}: {e}"));
            let text_of = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            let id = text_of("id");
            let mut problem = |what: &str| problems.push(format!("{file} document {n} ({id}): {what}"));
            let is_uuid = id.len() == 36
                && id.chars().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
            if !is_uuid {
                problem("the id must be a UUID");
            }
            for key in ["title", "description"] {
                if text_of(key).trim().is_empty() {
                    problem(&format!("no {key}"));
                }
            }
            if text_of("author") != "Rampart" {
                problem("the author must be Rampart");
            }
            if text_of("date") != "2026-11-22" {
                problem("the date must be 2026-11-22");
            }
            if alerting.contains(&id) {
                for key in ["level", "status"] {
                    if text_of(key).is_empty() {
                        problem(&format!("an alerting rule needs a {key}"));
                    }
                }
                let tags = doc.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
                if !tags.iter().filter_map(Value::as_str).any(|t| t.starts_with("attack.t")) {
                    problem("an alerting rule needs an ATT&CK technique tag");
                }
                if doc.get("falsepositives").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                    problem("an alerting rule needs falsepositives");
                }
            } else if doc.get("name").is_none() {
                problem("a rule that raises nothing must have a name (correlations name it)");
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_alerting_rule_has_a_true_positive_and_a_true_negative() {
    let detector = pack();
    let mut problems = Vec::new();
    let alerting = alerting_rules(&detector);
    for file in rule_files() {
        let test_file = pack_root().join("tests").join(&file);
        if !test_file.is_file() {
            problems.push(format!("rules/{file} has no test file rules/tests/{file}"));
            continue;
        }
        let cases = read_cases(&test_file);
        let rules = alerting.get(&file).cloned().unwrap_or_default();
        for rule in rules.keys() {
            let mine: Vec<&Case> = cases.iter().filter(|c| &c.rule == rule).collect();
            if !mine.iter().any(|c| !c.true_positive.is_empty()) {
                problems.push(format!("rules/tests/{file}: rule {rule} has no true_positive case"));
            }
            if !mine.iter().any(|c| !c.true_negative.is_empty()) {
                problems.push(format!("rules/tests/{file}: rule {rule} has no true_negative case"));
            }
        }
        for case in &cases {
            if !rules.contains_key(&case.rule) {
                problems.push(format!("rules/tests/{file}: {} is not an alerting rule of rules/{file}", case.rule));
            }
        }
    }
    // Test files without a rule file are left-overs of a rule moved or deleted.
    let known: BTreeSet<String> = rule_files().into_iter().collect();
    let mut tests = Vec::new();
    collect_tests(&pack_root().join("tests"), "", &mut tests);
    for test in tests {
        if !known.contains(&test) {
            problems.push(format!("rules/tests/{test} tests no rule file"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn collect_tests(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        if entry.path().is_dir() {
            collect_tests(&entry.path(), &relative, out);
        } else if is_rule_file(&entry.path()) {
            out.push(relative);
        }
    }
}

#[test]
fn true_positives_fire_and_true_negatives_do_not() {
    let alerting = alerting_rules(&pack());
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in rule_files() {
        let test_file = pack_root().join("tests").join(&file);
        if !test_file.is_file() {
            continue;
        }
        for case in read_cases(&test_file) {
            let Some(is_correlation) = alerting.get(&file).and_then(|rules| rules.get(&case.rule)).copied() else { continue };
            checked += 1;
            if !case.true_positive.is_empty() {
                let detections = pack().detect(&case.true_positive, NOW);
                let hits = fired(&detections, &case.rule);
                if hits.is_empty() {
                    failures.push(format!("{file}: {} did not fire on its true_positive events", case.rule));
                } else if !is_correlation {
                    let evidence: HashSet<&str> = hits.iter().flat_map(|d| d.evidence.iter().map(String::as_str)).collect();
                    for event in &case.true_positive {
                        if !evidence.contains(event.id()) {
                            failures.push(format!("{file}: {} missed true_positive {}", case.rule, event.to_json_string()));
                        }
                    }
                }
            }
            if !case.true_negative.is_empty() {
                let detections = pack().detect(&case.true_negative, NOW);
                for hit in fired(&detections, &case.rule) {
                    failures.push(format!("{file}: {} fired on true_negative events {:?} ({:?})", case.rule, hit.evidence, hit.matched));
                }
            }
        }
    }
    assert!(checked > 0, "no case was run");
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}
