//! Sigma YAML documents (rules, filters and correlations) read into typed values, with the line of each problem.

use std::ops::Range;

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use crate::correlation::{CorrelationBody, parse_correlation};
use crate::error::{RuleError, RuleErrorKind};
use crate::sigma::budget::{Budget, MAX_EXPANDED_BYTES, MAX_EXPANDED_VALUES};

/// A rule's `logsource`: which events it is written for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSource {
    /// `webserver`, `proxy`, `application` ...
    pub category: Option<String>,
    /// `nginx`, `rampart` ...
    pub product: Option<String>,
    /// `audit`, `shop` ...
    pub service: Option<String>,
    /// Free text for people.
    #[serde(default, skip_serializing)]
    pub definition: Option<String>,
}

/// A document as written, before compilation. Attributes outside the Sigma format are refused;
/// those Rampart does not use are still read, to check their shape.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    title: Option<String>,
    id: Option<String>,
    name: Option<String>,
    related: Option<Value>,
    status: Option<String>,
    description: Option<String>,
    license: Option<String>,
    author: Option<String>,
    references: Option<Vec<String>>,
    date: Option<Value>,
    modified: Option<Value>,
    tags: Option<Vec<String>>,
    logsource: Option<LogSource>,
    detection: Option<Mapping>,
    fields: Option<Vec<String>>,
    falsepositives: Option<Value>,
    level: Option<String>,
    scope: Option<Vec<String>>,
    taxonomy: Option<String>,
    filter: Option<Mapping>,
    correlation: Option<Value>,
    generate: Option<bool>,
}

pub use rampart_model::Level;

/// The searches of a detection (or filter) in file order, and its conditions (OR-ed).
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub(crate) searches: Vec<(String, Value)>,
    pub(crate) conditions: Vec<String>,
}

/// A Sigma detection rule as read.
#[derive(Debug, Clone)]
pub(crate) struct RuleDocument {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) level: Level,
    pub(crate) tags: Vec<String>,
    pub(crate) logsource: LogSource,
    pub(crate) detection: Detection,
}

/// A Sigma filter: extra conditions for the rules it names.
#[derive(Debug, Clone)]
pub(crate) struct FilterDocument {
    pub(crate) id: Option<String>,
    pub(crate) title: String,
    /// Ids or names of the rules it applies to; empty means every rule whose logsource matches.
    pub(crate) rules: Vec<String>,
    pub(crate) logsource: LogSource,
    pub(crate) detection: Detection,
}

/// A Sigma correlation rule as read.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationDocument {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) level: Level,
    pub(crate) tags: Vec<String>,
    pub(crate) body: CorrelationBody,
}

/// One document of a rule file.
#[derive(Debug, Clone)]
pub(crate) enum Document {
    Rule(RuleDocument),
    Filter(FilterDocument),
    Correlation(CorrelationDocument),
}

/// A document with where it came from, so later errors can name file and line.
#[derive(Debug, Clone)]
pub(crate) struct SourcedDocument {
    pub(crate) file: String,
    /// The whole file.
    pub(crate) text: std::sync::Arc<str>,
    /// The document's lines in the file (0-based, end excluded), where its errors are looked for.
    pub(crate) lines: Range<usize>,
    pub(crate) document: Document,
}

impl SourcedDocument {
    /// The error for this document at the line where `needle` first appears as a key.
    pub(crate) fn error(&self, needle: &str, kind: RuleErrorKind) -> RuleError {
        RuleError::new(&self.file, self.line(needle), Some(self.label()), kind)
    }

    /// The 1-based line of the file where `needle` first starts a key of this document.
    pub(crate) fn line(&self, needle: &str) -> Option<usize> {
        line_in(&self.text, self.lines.clone(), needle)
    }

    /// The document's id, or its title.
    pub(crate) fn label(&self) -> String {
        let (id, title) = match &self.document {
            Document::Rule(rule) => (&rule.id, &rule.title),
            Document::Filter(filter) => (&filter.id, &filter.title),
            Document::Correlation(correlation) => (&correlation.id, &correlation.title),
        };
        id.clone().unwrap_or_else(|| title.clone())
    }
}

/// Reads every document of a rule file. Documents that fail come back as errors; the others load.
pub(crate) fn parse_documents(file: &str, text: &str) -> (Vec<SourcedDocument>, Vec<RuleError>) {
    let shared: std::sync::Arc<str> = std::sync::Arc::from(text);
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    // First the YAML itself, up to its first error. serde_norway's document iterator must not be
    // driven past one: after a syntax error it repeats it forever, and after an unknown alias it
    // resumes mid-document and panics.
    // The walk also bounds what aliases expand to, before anything is built from them.
    let mut valid = 0;
    let mut yaml_error = None;
    let mut budget = Budget::new();
    for deserializer in serde_norway::Deserializer::from_str(text) {
        if let Err(error) = budget.walk(deserializer) {
            let line = error.location().map(|l| l.line());
            let kind = if budget.exceeded {
                RuleErrorKind::Expands { values: MAX_EXPANDED_VALUES, bytes: MAX_EXPANDED_BYTES }
            } else {
                RuleErrorKind::Yaml(error.to_string())
            };
            if budget.exceeded {
                // Nothing of a file that tries this loads.
                return (Vec::new(), vec![RuleError::new(file, line, None, kind)]);
            }
            yaml_error = Some(RuleError::new(file, line, None, kind));
            break;
        }
        valid += 1;
    }
    // Where each document starts, for errors found after parsing; the whole file when the
    // markers cannot be told apart from the documents.
    let ranges = document_lines(text);
    let whole = 0..text.lines().count();
    let aligned = ranges.len() == valid || (yaml_error.is_some() && ranges.len() >= valid);
    // Then those well-formed documents as Sigma documents: one of the wrong shape does not stop the next.
    for (index, deserializer) in serde_norway::Deserializer::from_str(text).take(valid).enumerate() {
        let lines = if aligned { ranges[index].clone() } else { whole.clone() };
        let raw = match RawDocument::deserialize(deserializer) {
            Ok(raw) => raw,
            Err(error) => {
                let line = error.location().map(|l| l.line());
                errors.push(RuleError::new(file, line, None, RuleErrorKind::Invalid(error.to_string())));
                continue;
            }
        };
        match build(raw) {
            Ok(Some(document)) => documents.push(SourcedDocument { file: file.to_owned(), text: shared.clone(), lines, document }),
            Ok(None) => {}
            Err((needle, rule, kind)) => errors.push(RuleError::new(file, line_in(text, lines, &needle), rule, kind)),
        }
    }
    errors.extend(yaml_error);
    (documents, errors)
}

type BuildError = (String, Option<String>, RuleErrorKind);

fn build(raw: RawDocument) -> Result<Option<Document>, BuildError> {
    let label = raw.id.clone().or_else(|| raw.title.clone());
    let invalid = |needle: &str, message: &str| (needle.to_owned(), label.clone(), RuleErrorKind::Invalid(message.to_owned()));
    if raw.correlation.is_none() && raw.generate == Some(false) && raw.detection.is_none() && raw.filter.is_none() {
        return Ok(None);
    }
    let Some(title) = raw.title.clone().filter(|t| !t.trim().is_empty()) else {
        let needle = if raw.correlation.is_some() { "correlation" } else { "detection" };
        return Err(invalid(needle, "the `title` attribute is missing"));
    };
    if let Some(id) = &raw.id
        && (id.is_empty() || id.len() > 128 || id.chars().any(char::is_whitespace))
    {
        return Err(invalid("id", "`id` must be a non-empty identifier (a UUID) without spaces"));
    }
    let level = || match raw.level.as_deref() {
        None => Ok(Level::Medium),
        Some(text) => Level::parse(text).ok_or_else(|| invalid("level", "`level` must be informational, low, medium, high or critical")),
    };
    if raw.correlation.is_some() {
        let level = level()?;
        return build_correlation(raw, title, level)
            .map(|doc| Some(Document::Correlation(doc)))
            .map_err(|(needle, kind)| (needle, label, kind));
    }
    let logsource = raw.logsource.ok_or_else(|| invalid("title", "the `logsource` attribute is missing"))?;
    match (raw.detection, raw.filter) {
        (Some(_), Some(_)) => Err(invalid("filter", "a document has either `detection` (a rule) or `filter` (a filter), not both")),
        (None, None) => Err(invalid("title", "the `detection` attribute is missing")),
        (Some(detection), None) => {
            let level = level()?;
            let detection = split_detection(detection).map_err(|message| invalid("detection", &message))?;
            Ok(Some(Document::Rule(RuleDocument {
                id: raw.id,
                name: raw.name,
                title,
                description: raw.description,
                status: raw.status,
                level,
                tags: raw.tags.unwrap_or_default(),
                logsource,
                detection,
            })))
        }
        (None, Some(mut filter)) => {
            let rules = match filter.remove("rules") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(one)) => vec![one],
                Some(Value::Sequence(items)) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s),
                        _ => Err(invalid("rules", "`filter.rules` must list rule ids or names")),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid("rules", "`filter.rules` must list rule ids or names")),
            };
            let detection = split_detection(filter).map_err(|message| invalid("filter", &message))?;
            Ok(Some(Document::Filter(FilterDocument { id: raw.id, title, rules, logsource, detection })))
        }
    }
}

/// A correlation document: a `correlation` section and meta data, no `logsource`, `detection` or `filter`.
fn build_correlation(raw: RawDocument, title: String, level: Level) -> Result<CorrelationDocument, (String, RuleErrorKind)> {
    for (present, attribute) in
        [(raw.logsource.is_some(), "logsource"), (raw.detection.is_some(), "detection"), (raw.filter.is_some(), "filter")]
    {
        if present {
            return Err((
                attribute.to_owned(),
                RuleErrorKind::Invalid(format!(
                    "a correlation rule has no `{attribute}`: it works on the matches of the rules it names; put the rule in its own document"
                )),
            ));
        }
    }
    if let Some(name) = &raw.name
        && (name.is_empty() || name.len() > 128 || name.chars().any(char::is_whitespace))
    {
        return Err(("name".to_owned(), RuleErrorKind::Invalid("`name` must be a non-empty identifier without spaces".to_owned())));
    }
    let Some(correlation) = raw.correlation else {
        return Err(("title".to_owned(), RuleErrorKind::Invalid("the `correlation` attribute is missing".to_owned())));
    };
    let body = parse_correlation(correlation, raw.generate)?;
    Ok(CorrelationDocument {
        id: raw.id,
        name: raw.name,
        title,
        description: raw.description,
        status: raw.status,
        level,
        tags: raw.tags.unwrap_or_default(),
        body,
    })
}

/// The lines (0-based, end excluded) of each document of a file, split at `---` lines. A `---`
/// before any content starts the first document rather than ending an empty one.
fn document_lines(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut content = false;
    let mut total = 0;
    for (index, line) in text.lines().enumerate() {
        total = index + 1;
        if line == "---" || line.starts_with("--- ") || line.starts_with("---\t") {
            if content {
                ranges.push(start..index);
            }
            start = index + 1;
            content = false;
        } else {
            let trimmed = line.trim_start();
            content |= !trimmed.is_empty() && !trimmed.starts_with('#') && line != "...";
        }
    }
    if content {
        ranges.push(start..total);
    }
    ranges
}

/// Splits a detection map into its searches and its condition(s).
fn split_detection(detection: Mapping) -> Result<Detection, String> {
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    for (key, value) in detection {
        let Value::String(key) = key else {
            return Err("search identifiers must be strings".to_owned());
        };
        if key == "condition" {
            match value {
                Value::String(text) => conditions.push(text),
                Value::Sequence(items) => {
                    for item in items {
                        let Value::String(text) = item else { return Err("`condition` must be a string or a list of strings".to_owned()) };
                        conditions.push(text);
                    }
                }
                _ => return Err("`condition` must be a string or a list of strings".to_owned()),
            }
        } else if key == "timeframe" {
            return Err("`timeframe` belongs to Sigma 1 aggregations; write a Sigma correlation rule instead".to_owned());
        } else {
            searches.push((key, value));
        }
    }
    if conditions.is_empty() {
        return Err("the detection has no `condition`".to_owned());
    }
    if searches.is_empty() {
        return Err("the detection has no search identifiers".to_owned());
    }
    Ok(Detection { searches, conditions })
}

/// The 1-based line where `needle` first starts a key (after indentation, a list dash or a quote).
#[cfg(test)]
pub(crate) fn line_of(text: &str, needle: &str) -> Option<usize> {
    line_in(text, 0..usize::MAX, needle)
}

/// [`line_of`] within some lines of the text (0-based, end excluded). A needle may hold
/// alternatives, one a line, tried in turn (a value written inline falls back to its key).
pub(crate) fn line_in(text: &str, lines: Range<usize>, needle: &str) -> Option<usize> {
    needle.split('\n').filter(|alternative| !alternative.is_empty()).find_map(|alternative| {
        text.lines()
            .enumerate()
            .skip(lines.start)
            .take(lines.end.saturating_sub(lines.start))
            .find(|(_, line)| {
                let line = line.trim_start().trim_start_matches("- ").trim_start_matches(['\'', '"']);
                line.starts_with(alternative)
            })
            .map(|(index, _)| index + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "title: Test\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n    category: webserver\ndetection:\n    selection:\n        cs-method: GET\n    condition: selection\nlevel: high\ntags:\n    - attack.t1190\n";

    #[test]
    fn reads_a_rule() {
        let (docs, errors) = parse_documents("a.yml", RULE);
        assert!(errors.is_empty(), "{errors:?}");
        let Document::Rule(rule) = &docs[0].document else { panic!("not a rule") };
        assert_eq!(rule.title, "Test");
        assert_eq!(rule.level, Level::High);
        assert_eq!(rule.logsource.category.as_deref(), Some("webserver"));
        assert_eq!(rule.detection.searches.len(), 1);
        assert_eq!(rule.detection.conditions, vec!["selection".to_owned()]);
        assert_eq!(rule.tags, vec!["attack.t1190".to_owned()]);
    }

    #[test]
    fn unknown_attribute_is_refused_with_its_line() {
        let text = format!("{RULE}colour: red\n");
        let (docs, errors) = parse_documents("a.yml", &text);
        assert!(docs.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(12));
        assert!(errors[0].to_string().contains("unknown field `colour`"), "{}", errors[0]);
    }

    #[test]
    fn not_yaml_is_refused() {
        let (docs, errors) = parse_documents("bad.yml", "title: [unclosed\n  detection: {");
        assert!(docs.is_empty());
        assert!(matches!(errors[0].kind, RuleErrorKind::Yaml(_)), "{errors:?}");
        let (_, errors) = parse_documents("bad.yml", "just a string");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn missing_parts_are_named() {
        let cases = [
            ("logsource: {category: x}\ndetection: {s: {a: 1}, condition: s}\n", "`title`"),
            ("title: t\ndetection: {s: {a: 1}, condition: s}\n", "`logsource`"),
            ("title: t\nlogsource: {category: x}\n", "`detection`"),
            ("title: t\nlogsource: {category: x}\ndetection: {s: {a: 1}}\n", "no `condition`"),
            ("title: t\nlogsource: {category: x}\ndetection: {condition: s}\n", "no search identifiers"),
            ("title: t\nlevel: severe\nlogsource: {category: x}\ndetection: {s: {a: 1}, condition: s}\n", "`level`"),
            ("title: t\nlogsource: {category: x}\ndetection: {s: {a: 1}, condition: s, timeframe: 5m}\n", "correlation"),
        ];
        for (text, expected) in cases {
            let (docs, errors) = parse_documents("a.yml", text);
            assert!(docs.is_empty(), "{text}");
            assert!(errors[0].to_string().contains(expected), "{text}: {}", errors[0]);
        }
    }

    #[test]
    fn reads_a_filter_and_several_documents() {
        let text = "title: f\nlogsource: {category: webserver}\nfilter:\n  rules: [abc]\n  selection: {c-ip: 10.0.0.1}\n  condition: not selection\n---\n";
        let text = format!("{text}{RULE}");
        let (docs, errors) = parse_documents("f.yml", &text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs.len(), 2);
        let Document::Filter(filter) = &docs[0].document else { panic!("not a filter") };
        assert_eq!(filter.rules, vec!["abc".to_owned()]);
        assert_eq!(filter.detection.conditions, vec!["not selection".to_owned()]);
    }

    #[test]
    fn line_of_finds_keys() {
        assert_eq!(line_of(RULE, "cs-method"), Some(7));
        assert_eq!(line_of(RULE, "nothing"), None);
    }
}
