//! Every ingested batch passes through the rules: events are stored, then the alerts they raised.

use std::collections::BTreeMap;

use rampart_detect::Detector;
use rampart_model::{Alert, Event};
use rampart_store::{AppendOutcome, Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::metrics::ServerMetrics;

/// New alerts of one rule in a batch, as ingest answers list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    /// The rule id.
    pub rule: String,
    /// Its title.
    pub title: String,
    /// Its level.
    pub level: String,
    /// New alerts.
    pub count: usize,
}

impl RuleCount {
    /// Counts matches by rule, given each match's rule id, title and level; in id order.
    pub fn tally<'a>(matches: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<RuleCount> {
        let mut by_rule: BTreeMap<&str, RuleCount> = BTreeMap::new();
        for (rule, title, level) in matches {
            by_rule
                .entry(rule)
                .or_insert_with(|| RuleCount { rule: rule.to_owned(), title: title.to_owned(), level: level.to_owned(), count: 0 })
                .count += 1;
        }
        by_rule.into_values().collect()
    }
}

/// What storing a batch did.
#[derive(Debug, Default)]
pub struct Stored {
    /// Events stored and duplicates skipped.
    pub outcome: AppendOutcome,
    /// New alerts by rule (alerts of resent events are not new).
    pub alerts: Vec<RuleCount>,
}

/// Runs the rules over `events`, stores the events, then the alerts. Alerts are written only
/// once their events are durable, so an alert never points at a lost event; a batch that fails
/// after its events were stored is retried by its sender, and resent events raise the same alert
/// ids, which the store keeps once.
pub fn store_and_detect(store: &dyn Store, detector: &Detector, metrics: &ServerMetrics, events: Vec<Event>) -> Result<Stored, StoreError> {
    if events.is_empty() {
        return Ok(Stored::default());
    }
    // Matching needs the events and the store takes them: detect first, it costs a fraction of the commit.
    let alerts = detector.detect(&events, OffsetDateTime::now_utc());
    let outcome = store.append(events)?;
    let alerts = if alerts.is_empty() { Vec::new() } else { store_alerts(store, metrics, &alerts)? };
    Ok(Stored { outcome, alerts })
}

fn store_alerts(store: &dyn Store, metrics: &ServerMetrics, alerts: &[Alert]) -> Result<Vec<RuleCount>, StoreError> {
    let new: Vec<&Alert> = store.append_alerts(alerts)?.into_iter().map(|index| &alerts[index]).collect();
    new.iter().for_each(|alert| metrics.count_alert(&alert.rule.level));
    Ok(RuleCount::tally(new.iter().map(|a| (a.rule.id.as_str(), a.rule.title.as_str(), a.rule.level.as_str()))))
}
