//! Rampart's detection stage: Sigma rules compiled into one matcher that every event passes through.
//!
//! **Owns:** the Sigma rule language (detection rules and filters, every value modifier of the
//! specification, the full condition grammar, correlation rules), the field mapping from Sigma
//! names to Rampart's event fields and from `logsource` to the events a rule sees, rule sets
//! loaded from directories, and the correlations, which run on `rampart-window`'s windowed state.
//!
//! **Must not touch:** storage, HTTP, parsing of wire formats or other stages. It reads events
//! through [`rampart_model::FieldSource`], so a stored [`Event`](rampart_model::Event) and a
//! log line parsed by `rampart-ingest` are matched alike, without copying.
//!
//! **Flow:** rule files → [`compile_rules`] (parse, check, compile against a [`FieldMapping`])
//! → an [`Engine`] → [`Engine::evaluate`] per event with a per-thread [`Scratch`] → [`RuleMatch`]es
//! → a [`Correlator`] (the correlations of the set, in event time) → [`CorrelationHit`]s.
//! [`Detector`] runs both and turns what generates alerts into detections, which the server
//! stores as alerts.
//!
//! ```
//! use std::collections::HashSet;
//! use rampart_detect::{FieldMapping, RuleFile, Scratch, compile_rules};
//! use rampart_model::Event;
//! use serde_json::json;
//!
//! let rule = RuleFile {
//!     name: "sqli.yml".into(),
//!     text: "title: SQL injection\nid: r1\nlogsource: {category: webserver}\ndetection:\n  \
//!            sel: {cs-uri-query|contains: 'union select'}\n  condition: sel\nlevel: high\n".into(),
//! };
//! let compiled = compile_rules(&[rule], &FieldMapping::builtin(), &HashSet::new());
//! assert!(compiled.errors.is_empty());
//! let event = Event::from_json(json!({
//!     "event": {"action": "web_request"},
//!     "url": {"original": "/item?id=1 UNION SELECT password FROM users"},
//! }))
//! .unwrap();
//! let mut matches = Vec::new();
//! compiled.engine.evaluate(&event, &mut Scratch::default(), &mut matches);
//! assert_eq!(matches[0].rule.id, "r1");
//! assert_eq!(matches[0].fields[0].field, "url.original");
//! ```
#![deny(missing_docs)]

mod correlation;
mod detector;
mod error;
mod mapping;
mod ruleset;
mod sigma;

pub use correlation::{
    Condition, CorrelationCounts, CorrelationHit, CorrelationLimits, CorrelationSet, CorrelationSpec, CorrelationStat, CorrelationStats,
    CorrelationType, Correlator,
};
pub use detector::{
    BatchMatches, Detector, ReloadReport, RuleSources, SourceContents, alert_rule, detection_for, detection_of_hit, entities_of,
    read_disabled, write_disabled,
};
pub use error::{MappingError, RuleError, RuleErrorKind, StateError};
pub use mapping::{DEFAULT_MAPPING, FieldMapping, LogSourceRoute, OneOrMany, RouteKeys};
/// The windowed state correlations run on (the `rampart-window` crate, re-exported under its old path).
pub use rampart_window as window;
pub use rampart_window::{
    Aggregate, ClosedWindow, Key, Observation, Reading, Refusal, SnapshotError, WindowLimits, WindowStats, WindowedState,
};
pub use ruleset::{MAX_RULE_BYTES_TOTAL, MAX_RULE_FILE_BYTES, builtin_rules, is_rule_file, read_rule_dir, read_rule_path};
pub use sigma::{
    CompiledRules, Engine, Level, LogSource, MAX_EXPANDED_BYTES, MAX_EXPANDED_VALUES, MatchedField, RuleFile, RuleInfo, RuleMatch, Scratch,
    compile_rules,
};
