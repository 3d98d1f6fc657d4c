//! Rampart's shared vocabulary: the [`Event`], its field paths, ids, time, money, roles and the
//! search query language.
//!
//! **Owns:** the types every stage passes to the next. An [`Event`] is one thing that happened
//! in or to the shop (a web request, a login, a payment ...), held as nested JSON whose paths
//! follow Elastic Common Schema; [`fields`] is the catalogue of the paths Rampart knows, with
//! their types, and `docs/fields.md` is its human-readable twin. [`Query`] is the search
//! language of `GET /v1/events`, evaluated against events by every store back end alike. The
//! alert rules (ids, suppression, folding repeats, the evidence cap, allowed transitions) are
//! pure functions here ([`fold`], [`transition`]) that every store back end calls.
//!
//! **Must not touch:** I/O of any kind, other `rampart-*` crates, parsing of wire formats
//! (that is `rampart-ingest`) or storage (that is `rampart-store`). This crate sits at the
//! bottom of the dependency graph.
//!
//! **Flow:** `rampart-ingest` turns raw input into validated [`Event`]s (through
//! [`Event::from_fields`]), `rampart-store` persists them and answers [`Query`]s, detection
//! and the server read fields by dotted path.
//!
//! ```
//! use rampart_model::{fields, Event, Query};
//! use serde_json::json;
//!
//! let event = Event::from_json(json!({
//!     "@timestamp": "2026-11-22T10:00:00Z",
//!     "event": {"id": "e1", "action": "login", "outcome": "failure"},
//!     "source.ip": "203.0.113.7",
//! }))
//! .unwrap();
//! assert_eq!(event.get_str(fields::SOURCE_IP), Some("203.0.113.7"));
//! assert!(Query::parse("source.ip:203.0.113.0/24 -event.outcome:success").unwrap().matches(&event));
//! ```
#![deny(missing_docs)]

mod alert;
mod clock;
mod error;
mod event;
pub mod fields;
mod level;
mod money;
mod query;
mod role;
mod source;
mod time;

pub use alert::fold::{
    AlertChange, BatchChanges, DETECTION_ACTOR, Folded, alert_id, alert_millis, fold, is_resend, new_alert, push_evidence,
    suppression_range, takes_in, to_millis,
};
pub use alert::transition::{AlertAction, RefusedTransition, allowed, transition};
pub use alert::{
    Alert, AlertRule, AlertStatus, AlertTransition, Classification, Detection, ENTITY_SOURCE_FIELDS, Entity, EntityKind, MAX_EVIDENCE,
    MatchedValue, TransitionAction, parse_entity,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{FieldError, QueryError};
pub use event::{Event, new_event_id};
pub use level::Level;
pub use money::{Currency, Money};
pub use query::{Comparison, Query, Term, TermOp};
pub use role::{Permission, Role};
pub use source::{FieldSource, FieldValue};
pub use time::{
    MAX_TIMESTAMP_YEAR, MIN_TIMESTAMP_YEAR, TimeSpec, format_timestamp, parse_duration, parse_rfc3339, parse_time, parse_timestamp,
};
