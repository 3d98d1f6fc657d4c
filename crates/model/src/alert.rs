//! The Alert: what detection concluded about an event, with the rule and the evidence.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A rule's match on one event. Until the alert lifecycle arrives, this is the whole alert: the
/// rule, the event and the fields that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable for a rule and an event, so detecting the same event twice makes one alert.
    pub id: String,
    /// When Rampart raised it.
    #[serde(with = "millis")]
    pub created_at: OffsetDateTime,
    /// The rule that matched.
    pub rule: AlertRule,
    /// The event's `event.id`.
    pub event_id: String,
    /// The event's `@timestamp`.
    #[serde(with = "millis")]
    pub event_time: OffsetDateTime,
    /// The event's `source.ip`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_ip: Option<String>,
    /// The event's `user.name`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_name: Option<String>,
    /// The fields (and values) that made the rule match.
    pub matched: Vec<MatchedValue>,
}

/// The rule of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    /// The rule's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// Its tags.
    pub tags: Vec<String>,
}

/// One field of an event and the value that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedValue {
    /// The event field, or `keywords` for full-text matches.
    pub field: String,
    /// The value (or the keyword found).
    pub value: String,
}

/// Times as the rest of the API writes them: RFC 3339 in UTC with milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(super) fn serialize<S: Serializer>(time: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::time::format_timestamp(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::time::parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time"))
    }
}
