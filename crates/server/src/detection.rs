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
    let mut by_rule: BTreeMap<&str, RuleCount> = BTreeMap::new();
    for index in store.append_alerts(alerts)? {
        let alert = &alerts[index];
        metrics.count_alert(&alert.rule.level);
        by_rule
            .entry(alert.rule.id.as_str())
            .or_insert_with(|| RuleCount {
                rule: alert.rule.id.clone(),
                title: alert.rule.title.clone(),
                level: alert.rule.level.clone(),
                count: 0,
            })
            .count += 1;
    }
    Ok(by_rule.into_values().collect())
}
