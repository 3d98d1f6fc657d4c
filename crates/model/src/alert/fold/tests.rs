//! Table tests of folding, with the store's look-ups played by sets.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;

use super::*;
use crate::alert::{AlertRule, EntityKind};

/// A time `seconds` after 2026-11-22T10:00:00Z.
pub(crate) fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_341_600 + seconds).unwrap()
}

/// A detection of rule `r` on one address, at `at`, with these events.
pub(crate) fn detection(at: OffsetDateTime, evidence: &[&str]) -> Detection {
    Detection {
        rule: AlertRule { id: "r".into(), version: "v".into(), title: "Brute force".into(), level: "high".into(), tags: vec![] },
        entities: vec![Entity { kind: EntityKind::Ip, value: "192.0.2.1".into(), field: "source.ip".into() }],
        group_by: BTreeMap::new(),
        first_event_time: at,
        last_event_time: at,
        event_count: evidence.len() as u64,
        evidence: evidence.iter().map(|id| (*id).to_owned()).collect(),
        matched: vec![],
        detected_at: at + time::Duration::seconds(1),
    }
}

/// Answers from a set, as a store's look-up of the events behind an alert would.
fn known(ids: &HashSet<String>) -> impl FnMut(&str) -> Result<bool, Infallible> + '_ {
    |id| Ok(ids.contains(id))
}

const TEN_MINUTES: time::Duration = time::Duration::minutes(10);

#[test]
fn issue_12_a_new_alert_is_open_with_a_stable_id_and_capped_evidence() {
    let ids: Vec<String> = (0..150).map(|n| format!("e{n}")).collect();
    let mut d = detection(t(0), &ids.iter().map(String::as_str).collect::<Vec<_>>());
    d.evidence.push("e0".into()); // a repeat within the detection counts once in the evidence
    d.last_event_time = t(-30); // out of order: the span is sorted
    let key = d.suppression_key();
    let alert = new_alert(&d, &key);
    assert_eq!(alert.status, AlertStatus::Open);
    assert_eq!(alert.classification, None);
    assert_eq!((alert.first_event_time, alert.last_event_time), (t(-30), t(0)));
    assert_eq!((alert.detected_at, alert.updated_at), (t(1), t(1)));
    assert_eq!(alert.event_count, 150);
    assert_eq!(alert.evidence.len(), MAX_EVIDENCE);
    assert_eq!(alert.evidence.first().map(String::as_str), Some("e0"));
    assert_eq!(alert.evidence.last().map(String::as_str), Some("e99"));
    // The id of a retried batch is the same; another first event or time is another id.
    assert_eq!(alert.id, new_alert(&d, &key).id);
    assert_eq!(alert.id, alert_id(&key, "e0", t(-30)));
    assert_eq!(alert.id.len(), 32);
    assert_ne!(alert.id, alert_id(&key, "e1", t(-30)));
    assert_ne!(alert.id, alert_id(&key, "e0", t(-29)));
}

#[test]
fn issue_12_alert_ids_are_those_earlier_versions_computed() {
    // Fixed: ids already stored must stay reachable, so the hash input never changes.
    assert_eq!(alert_id("r\u{1f}ip=192.0.2.1", "e1", t(0)), "0b79cc5508dbfaa63397c29bb7c5bf2f");
}

#[test]
fn issue_12_suppression_window_table() {
    let alert = new_alert(&detection(t(0), &["e1"]), "k");
    let mut acknowledged = alert.clone();
    acknowledged.status = AlertStatus::Acknowledged;
    let mut closed = alert.clone();
    closed.status = AlertStatus::Closed;
    // (alert, detection at, window) → takes it in
    let table = [
        (&alert, 0, TEN_MINUTES, true),
        (&alert, 600, TEN_MINUTES, true),  // exactly the window after: still in
        (&alert, 601, TEN_MINUTES, false), // after the window: a new alert
        (&alert, -600, TEN_MINUTES, true), // events before the alert's count alike
        (&alert, -601, TEN_MINUTES, false),
        (&acknowledged, 300, TEN_MINUTES, true),
        (&closed, 0, TEN_MINUTES, false), // a closed alert takes nothing in
        (&alert, 0, time::Duration::ZERO, true),
        (&alert, 1, time::Duration::ZERO, false), // "0s": every repeat at another time is its own
        (&alert, 1, -TEN_MINUTES, false),         // a negative window is none
    ];
    for (alert, at, window, expected) in table {
        assert_eq!(takes_in(alert, &detection(t(at), &["e2"]), window), expected, "{:?} at {at}s, window {window}", alert.status);
    }
    assert_eq!(suppression_range(&detection(t(0), &[]), TEN_MINUTES), (1_795_341_000_000, 1_795_342_200_000));
}

#[test]
fn issue_12_a_repeat_within_suppression_folds_in_and_caps_evidence() {
    let first: Vec<String> = (0..90).map(|n| format!("a{n}")).collect();
    let mut alert = new_alert(&detection(t(0), &first.iter().map(String::as_str).collect::<Vec<_>>()), "k");
    let behind: HashSet<String> = first.iter().cloned().collect();
    // 20 new events and 2 the alert holds already.
    let second: Vec<String> = (0..20).map(|n| format!("b{n}")).chain(["a0".to_owned(), "a1".to_owned()]).collect();
    let mut repeat = detection(t(120), &second.iter().map(String::as_str).collect::<Vec<_>>());
    repeat.entities.push(Entity { kind: EntityKind::Account, value: "ann".into(), field: "user.name".into() });
    let folded = fold(&mut alert, &repeat, known(&behind)).unwrap().unwrap();
    assert_eq!(folded.events_added, 20);
    assert_eq!(folded.fresh_evidence, (0..20).map(|n| format!("b{n}")).collect::<Vec<_>>(), "all remembered for resends");
    assert_eq!(folded.new_entities.len(), 1);
    assert_eq!(alert.event_count, 110);
    assert_eq!(alert.evidence.len(), MAX_EVIDENCE, "the first 100 ids, not more");
    assert_eq!(alert.evidence[90..], (0..10).map(|n| format!("b{n}")).collect::<Vec<_>>()[..]);
    assert_eq!((alert.first_event_time, alert.last_event_time, alert.updated_at), (t(0), t(120), t(121)));
    assert_eq!(alert.entities.len(), 2);
    assert_eq!(alert.status, AlertStatus::Open);
    // A detection without evidence still counts its events.
    let mut counted = detection(t(60), &[]);
    counted.event_count = 5;
    assert_eq!(fold(&mut alert, &counted, known(&behind)).unwrap().map(|f| f.events_added), Some(5));
    assert_eq!((alert.event_count, alert.last_event_time), (115, t(120)), "times only widen");
}

#[test]
fn issue_12_resent_events_change_nothing() {
    let mut alert = new_alert(&detection(t(0), &["e1", "e2"]), "k");
    let behind: HashSet<String> = ["e1".to_owned(), "e2".to_owned()].into();
    let resent = detection(t(0), &["e2", "e1"]);
    assert_eq!(is_resend(&resent, known(&behind)), Ok(true));
    let before = alert.clone();
    assert_eq!(fold(&mut alert, &resent, known(&behind)), Ok(None));
    assert_eq!(alert, before);
    // One unknown event, or none named at all, is not a resend.
    assert_eq!(is_resend(&detection(t(0), &["e1", "e3"]), known(&behind)), Ok(false));
    assert_eq!(is_resend(&detection(t(0), &[]), known(&behind)), Ok(false));
    // The look-up stops at the first unknown event, and its errors come through.
    let mut asked = Vec::new();
    let failing = is_resend(&detection(t(0), &["e9", "e1"]), |id: &str| {
        asked.push(id.to_owned());
        Err::<bool, &str>("disk")
    });
    assert_eq!((failing, asked), (Err("disk"), vec!["e9".to_owned()]));
}

#[test]
fn issue_12_one_change_and_one_transition_per_alert_and_batch() {
    let a = new_alert(&detection(t(0), &["e1"]), "k");
    let b = new_alert(&detection(t(900), &["e5"]), "k");
    let mut grown = a.clone();
    grown.event_count = 3;
    let mut batch = BatchChanges::default();
    batch.note(a.clone(), true, 1);
    batch.note(b.clone(), true, 1);
    batch.note(grown.clone(), false, 2);
    let (changes, transitions) = batch.finish();
    assert_eq!(
        changes,
        [
            AlertChange { alert: grown.clone(), created: true, events_added: 3 },
            AlertChange { alert: b.clone(), created: true, events_added: 1 }
        ]
    );
    let summary: Vec<(&str, TransitionAction, &str, Option<u64>)> =
        transitions.iter().map(|t| (t.alert_id.as_str(), t.action, t.actor.as_str(), t.events_added)).collect();
    assert_eq!(
        summary,
        [(a.id.as_str(), TransitionAction::Created, "rampart", Some(3)), (b.id.as_str(), TransitionAction::Created, "rampart", Some(1))]
    );
    let mut updates = BatchChanges::default();
    updates.note(grown.clone(), false, 2);
    let (_, transitions) = updates.finish();
    assert_eq!(
        (transitions[0].action, transitions[0].at, transitions[0].status),
        (TransitionAction::Updated, grown.updated_at, AlertStatus::Open)
    );
}
