//! Integration tests of the SQLite store: appends, de-duplication, search, retention, tokens, alerts.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_model::{
    Alert, AlertRule, AlertStatus, Classification, Detection, Entity, EntityKind, Event, MAX_EVIDENCE, MatchedValue, Query, Role,
    TransitionAction,
};
use rampart_store::{AlertAction, AlertRequest, NewToken, SearchRequest, SqliteOptions, SqliteStore, Store, StoreError, TransitionRequest};
use rampart_store::{AlertStore, EventStore, SnapshotStore, TokenStore};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap()
}

fn event(id: &str, at: &str, ip: &str, user: &str) -> Event {
    Event::from_json(json!({"@timestamp": at, "event.id": id, "source.ip": ip, "user.name": user, "event.action": "login"})).unwrap()
}

fn ids(store: &SqliteStore, request: &SearchRequest) -> Vec<String> {
    store.search(request).unwrap().items.iter().map(|e| e.id().to_owned()).collect()
}

fn query(q: &str) -> SearchRequest {
    SearchRequest::new(Query::parse(q).unwrap())
}

#[test]
fn appended_events_come_back_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let outcome = store
        .append(vec![
            event("a", "2026-11-20T10:00:00Z", "192.0.2.1", "alice"),
            event("c", "2026-11-22T10:00:00Z", "192.0.2.1", "carol"),
            event("b", "2026-11-21T10:00:00Z", "198.51.100.9", "bob"),
        ])
        .unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (3, 0));
    assert_eq!(ids(&store, &query("")), ["c", "b", "a"]);
    assert_eq!(ids(&store, &query("source.ip:192.0.2.1")), ["c", "a"]);
    assert_eq!(ids(&store, &query("source.ip:192.0.2.0/24")), ["c", "a"]);
    assert_eq!(ids(&store, &query("user.name:bob")), ["b"]);
    assert_eq!(ids(&store, &query("source.ip:192.0.2.1 -user.name:alice")), ["c"]);
    assert_eq!(ids(&store, &query("user.name:ca*")), ["c"]);
    assert_eq!(ids(&store, &query("user.name:nobody")), Vec::<String>::new());
    let stored = &store.search(&query("user.name:bob")).unwrap().items[0];
    assert_eq!(stored, &event("b", "2026-11-21T10:00:00Z", "198.51.100.9", "bob"));
    assert_eq!(store.count_events().unwrap(), 3);
}

#[test]
fn time_ranges_and_cursors_page_through_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let base = datetime!(2026-11-22 00:00 UTC);
    let events: Vec<Event> = (0..250)
        .map(|i| {
            let at = base + Duration::from_secs(60 * i);
            Event::from_json(
                json!({"@timestamp": rampart_model::format_timestamp(at), "event.id": format!("e{i}"), "source.ip": "192.0.2.7"}),
            )
            .unwrap()
        })
        .collect();
    store.append(events).unwrap();
    for q in ["", "source.ip:192.0.2.7"] {
        let mut request = query(q);
        request.limit = 100;
        let mut seen = Vec::new();
        loop {
            let page = store.search(&request).unwrap();
            seen.extend(page.items.iter().map(|e| e.id().to_owned()));
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        let want: Vec<String> = (0..250).rev().map(|i| format!("e{i}")).collect();
        assert_eq!(seen, want, "{q}");
    }
    let mut range = query("");
    range.from = Some(base + Duration::from_secs(60 * 10));
    range.to = Some(base + Duration::from_secs(60 * 12));
    assert_eq!(ids(&store, &range), ["e12", "e11", "e10"]);
    let mut bad = query("");
    bad.cursor = Some("not a cursor".into());
    assert!(matches!(store.search(&bad), Err(StoreError::BadCursor)));
}

#[test]
fn resent_ids_are_duplicates_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        let first = store
            .append(vec![event("x1", "2026-11-22T10:00:00Z", "192.0.2.1", "a"), event("x1", "2026-11-22T10:00:00Z", "192.0.2.1", "a")])
            .unwrap();
        assert_eq!((first.stored, first.duplicates), (1, 1));
    }
    let store = open(&dir);
    let again = store
        .append(vec![event("x1", "2026-11-22T10:00:00Z", "192.0.2.1", "a"), event("x2", "2026-11-22T10:00:00Z", "192.0.2.1", "a")])
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (1, 1));
    // Events timed by their receipt (no @timestamp of their own): a resend minutes later,
    // across midnight, is still recognized.
    let received = |at: OffsetDateTime| Event::from_json_at(json!({"event.id": "late-1"}), at).unwrap();
    assert_eq!(store.append(vec![received(datetime!(2026-11-22 23:58 UTC))]).unwrap().stored, 1);
    assert_eq!(store.append(vec![received(datetime!(2026-11-23 00:09 UTC))]).unwrap().duplicates, 1);
    // Events without a client id never collide.
    let anonymous = || Event::from_json(json!({"@timestamp": "2026-11-22T10:00:00Z"})).unwrap();
    assert_eq!(store.append(vec![anonymous(), anonymous()]).unwrap().stored, 2);
    assert_eq!(store.count_events().unwrap(), 5);
}

#[test]
fn the_dedup_window_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { dedup_window: Duration::ZERO, ..SqliteOptions::default() };
    let store = SqliteStore::open(&dir.path().join("rampart.db"), options).unwrap();
    store.append(vec![event("w", "2026-11-22T10:00:00Z", "192.0.2.1", "a")]).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(store.append(vec![event("w", "2026-11-22T10:00:00Z", "192.0.2.1", "a")]).unwrap().stored, 1);
}

#[test]
fn thousands_of_events_in_one_millisecond_all_get_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let events: Vec<Event> = (0..5000).map(|i| event(&format!("same-ms-{i}"), "2026-11-22T10:00:00.001Z", "192.0.2.1", "a")).collect();
    assert_eq!(store.append(events).unwrap().stored, 5000);
    assert_eq!(store.count_events().unwrap(), 5000);
}

#[test]
fn concurrent_appends_are_group_committed_and_all_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(&dir));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for b in 0..20 {
                    let batch = (0..50).map(|i| event(&format!("t{t}-b{b}-{i}"), "2026-11-22T10:00:00Z", "192.0.2.1", "a")).collect();
                    assert_eq!(store.append(batch).unwrap().stored, 50);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(store.count_events().unwrap(), 8 * 20 * 50);
}

#[test]
fn retention_deletes_old_events_and_their_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut events: Vec<Event> = (0..12_000).map(|i| event(&format!("old{i}"), "2026-10-01T10:00:00Z", "192.0.2.1", "a")).collect();
    events.push(event("new", "2026-11-22T10:00:00Z", "192.0.2.1", "a"));
    store.append(events).unwrap();
    assert_eq!(store.purge_before(datetime!(2026-11-01 00:00 UTC)).unwrap(), 12_000);
    assert_eq!(ids(&store, &query("source.ip:192.0.2.1")), ["new"]);
    assert_eq!(store.count_events().unwrap(), 1);
    assert_eq!(store.purge_before(datetime!(2026-11-01 00:00 UTC)).unwrap(), 0);
}

#[test]
fn tokens_are_created_listed_revoked_and_found_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let token = |name: &str, byte: u8| NewToken { name: name.into(), hash: [byte; 32], role: Role::Analyst, expires_at: None };
    store.create_token(token("ci", 1)).unwrap();
    assert!(matches!(store.create_token(token("ci", 2)), Err(StoreError::TokenExists(name)) if name == "ci"));
    let found = store.find_token(&[1; 32]).unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.role), ("ci", Role::Analyst));
    assert!(found.is_active(OffsetDateTime::now_utc()));
    assert!(store.find_token(&[9; 32]).unwrap().is_none());
    assert!(store.revoke_token("ci").unwrap());
    assert!(!store.revoke_token("nope").unwrap());
    assert!(!store.find_token(&[1; 32]).unwrap().unwrap().is_active(OffsetDateTime::now_utc()));
    assert_eq!(store.list_tokens().unwrap().len(), 1);
}

#[test]
fn the_store_is_writable_and_closes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.check_writable().unwrap();
    store.close();
    assert!(matches!(store.append(vec![event("late", "2026-11-22T10:00:00Z", "192.0.2.1", "a")]), Err(StoreError::Closed)));
}

fn entity(kind: EntityKind, value: &str, field: &str) -> Entity {
    Entity { kind, value: value.to_owned(), field: field.to_owned() }
}

/// A single-event detection of `rule` on `ip` (and `user`, if given) at `at`.
fn detection(rule: &str, event_id: &str, at: OffsetDateTime, ip: &str, user: Option<&str>) -> Detection {
    let mut entities = vec![entity(EntityKind::Ip, ip, "source.ip")];
    entities.extend(user.map(|u| entity(EntityKind::Account, u, "user.name")));
    Detection {
        rule: AlertRule {
            id: rule.to_owned(),
            version: "v1".into(),
            title: format!("Rule {rule}"),
            level: if rule.ends_with("-low") { "low".into() } else { "high".into() },
            tags: vec!["attack.t1110".into()],
        },
        entities,
        group_by: BTreeMap::new(),
        first_event_time: at,
        last_event_time: at,
        event_count: 1,
        evidence: vec![event_id.to_owned()],
        matched: vec![MatchedValue { field: "url.original".into(), value: "/login".into() }],
        detected_at: at + Duration::from_secs(1),
    }
}

const WINDOW: time::Duration = time::Duration::minutes(10);
const T0: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

fn minutes(n: i64) -> time::Duration {
    time::Duration::minutes(n)
}

fn list(store: &SqliteStore, request: AlertRequest) -> Vec<Alert> {
    store.list_alerts(&AlertRequest { limit: if request.limit == 0 { 100 } else { request.limit }, ..request }).unwrap().items
}

#[test]
fn repeats_within_the_window_update_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.record_detections(&[detection("brute", "e1", T0, "192.0.2.1", Some("ann"))], WINDOW).unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].created);
    assert_eq!(first[0].events_added, 1);
    let id = first[0].alert.id.clone();
    assert_eq!(first[0].alert.status, AlertStatus::Open);
    assert_eq!(first[0].alert.detected_at, T0 + Duration::from_secs(1));

    // Two more in one call (the entities in another order): one update, one transition.
    let more = [detection("brute", "e2", T0 + minutes(9), "192.0.2.1", Some("ann")), {
        let mut d = detection("brute", "e3", T0 + minutes(15), "192.0.2.1", Some("ann"));
        d.entities.reverse();
        d
    }];
    let changes = store.record_detections(&more, WINDOW).unwrap();
    assert_eq!(changes.len(), 1);
    let change = &changes[0];
    assert_eq!((change.created, change.events_added, change.alert.id.as_str()), (false, 2, id.as_str()));
    assert_eq!(change.alert.event_count, 3);
    assert_eq!(change.alert.evidence, ["e1", "e2", "e3"]);
    assert_eq!((change.alert.first_event_time, change.alert.last_event_time), (T0, T0 + minutes(15)));
    assert_eq!(change.alert.updated_at, T0 + minutes(15) + time::Duration::SECOND);
    assert_eq!(change.alert.detected_at, T0 + time::Duration::SECOND, "detection time stays the first one");

    // The stored alert is the one answered, with its transitions.
    let (stored, transitions) = store.get_alert(&id).unwrap().unwrap();
    assert_eq!(stored, change.alert);
    let actions: Vec<(TransitionAction, Option<u64>, &str)> =
        transitions.iter().map(|t| (t.action, t.events_added, t.actor.as_str())).collect();
    assert_eq!(actions, [(TransitionAction::Created, Some(1), "rampart"), (TransitionAction::Updated, Some(2), "rampart")]);

    // Past the window (last event + 10 minutes), or another entity: new alerts.
    let later = store.record_detections(&[detection("brute", "e4", T0 + minutes(26), "192.0.2.1", Some("ann"))], WINDOW).unwrap();
    assert!(later[0].created);
    assert_ne!(later[0].alert.id, id);
    let other = store.record_detections(&[detection("brute", "e5", T0 + minutes(1), "192.0.2.1", Some("bob"))], WINDOW).unwrap();
    assert!(other[0].created);
    // An old event, far before the alert, does not stretch it back.
    let early = store.record_detections(&[detection("brute", "e0", T0 - minutes(60), "192.0.2.1", Some("ann"))], WINDOW).unwrap();
    assert!(early[0].created);
    assert_eq!(list(&store, AlertRequest::default()).len(), 4);
}

#[test]
fn evidence_is_capped_but_counting_and_resend_detection_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let detections: Vec<Detection> =
        (0..150).map(|i| detection("scan", &format!("s{i}"), T0 + Duration::from_secs(i), "192.0.2.9", None)).collect();
    let changes = store.record_detections(&detections, WINDOW).unwrap();
    assert_eq!(changes.len(), 1);
    let alert = &changes[0].alert;
    assert_eq!((alert.event_count, alert.evidence.len(), changes[0].events_added), (150, MAX_EVIDENCE, 150));
    // Event 120 is past the kept evidence; sent again, it is still recognized.
    assert_eq!(store.record_detections(&detections[120..121], WINDOW).unwrap(), vec![]);
    assert_eq!(store.get_alert(&alert.id).unwrap().unwrap().0.event_count, 150);
}

#[test]
fn resent_events_and_retried_batches_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let batch = [detection("sqli", "e1", T0, "192.0.2.1", None), detection("sqli", "e2", T0 + minutes(1), "192.0.2.1", None)];
    let changes = store.record_detections(&batch, WINDOW).unwrap();
    assert_eq!((changes.len(), changes[0].events_added), (1, 2));
    assert_eq!(store.record_detections(&batch, WINDOW).unwrap(), vec![], "a retried batch");
    assert_eq!(store.record_detections(&batch[1..], WINDOW).unwrap(), vec![], "one resent event");
    let (alert, transitions) = store.get_alert(&changes[0].alert.id).unwrap().unwrap();
    assert_eq!((alert.event_count, transitions.len()), (2, 1));
    // Even once the alert is closed, a resend raises nothing new.
    store.transition_alert(&alert.id, AlertAction::Close(Classification::TruePositive), "ann", None, T0 + minutes(5)).unwrap();
    assert_eq!(store.record_detections(&batch, WINDOW).unwrap(), vec![]);
    assert_eq!(list(&store, AlertRequest::default()).len(), 1);
    // A detection with a known and a new event counts the new one only.
    let mut both = detection("sqli", "e3", T0 + minutes(6), "192.0.2.1", None);
    both.evidence = vec!["e3".into(), "e3".into()];
    let mut reopened = store.record_detections(&[both], WINDOW).unwrap();
    assert!(reopened[0].created, "a closed alert is not reopened by detection");
    let mut mixed = detection("sqli", "e4", T0 + minutes(7), "192.0.2.1", None);
    mixed.evidence = vec!["e3".into(), "e4".into()];
    mixed.event_count = 2;
    let changes = store.record_detections(&[mixed], WINDOW).unwrap();
    assert_eq!((changes[0].created, changes[0].events_added, changes[0].alert.event_count), (false, 1, 2));
    assert_eq!(changes[0].alert.id, reopened.remove(0).alert.id);
    assert_eq!(changes[0].alert.evidence, ["e3", "e4"]);
}

#[test]
fn closed_alerts_are_not_reopened_by_new_detections() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.record_detections(&[detection("brute", "e1", T0, "192.0.2.1", None)], WINDOW).unwrap().remove(0).alert;
    let acked = store.transition_alert(&first.id, AlertAction::Acknowledge, "ann", Some("looking"), T0 + minutes(1)).unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    // An acknowledged alert still takes repeats in.
    let update = store.record_detections(&[detection("brute", "e2", T0 + minutes(2), "192.0.2.1", None)], WINDOW).unwrap().remove(0);
    assert_eq!((update.created, update.alert.status), (false, AlertStatus::Acknowledged));
    store.transition_alert(&first.id, AlertAction::Close(Classification::FalsePositive), "ann", None, T0 + minutes(3)).unwrap();
    let next = store.record_detections(&[detection("brute", "e3", T0 + minutes(4), "192.0.2.1", None)], WINDOW).unwrap().remove(0);
    assert!(next.created);
    assert_ne!(next.alert.id, first.id);
    let (closed, transitions) = store.get_alert(&first.id).unwrap().unwrap();
    assert_eq!((closed.status, closed.classification, closed.event_count), (AlertStatus::Closed, Some(Classification::FalsePositive), 2));
    let actions: Vec<TransitionAction> = transitions.iter().map(|t| t.action).collect();
    assert_eq!(actions, [TransitionAction::Created, TransitionAction::Acknowledged, TransitionAction::Updated, TransitionAction::Closed]);
    assert_eq!(transitions[1].note.as_deref(), Some("looking"));
    assert_eq!((transitions[3].actor.as_str(), transitions[3].classification), ("ann", Some(Classification::FalsePositive)));
}

#[test]
fn transitions_follow_the_lifecycle_and_refuse_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store.record_detections(&[detection("r", "e1", T0, "192.0.2.1", None)], WINDOW).unwrap().remove(0).alert.id;
    let at = T0 + minutes(30);
    let invalid = |result: Result<Alert, StoreError>| match result {
        Err(StoreError::InvalidTransition { action, status, .. }) => (action, status),
        other => panic!("expected an invalid transition, got {other:?}"),
    };
    assert_eq!(invalid(store.transition_alert(&id, AlertAction::Reopen, "a", None, at)), ("reopen", "open"));
    store.transition_alert(&id, AlertAction::Acknowledge, "a", None, at).unwrap();
    assert_eq!(invalid(store.transition_alert(&id, AlertAction::Acknowledge, "a", None, at)), ("acknowledge", "acknowledged"));
    let closed = store.transition_alert(&id, AlertAction::Close(Classification::BenignPositive), "b", Some("pentest"), at).unwrap();
    assert_eq!((closed.status, closed.classification, closed.updated_at), (AlertStatus::Closed, Some(Classification::BenignPositive), at));
    assert_eq!(invalid(store.transition_alert(&id, AlertAction::Close(Classification::TruePositive), "a", None, at)), ("close", "closed"));
    assert_eq!(invalid(store.transition_alert(&id, AlertAction::Acknowledge, "a", None, at)), ("acknowledge", "closed"));
    let message = store.transition_alert(&id, AlertAction::Acknowledge, "a", None, at).unwrap_err().to_string();
    assert!(message.contains("only open alerts can be acknowledged"), "{message}");
    let reopened = store.transition_alert(&id, AlertAction::Reopen, "c", None, at).unwrap();
    assert_eq!((reopened.status, reopened.classification), (AlertStatus::Open, None));
    // Closing straight from open works too.
    store.transition_alert(&id, AlertAction::Close(Classification::TruePositive), "c", None, at).unwrap();
    assert!(
        matches!(store.transition_alert("nope", AlertAction::Reopen, "a", None, at), Err(StoreError::AlertNotFound(id)) if id == "nope")
    );
    assert_eq!(store.get_alert("nope").unwrap(), None);

    let (_, transitions) = store.get_alert(&id).unwrap().unwrap();
    let actions: Vec<(TransitionAction, AlertStatus, &str)> = transitions.iter().map(|t| (t.action, t.status, t.actor.as_str())).collect();
    assert_eq!(
        actions,
        [
            (TransitionAction::Created, AlertStatus::Open, "rampart"),
            (TransitionAction::Acknowledged, AlertStatus::Acknowledged, "a"),
            (TransitionAction::Closed, AlertStatus::Closed, "b"),
            (TransitionAction::Reopened, AlertStatus::Open, "c"),
            (TransitionAction::Closed, AlertStatus::Closed, "c"),
        ]
    );
    // Every transition, for metrics: paged in the order written, filtered by time.
    let page = store.alert_transitions(&TransitionRequest { limit: 2, ..Default::default() }).unwrap();
    assert_eq!(page.items.iter().map(|t| t.action).collect::<Vec<_>>(), [TransitionAction::Created, TransitionAction::Acknowledged]);
    let rest = store.alert_transitions(&TransitionRequest { limit: 10, cursor: page.next_cursor, ..Default::default() }).unwrap();
    assert_eq!((rest.items.len(), rest.next_cursor), (3, None));
    let late = store.alert_transitions(&TransitionRequest { from: Some(at), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(late.items.len(), 4);
    let bad = store.alert_transitions(&TransitionRequest { limit: 10, cursor: Some("x".into()), ..Default::default() });
    assert!(matches!(bad, Err(StoreError::BadCursor)));
}

#[test]
fn alerts_are_filtered_and_paged_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let detections: Vec<Detection> = (0..6)
        .map(|i| {
            let rule = if i % 2 == 0 { "even-low" } else { "odd" };
            let user = format!("user{i}");
            detection(rule, &format!("e{i}"), T0 + minutes(i * 60), &format!("192.0.2.{i}"), Some(&user))
        })
        .collect();
    let ids: Vec<String> = store.record_detections(&detections, WINDOW).unwrap().into_iter().map(|c| c.alert.id).collect();
    assert_eq!(ids.len(), 6);
    let listed = |request: AlertRequest| list(&store, request).iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let want = |indexes: &[usize]| indexes.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    assert_eq!(listed(AlertRequest::default()), want(&[5, 4, 3, 2, 1, 0]));
    assert_eq!(listed(AlertRequest { rule_id: Some("odd".into()), ..Default::default() }), want(&[5, 3, 1]));
    assert_eq!(listed(AlertRequest { level: Some("low".into()), ..Default::default() }), want(&[4, 2, 0]));
    assert_eq!(listed(AlertRequest { entity: Some((None, "user3".into())), ..Default::default() }), want(&[3]));
    assert_eq!(listed(AlertRequest { entity: Some((Some(EntityKind::Ip), "192.0.2.4".into())), ..Default::default() }), want(&[4]));
    assert_eq!(listed(AlertRequest { entity: Some((Some(EntityKind::Email), "192.0.2.4".into())), ..Default::default() }), want(&[]));
    let range = AlertRequest { from: Some(T0 + minutes(60)), to: Some(T0 + minutes(180)), ..Default::default() };
    assert_eq!(listed(range), want(&[3, 2, 1]));
    store.transition_alert(&ids[2], AlertAction::Acknowledge, "a", None, T0).unwrap();
    assert_eq!(listed(AlertRequest { status: Some(AlertStatus::Acknowledged), ..Default::default() }), want(&[2]));
    assert_eq!(
        listed(AlertRequest { status: Some(AlertStatus::Open), rule_id: Some("even-low".into()), ..Default::default() }),
        want(&[4, 0])
    );

    let mut request = AlertRequest { limit: 4, ..Default::default() };
    let page = store.list_alerts(&request).unwrap();
    assert_eq!(page.items.iter().map(|a| a.id.clone()).collect::<Vec<_>>(), want(&[5, 4, 3, 2]));
    request.cursor = page.next_cursor;
    let page = store.list_alerts(&request).unwrap();
    assert_eq!((page.items.iter().map(|a| a.id.clone()).collect::<Vec<_>>(), page.next_cursor), (want(&[1, 0]), None));
    request.cursor = Some("x".into());
    assert!(matches!(store.list_alerts(&request), Err(StoreError::BadCursor)));
}

#[test]
fn evidence_events_are_found_by_id_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let at = |s: i64| T0 + Duration::from_secs(s as u64);
    store
        .append(vec![
            event("ev1", "2026-11-22T10:00:00Z", "192.0.2.1", "a"),
            event("ev2", "2026-11-22T10:03:00Z", "192.0.2.1", "a"),
            event("other", "2026-11-22T10:01:00Z", "192.0.2.1", "a"),
        ])
        .unwrap();
    let mut correlated = detection("r", "ev2", at(0), "192.0.2.1", None);
    correlated.evidence = vec!["ev2".into(), "ev1".into(), "gone".into()];
    correlated.last_event_time = at(180);
    correlated.event_count = 3;
    let alert = store.record_detections(&[correlated], WINDOW).unwrap().remove(0).alert;
    let events = store.evidence_events(&alert.id).unwrap().unwrap();
    assert_eq!(events.iter().map(|e| e.id()).collect::<Vec<_>>(), ["ev1", "ev2"], "oldest first; deleted ones are left out");
    assert_eq!(store.evidence_events("nope").unwrap(), None);
}

#[test]
fn snapshots_are_replaced_whole_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        assert_eq!(store.load_snapshot("correlation").unwrap(), None);
        store.save_snapshot("correlation", b"first").unwrap();
        store.save_snapshot("correlation", &[0, 1, 2, 255]).unwrap();
        store.save_snapshot("other", b"x").unwrap();
        store.close();
    }
    let store = open(&dir);
    let (saved_at, body) = store.load_snapshot("correlation").unwrap().unwrap();
    assert_eq!(body, vec![0, 1, 2, 255]);
    assert!(saved_at > OffsetDateTime::now_utc() - time::Duration::minutes(5));
    assert_eq!(store.load_snapshot("other").unwrap().map(|(_, b)| b), Some(b"x".to_vec()));
}

#[test]
fn appends_name_the_positions_of_their_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.append(vec![event("a", "2026-11-22T10:00:00Z", "192.0.2.1", "ann")]).unwrap();
    let outcome = store
        .append(vec![
            event("b", "2026-11-22T10:00:01Z", "192.0.2.1", "ann"),
            event("a", "2026-11-22T10:00:00Z", "192.0.2.1", "ann"),
            event("b", "2026-11-22T10:00:01Z", "192.0.2.1", "ann"),
        ])
        .unwrap();
    assert_eq!((outcome.stored, outcome.duplicates, outcome.duplicate_positions.clone()), (1, 2, vec![1, 2]));
    assert!(outcome.is_new(0) && !outcome.is_new(1) && !outcome.is_new(2));
}

/// Issue 11, item 4: appends, alerts, transitions and token changes from many threads at once
/// all succeed (before, an append whose transaction had read before an alert committed on
/// another connection failed with "database is locked").
#[test]
fn issue_11_concurrent_writes_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(&dir));
    let (appenders, batches, per_batch, alerters, detections) = (8, 40, 25, 4, 60);
    let mut threads = Vec::new();
    for t in 0..appenders {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            for b in 0..batches {
                let events = (0..per_batch)
                    .map(|i| {
                        let at = format!("2026-11-22T10:{:02}:{:02}Z", b % 60, i);
                        event(&format!("e{t}-{b}-{i}"), &at, &format!("192.0.2.{}", t + 1), "alice")
                    })
                    .collect();
                let outcome = store.append(events).map_err(|e| format!("append: {e}"))?;
                assert_eq!(outcome.stored, per_batch);
            }
            Ok::<(), String>(())
        }));
    }
    for t in 0..alerters {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            for d in 0..detections {
                let at = T0 + minutes(d);
                let detection = detection(&format!("r{t}"), &format!("e{t}-{d}"), at, &format!("198.51.100.{d}"), None);
                let changes = store.record_detections(&[detection], WINDOW).map_err(|e| format!("record: {e}"))?;
                if d % 3 == 0 {
                    store
                        .transition_alert(&changes[0].alert.id, AlertAction::Acknowledge, "analyst", None, at)
                        .map_err(|e| format!("transition: {e}"))?;
                }
                store.save_snapshot(&format!("s{t}"), &[d as u8; 64]).map_err(|e| format!("snapshot: {e}"))?;
            }
            store
                .create_token(NewToken { name: format!("t{t}"), hash: [t as u8; 32], role: Role::Ingest, expires_at: None })
                .map_err(|e| format!("token: {e}"))?;
            Ok(())
        }));
    }
    let failures: Vec<String> = threads.into_iter().filter_map(|t| t.join().unwrap().err()).collect();
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(store.count_events().unwrap(), (appenders * batches * per_batch) as u64);
    let alerts = store.list_alerts(&AlertRequest { limit: 1000, ..AlertRequest::default() }).unwrap().items;
    assert_eq!(alerts.len(), alerters * detections as usize);
    assert_eq!(store.list_tokens().unwrap().len(), alerters);
}

fn all_ids(store: &SqliteStore, mut request: SearchRequest) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = store.search(&request).unwrap();
        ids.extend(page.items.iter().map(|e| e.id().to_owned()));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return ids,
        }
    }
}

/// Issue 11, item 6: when every key of a millisecond is taken (2^20 of them), further events
/// of that millisecond are still stored, batch after batch, found by searches of that
/// millisecond only, and recognized as duplicates when resent after a restart.
#[test]
fn issue_11_any_number_of_events_share_a_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    let at = datetime!(2026-11-22 10:00:00.123 UTC);
    let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
    let hot = |id: String| {
        Event::from_json(json!({"@timestamp": "2026-11-22T10:00:00.123Z", "event.id": id, "source.ip": "203.0.113.7"})).unwrap()
    };
    let store = open(&dir);
    store.append(vec![event("seed", "2026-11-22T10:00:00.123Z", "192.0.2.1", "a")]).unwrap();
    store.close();
    // Every other key of that millisecond taken, cheaply: rows outside the term index, which
    // the searches below never read.
    let conn = rusqlite::Connection::open(dir.path().join("rampart.db")).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;").unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < (1 << 20) - 1)
         INSERT OR IGNORE INTO events (key, id, ingested_at, body) SELECT (?1 << 20) | i, 'filler-' || i, 0, '{}' FROM n",
        [ms],
    )
    .unwrap();
    drop(conn);

    let store = open(&dir);
    let batch = |b: usize| (0..400).map(|i| hot(format!("hot-{b}-{i}"))).collect::<Vec<_>>();
    for b in 0..3 {
        let outcome = store.append(batch(b)).unwrap();
        assert_eq!((outcome.stored, outcome.duplicates), (400, 0));
    }
    let next_ms =
        Event::from_json(json!({"@timestamp": "2026-11-22T10:00:00.124Z", "event.id": "next", "source.ip": "203.0.113.7"})).unwrap();
    assert_eq!(store.append(vec![next_ms]).unwrap().stored, 1);
    assert_eq!(store.count_events().unwrap(), (1 << 20) + 1201);

    let range = |from: OffsetDateTime, to: OffsetDateTime| {
        let mut request = query("source.ip:203.0.113.7");
        (request.from, request.to, request.limit) = (Some(from), Some(to), 250);
        all_ids(&store, request)
    };
    let one_ms = time::Duration::milliseconds(1);
    let mut expected: Vec<String> = (0..3).flat_map(|b| (0..400).map(move |i| format!("hot-{b}-{i}"))).collect();
    expected.sort();
    let mut found = range(at, at);
    found.sort();
    assert_eq!(found, expected);
    assert_eq!(range(at + one_ms, at + one_ms * 10), ["next"]);
    assert_eq!(range(at - one_ms * 10, at - one_ms), Vec::<String>::new());
    assert_eq!(range(at - one_ms, at + one_ms).len(), 1201);

    store.close();
    let store = open(&dir);
    let outcome = store.append(batch(1)).unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (0, 400));
}

/// Issue 12: each aggregate is a small trait of its own, usable without the others; `Store`
/// is all of them together.
#[test]
fn issue_12_each_aggregate_is_a_trait_of_its_own() {
    fn events(store: &dyn EventStore) -> (usize, u64) {
        let outcome = store.append(vec![event("e1", "2026-11-22T10:00:00Z", "192.0.2.1", "ann")]).unwrap();
        (outcome.stored, store.count_events().unwrap())
    }
    fn alerts(store: &dyn AlertStore) -> (bool, AlertStatus) {
        let changes = store.record_detections(&[detection("r", "e1", T0, "192.0.2.1", None)], WINDOW).unwrap();
        let alert = store.transition_alert(&changes[0].alert.id, AlertAction::Acknowledge, "ann", None, T0).unwrap();
        (changes[0].created, alert.status)
    }
    fn tokens(store: &dyn TokenStore) -> Vec<String> {
        store.create_token(NewToken { name: "ci".into(), hash: [3; 32], role: Role::Analyst, expires_at: None }).unwrap();
        store.list_tokens().unwrap().into_iter().map(|t| t.name).collect()
    }
    fn snapshots(store: &dyn SnapshotStore) -> Option<Vec<u8>> {
        store.save_snapshot("correlation", b"state").unwrap();
        store.load_snapshot("correlation").unwrap().map(|(_, body)| body)
    }
    fn whole(store: &dyn Store) -> Result<(), StoreError> {
        store.check_writable()
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(events(&store), (1, 1));
    assert_eq!(alerts(&store), (true, AlertStatus::Acknowledged));
    assert_eq!(tokens(&store), ["ci"]);
    assert_eq!(snapshots(&store), Some(b"state".to_vec()));
    assert!(matches!(whole(&store), Ok(())));
}
