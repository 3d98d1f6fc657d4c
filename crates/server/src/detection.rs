//! Every ingested batch passes through the rules: events are stored, then the alerts they raised
//! or updated, each counted in the metrics and logged as one masked JSON line.

use std::collections::BTreeMap;

use rampart_model::{Detection, Event};
use rampart_store::{AlertChange, AppendOutcome, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::AppState;
use crate::mask::{ALERT_LOG_TARGET, alert_log_line};

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
    /// New alerts by rule (resent events raise none).
    pub alerts: Vec<RuleCount>,
    /// Open alerts that took repeats in.
    pub alerts_updated: usize,
    /// What the rules detected in the batch, before the store folded it into alerts (offline
    /// runs score these against ground truth).
    pub detections: Vec<Detection>,
}

/// Runs the rules over `events`, stores the events, then folds what the rules detected into
/// alerts (new ones, or updates of open ones within the suppression window). Alerts are written
/// only once their events are durable, so an alert never points at a lost event; a batch that
/// fails after its events were stored is retried by its sender, and the store recognizes the
/// resent events, so nothing is raised or counted twice.
pub fn store_and_detect(state: &AppState, events: Vec<Event>) -> Result<Stored, StoreError> {
    if events.is_empty() {
        return Ok(Stored::default());
    }
    // Matching needs the events and the store takes them: detect first, it costs a fraction of the commit.
    // Matching changes no state; correlating does, and only events the store takes as new may
    // count in a window (a resent batch must not complete a correlation).
    let matched = state.detector.match_batch(&events);
    let outcome = state.store.append(events)?;
    let detections = state.detector.correlate_batch(matched, |position| outcome.is_new(position), OffsetDateTime::now_utc());
    if detections.is_empty() {
        return Ok(Stored { outcome, ..Stored::default() });
    }
    let stored = store_detections(state, &detections)?;
    Ok(Stored { outcome, detections, ..stored })
}

/// Folds detections into alerts (within the state's suppression window), counts each alert
/// created or updated in the metrics and logs it as one masked JSON line. For detections made
/// outside an ingested batch too, such as correlation windows closed by the clock
/// ([`rampart_detect::Detector::expire`]). The answer's `outcome` is empty.
pub fn store_detections(state: &AppState, detections: &[Detection]) -> Result<Stored, StoreError> {
    if detections.is_empty() {
        return Ok(Stored::default());
    }
    let changes = state.store.record_detections(detections, state.suppression)?;
    Ok(Stored {
        outcome: AppendOutcome::default(),
        alerts_updated: changes.iter().filter(|c| !c.created).count(),
        alerts: report(state, &changes),
        detections: Vec::new(),
    })
}

/// Counts and logs each change; returns the new alerts by rule.
fn report(state: &AppState, changes: &[AlertChange]) -> Vec<RuleCount> {
    let rules = state.detector.rules();
    for change in changes {
        state.metrics.count_alert_change(change);
        let correlation = rules.rules.iter().any(|r| r.id == change.alert.rule.id && r.correlation.is_some());
        // A new alert is news; a repeat folded into an open one is detail.
        if change.created {
            tracing::info!(target: ALERT_LOG_TARGET, "{}", alert_log_line(change, correlation));
        } else {
            tracing::debug!(target: ALERT_LOG_TARGET, "{}", alert_log_line(change, correlation));
        }
    }
    let created = changes.iter().filter(|c| c.created).map(|c| &c.alert.rule);
    RuleCount::tally(created.map(|rule| (rule.id.as_str(), rule.title.as_str(), rule.level.as_str())))
}

/// The store name of the correlation windows' snapshot.
pub const CORRELATION_SNAPSHOT: &str = "correlation";

/// Periodic work of a running server: closes the correlation windows due by `now` (conditions
/// decided at close, `lt`/`lte`/`neq`), stores what they detected, refreshes the correlation gauges.
pub fn correlation_upkeep(state: &AppState, now: OffsetDateTime) -> Result<Stored, StoreError> {
    let detections = state.detector.expire(now);
    state.metrics.set_correlation(&state.detector.correlation_stats().total);
    store_detections(state, &detections)
}

/// Saves the correlation windows to the store, so a restart does not forget an attack in
/// progress; returns the snapshot's size in bytes.
pub fn save_correlation_state(state: &AppState) -> Result<usize, StoreError> {
    let bytes = state.detector.snapshot_state();
    state.store.save_snapshot(CORRELATION_SNAPSHOT, &bytes)?;
    Ok(bytes.len())
}

/// Restores the correlation windows saved by [`save_correlation_state`]. A snapshot that cannot
/// be read (damaged, or from another version) is logged and skipped: detection starts afresh
/// rather than not at all. Returns the groups restored.
pub fn restore_correlation_state(state: &AppState) -> Result<usize, StoreError> {
    let Some((saved_at, bytes)) = state.store.load_snapshot(CORRELATION_SNAPSHOT)? else { return Ok(0) };
    match state.detector.restore_state(&bytes) {
        Ok(()) => {
            let keys = state.detector.correlation_stats().total.keys;
            tracing::info!(groups = keys, saved_at = %rampart_model::format_timestamp(saved_at), "correlation windows restored");
            Ok(keys)
        }
        Err(error) => {
            tracing::warn!(error = %error, "the saved correlation windows cannot be read; correlations start empty");
            Ok(0)
        }
    }
}
