//! Folding detections into alerts: ids, suppression, resends and the evidence cap, decided
//! without a database.
//!
//! A store calls these inside its own transaction: it looks up what it holds (the events already
//! behind an alert, the open alert of a key within [`suppression_range`]), asks these functions
//! what to do, and persists what they decide. Every back end thus folds alike, and several
//! writers cannot race (the look-up and the write are one transaction of the store).

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use super::{Alert, AlertStatus, AlertTransition, Detection, Entity, MAX_EVIDENCE, TransitionAction};

/// The actor of the transitions detection writes.
pub const DETECTION_ACTOR: &str = "rampart";

/// One alert that folding detections created or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChange {
    /// The alert as it is now.
    pub alert: Alert,
    /// Whether it is new.
    pub created: bool,
    /// Events it took in with this call.
    pub events_added: u64,
}

/// Milliseconds since 1970, as alerts keep their times (cut toward zero).
pub fn alert_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The time cut to the millisecond, as alerts keep and answer it.
pub fn to_millis(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(alert_millis(t)) * 1_000_000).unwrap_or(t)
}

/// Stable for a suppression key, a first event and its time: a retried batch makes the same id
/// (32 hex digits of an XXH3-128 hash).
pub fn alert_id(key: &str, first_evidence: &str, first_event_time: OffsetDateTime) -> String {
    let text = format!("{key}\u{0}{first_evidence}\u{0}{}", alert_millis(first_event_time));
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// The detection's event times, earliest first, cut to the millisecond.
fn span(detection: &Detection) -> (OffsetDateTime, OffsetDateTime) {
    let (a, b) = (detection.first_event_time, detection.last_event_time);
    (to_millis(a.min(b)), to_millis(a.max(b)))
}

/// The window, in milliseconds, never negative.
fn window_millis(window: time::Duration) -> i64 {
    i64::try_from(window.whole_milliseconds().max(0)).unwrap_or(i64::MAX / 4)
}

/// The event times (Unix milliseconds, inclusive) an alert of the detection's key must reach
/// into to take it in: its `last_event_time` at or after the first bound, its
/// `first_event_time` at or before the second (see [`takes_in`]).
pub fn suppression_range(detection: &Detection, window: time::Duration) -> (i64, i64) {
    let (first, last) = span(detection);
    let window = window_millis(window);
    (alert_millis(first).saturating_sub(window), alert_millis(last).saturating_add(window))
}

/// Whether a stored alert of the detection's suppression key takes the detection in: it is open
/// or acknowledged (a closed alert takes nothing in) and its events lie within the suppression
/// window of the detection's. A store picks, among those, the one with the latest events.
pub fn takes_in(alert: &Alert, detection: &Detection, window: time::Duration) -> bool {
    let (low, high) = suppression_range(detection, window);
    alert.status != AlertStatus::Closed && alert_millis(alert.last_event_time) >= low && alert_millis(alert.first_event_time) <= high
}

/// Whether the detection is a resend: it names events and every one of them is already behind an
/// alert of its key (`is_known` asks the store, and is asked until the first unknown one).
pub fn is_resend<E>(detection: &Detection, mut is_known: impl FnMut(&str) -> Result<bool, E>) -> Result<bool, E> {
    if detection.evidence.is_empty() {
        return Ok(false);
    }
    for id in &detection.evidence {
        if !is_known(id)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Adds event ids to an alert's evidence: each once, and no more than [`MAX_EVIDENCE`].
pub fn push_evidence<'a>(evidence: &mut Vec<String>, ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        if evidence.len() >= MAX_EVIDENCE {
            return;
        }
        if !evidence.iter().any(|known| known == id) {
            evidence.push(id.to_owned());
        }
    }
}

/// A new open alert for a detection whose suppression key is `key`.
pub fn new_alert(detection: &Detection, key: &str) -> Alert {
    let (first, last) = span(detection);
    let detected_at = to_millis(detection.detected_at);
    let mut evidence = Vec::new();
    push_evidence(&mut evidence, detection.evidence.iter().map(String::as_str));
    Alert {
        id: alert_id(key, detection.evidence.first().map_or("", String::as_str), first),
        rule: detection.rule.clone(),
        entities: detection.entities.clone(),
        group_by: detection.group_by.clone(),
        first_event_time: first,
        last_event_time: last,
        detected_at,
        updated_at: detected_at,
        event_count: detection.event_count,
        evidence,
        matched: detection.matched.clone(),
        status: AlertStatus::Open,
        classification: None,
    }
}

/// What folding a detection into an alert changed, for the store to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// Events the alert took in (the detection's, less those it held already).
    pub events_added: u64,
    /// Event ids the alert did not hold before, each once: all of them are behind it now (the
    /// store remembers them for resends), the first few also joined its `evidence`.
    pub fresh_evidence: Vec<String>,
    /// Entities the alert did not name before, now appended to its `entities`.
    pub new_entities: Vec<Entity>,
}

/// Folds a detection into an alert that [`takes_in`] it. `is_known` tells whether an event is
/// already behind this alert (asked once per distinct id). `None`, and the alert unchanged, when
/// the detection brings nothing new.
pub fn fold<E>(alert: &mut Alert, detection: &Detection, mut is_known: impl FnMut(&str) -> Result<bool, E>) -> Result<Option<Folded>, E> {
    let mut known = 0u64;
    let mut fresh_evidence = Vec::new();
    let mut seen = HashSet::new();
    for id in detection.evidence.iter().filter(|id| seen.insert(id.as_str())) {
        if is_known(id)? {
            known += 1;
        } else {
            fresh_evidence.push(id.clone());
        }
    }
    let events_added = detection.event_count.saturating_sub(known);
    if events_added == 0 && fresh_evidence.is_empty() {
        return Ok(None);
    }
    let (first, last) = span(detection);
    alert.event_count = alert.event_count.saturating_add(events_added);
    alert.first_event_time = alert.first_event_time.min(first);
    alert.last_event_time = alert.last_event_time.max(last);
    alert.updated_at = alert.updated_at.max(to_millis(detection.detected_at));
    push_evidence(&mut alert.evidence, fresh_evidence.iter().map(String::as_str));
    let new_entities: Vec<Entity> = detection.entities.iter().filter(|e| !alert.entities.contains(e)).cloned().collect();
    alert.entities.extend(new_entities.iter().cloned());
    Ok(Some(Folded { events_added, fresh_evidence, new_entities }))
}

/// The alerts one call of folding touched, each once (in the order first touched), and the one
/// transition each gets however many detections it took in.
#[derive(Debug, Default)]
pub struct BatchChanges {
    changes: Vec<AlertChange>,
    positions: HashMap<String, usize>,
}

impl BatchChanges {
    /// Notes an alert created or updated by one detection.
    pub fn note(&mut self, alert: Alert, created: bool, events_added: u64) {
        match self.positions.get(&alert.id) {
            Some(&index) => {
                let change = &mut self.changes[index];
                change.events_added = change.events_added.saturating_add(events_added);
                change.alert = alert;
            }
            None => {
                self.positions.insert(alert.id.clone(), self.changes.len());
                self.changes.push(AlertChange { alert, created, events_added });
            }
        }
    }

    /// The changes, and for each its transition (`created` or `updated`, by [`DETECTION_ACTOR`],
    /// with `events_added`), in the same order.
    pub fn finish(self) -> (Vec<AlertChange>, Vec<AlertTransition>) {
        let transitions = self
            .changes
            .iter()
            .map(|change| AlertTransition {
                alert_id: change.alert.id.clone(),
                action: if change.created { TransitionAction::Created } else { TransitionAction::Updated },
                actor: DETECTION_ACTOR.to_owned(),
                at: change.alert.updated_at,
                status: change.alert.status,
                classification: None,
                note: None,
                events_added: Some(change.events_added),
            })
            .collect();
        (self.changes, transitions)
    }
}

#[cfg(test)]
pub(crate) mod tests;
