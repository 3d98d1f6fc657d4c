//! The Alert: what detection concluded, about which entities, from which events; and its
//! lifecycle, kept as append-only transitions.
//!
//! Detection produces [`Detection`]s (one rule's match on one event, or one correlation's
//! threshold crossed by a group of events). [`crate::fold`] decides how each becomes an [`Alert`]: a new one,
//! or an update of the open alert of the same rule on the same entities within the suppression
//! window. Every change of an alert, created, updated, acknowledged, closed, reopened, is an
//! [`AlertTransition`], and [`crate::transition`] decides which analyst changes each status allows;
//! a store persists what these pure functions decide. Metrics (MTTD, MTTA, false-positive
//! rate) are computed from the transitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub(crate) mod fold;
pub(crate) mod transition;

/// The most evidence event ids an alert keeps (the first ones; `event_count` keeps counting).
pub const MAX_EVIDENCE: usize = 100;

/// A rule's conclusion about a set of entities, with its lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique; stable for a rule, its entities and its first event.
    pub id: String,
    /// The rule that raised it.
    pub rule: AlertRule,
    /// Who or what it is about, typed.
    pub entities: Vec<Entity>,
    /// The values of the rule's `group-by` fields (correlations); empty for single-event rules.
    #[serde(default)]
    pub group_by: BTreeMap<String, String>,
    /// Time of the earliest event behind it.
    #[serde(with = "millis")]
    pub first_event_time: OffsetDateTime,
    /// Time of the latest event behind it.
    #[serde(with = "millis")]
    pub last_event_time: OffsetDateTime,
    /// When Rampart first raised it.
    #[serde(with = "millis")]
    pub detected_at: OffsetDateTime,
    /// When it last changed (an update, an analyst's action).
    #[serde(with = "millis")]
    pub updated_at: OffsetDateTime,
    /// Events behind it, repeats folded in included.
    pub event_count: u64,
    /// `event.id`s of the events behind it, the first [`MAX_EVIDENCE`].
    pub evidence: Vec<String>,
    /// Fields and values that made the rule match (single-event rules), or the correlation's
    /// measured value.
    #[serde(default)]
    pub matched: Vec<MatchedValue>,
    /// Where it is in its lifecycle.
    pub status: AlertStatus,
    /// How it was judged when closed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub classification: Option<Classification>,
}

/// The rule of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    /// The rule's id.
    pub id: String,
    /// A hash of the rule's text: changes whenever the rule does.
    #[serde(default)]
    pub version: String,
    /// Its title.
    pub title: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// Its tags (ATT&CK techniques among them).
    pub tags: Vec<String>,
}

/// One entity an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// What kind of thing it is.
    pub kind: EntityKind,
    /// Its value as the event carries it.
    pub value: String,
    /// The event field it came from.
    pub field: String,
}

/// The kinds of entity an alert can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An IP address (`source.ip`, `client.ip`).
    Ip,
    /// A customer or admin account (`user.name`, `user.id`).
    Account,
    /// An e-mail address (`user.email`).
    Email,
    /// A device (`device.id`).
    Device,
    /// A card, by its keyed fingerprint (`payment.card.fingerprint`).
    Card,
    /// A web session (`session.id`).
    Session,
    /// An autonomous system (`source.as.number`).
    Asn,
    /// An API key (`api_key.id`).
    ApiKey,
}

impl EntityKind {
    /// Every kind, in the order alerts list them.
    pub const ALL: [EntityKind; 8] = [
        EntityKind::Ip,
        EntityKind::Account,
        EntityKind::Email,
        EntityKind::Device,
        EntityKind::Card,
        EntityKind::Session,
        EntityKind::Asn,
        EntityKind::ApiKey,
    ];

    /// The kind's name as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::Account => "account",
            EntityKind::Email => "email",
            EntityKind::Device => "device",
            EntityKind::Card => "card",
            EntityKind::Session => "session",
            EntityKind::Asn => "asn",
            EntityKind::ApiKey => "api_key",
        }
    }

    /// The kind named `name` (as [`EntityKind::as_str`] writes it).
    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The kind of entity an event field holds, if it holds one.
    pub fn of_field(field: &str) -> Option<EntityKind> {
        use crate::fields;
        Some(match field {
            fields::SOURCE_IP | fields::CLIENT_IP => EntityKind::Ip,
            fields::USER_NAME | fields::USER_ID => EntityKind::Account,
            fields::USER_EMAIL => EntityKind::Email,
            fields::DEVICE_ID => EntityKind::Device,
            fields::PAYMENT_CARD_FINGERPRINT => EntityKind::Card,
            fields::SESSION_ID => EntityKind::Session,
            fields::SOURCE_AS_NUMBER => EntityKind::Asn,
            fields::API_KEY_ID => EntityKind::ApiKey,
            _ => return None,
        })
    }

    /// Whether values of this kind are personal data, masked in logs.
    pub fn is_personal(self) -> bool {
        matches!(self, EntityKind::Account | EntityKind::Email)
    }
}

/// An entity as a user writes it to filter alerts: `kind:value` when the part before the first
/// colon names a kind, else the whole text as a value of any kind (IPv6 addresses have colons
/// too); `None` when there is no value.
pub fn parse_entity(text: &str) -> Option<(Option<EntityKind>, String)> {
    let (kind, value) = match text.split_once(':') {
        Some((kind, value)) if EntityKind::parse(kind).is_some() => (EntityKind::parse(kind), value),
        _ => (None, text),
    };
    (!value.is_empty()).then(|| (kind, value.to_owned()))
}

/// The event fields single-event alerts take their entities from, in order.
pub const ENTITY_SOURCE_FIELDS: &[&str] = &[
    crate::fields::SOURCE_IP,
    crate::fields::USER_NAME,
    crate::fields::USER_EMAIL,
    crate::fields::DEVICE_ID,
    crate::fields::PAYMENT_CARD_FINGERPRINT,
    crate::fields::SESSION_ID,
    crate::fields::API_KEY_ID,
];

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Raised, nobody has looked yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Done, with a classification.
    Closed,
}

impl AlertStatus {
    /// The status as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<AlertStatus> {
        [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Closed].into_iter().find(|s| s.as_str() == name)
    }
}

/// How an analyst judged a closed alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// A real attack or fraud.
    TruePositive,
    /// The rule was right, but the activity was allowed (a pentest, a known partner).
    BenignPositive,
    /// The rule was wrong.
    FalsePositive,
}

impl Classification {
    /// The classification as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::TruePositive => "true_positive",
            Classification::BenignPositive => "benign_positive",
            Classification::FalsePositive => "false_positive",
        }
    }

    /// The classification named `name`.
    pub fn parse(name: &str) -> Option<Classification> {
        [Classification::TruePositive, Classification::BenignPositive, Classification::FalsePositive]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// One change of an alert. Never updated or deleted once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertTransition {
    /// The alert it belongs to.
    pub alert_id: String,
    /// What happened.
    pub action: TransitionAction,
    /// Who did it: `rampart` for detection, otherwise the token or user name.
    pub actor: String,
    /// When.
    #[serde(with = "millis")]
    pub at: OffsetDateTime,
    /// The status after the change.
    pub status: AlertStatus,
    /// The classification given when closing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub classification: Option<Classification>,
    /// The analyst's note, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
    /// For `created` and `updated`: events added to the alert.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub events_added: Option<u64>,
}

/// The kinds of change an alert goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionAction {
    /// Raised by detection.
    Created,
    /// More events of the same rule on the same entities folded in.
    Updated,
    /// Taken by an analyst.
    Acknowledged,
    /// Closed with a classification.
    Closed,
    /// Opened again after being closed.
    Reopened,
}

impl TransitionAction {
    /// The action as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionAction::Created => "created",
            TransitionAction::Updated => "updated",
            TransitionAction::Acknowledged => "acknowledged",
            TransitionAction::Closed => "closed",
            TransitionAction::Reopened => "reopened",
        }
    }
}

/// What detection concluded, before the store folds it into an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// The rule that matched (or the correlation that crossed its threshold).
    pub rule: AlertRule,
    /// Who or what it is about.
    pub entities: Vec<Entity>,
    /// The correlation's `group-by` values; empty for single-event rules.
    #[serde(default)]
    pub group_by: BTreeMap<String, String>,
    /// Time of the earliest event behind it.
    #[serde(with = "millis")]
    pub first_event_time: OffsetDateTime,
    /// Time of the latest event behind it.
    #[serde(with = "millis")]
    pub last_event_time: OffsetDateTime,
    /// Events behind it.
    pub event_count: u64,
    /// `event.id`s of (some of) those events, at most [`MAX_EVIDENCE`].
    pub evidence: Vec<String>,
    /// Fields and values that made the rule match.
    #[serde(default)]
    pub matched: Vec<MatchedValue>,
    /// When detection concluded it.
    #[serde(with = "millis")]
    pub detected_at: OffsetDateTime,
}

impl Detection {
    /// What repeats of it share: the rule and the entities (or the group-by values). Alerts
    /// with the same key within the suppression window are one alert.
    pub fn suppression_key(&self) -> String {
        suppression_key(&self.rule.id, &self.entities, &self.group_by)
    }
}

impl Alert {
    /// The [`Detection::suppression_key`] of the detections folded into it.
    pub fn suppression_key(&self) -> String {
        suppression_key(&self.rule.id, &self.entities, &self.group_by)
    }
}

fn suppression_key(rule_id: &str, entities: &[Entity], group_by: &BTreeMap<String, String>) -> String {
    let mut key = rule_id.to_owned();
    if group_by.is_empty() {
        let mut entities: Vec<&Entity> = entities.iter().collect();
        entities.sort();
        for entity in entities {
            key.push('\u{1f}');
            key.push_str(entity.kind.as_str());
            key.push('=');
            key.push_str(&entity.value);
        }
    } else {
        for (field, value) in group_by {
            key.push('\u{1f}');
            key.push_str(field);
            key.push('=');
            key.push_str(value);
        }
    }
    key
}

/// One field of an event and the value that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedValue {
    /// The event field, `keywords` for full-text matches, or the correlation's measure.
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

#[cfg(test)]
mod tests {
    #[test]
    fn issue_12_entities_with_and_without_a_kind() {
        assert_eq!(super::parse_entity("ip:192.0.2.1"), Some((Some(EntityKind::Ip), "192.0.2.1".into())));
        assert_eq!(super::parse_entity("api_key:k:1"), Some((Some(EntityKind::ApiKey), "k:1".into())));
        assert_eq!(super::parse_entity("2001:db8::1"), Some((None, "2001:db8::1".into())));
        assert_eq!(super::parse_entity("ann"), Some((None, "ann".into())));
        assert_eq!(super::parse_entity("email:"), None);
        assert_eq!(super::parse_entity(""), None);
    }

    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(serde_json::json!(kind.as_str())));
        }
        assert_eq!(EntityKind::parse("planet"), None);
        assert_eq!(AlertStatus::parse("acknowledged"), Some(AlertStatus::Acknowledged));
        assert_eq!(Classification::parse("benign_positive"), Some(Classification::BenignPositive));
        assert_eq!(Classification::parse("maybe"), None);
    }

    #[test]
    fn suppression_key_ignores_entity_order_but_not_values() {
        let entity = |kind, value: &str, field: &str| Entity { kind, value: value.into(), field: field.into() };
        let time = OffsetDateTime::UNIX_EPOCH;
        let detection = |entities| Detection {
            rule: AlertRule { id: "r".into(), version: "v".into(), title: "t".into(), level: "high".into(), tags: vec![] },
            entities,
            group_by: BTreeMap::new(),
            first_event_time: time,
            last_event_time: time,
            event_count: 1,
            evidence: vec![],
            matched: vec![],
            detected_at: time,
        };
        let ip = entity(EntityKind::Ip, "192.0.2.1", "source.ip");
        let user = entity(EntityKind::Account, "ann", "user.name");
        let a = detection(vec![ip.clone(), user.clone()]);
        let b = detection(vec![user, ip.clone()]);
        let c = detection(vec![ip]);
        assert_eq!(a.suppression_key(), b.suppression_key());
        assert_ne!(a.suppression_key(), c.suppression_key());
    }
}
