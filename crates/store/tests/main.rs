//! Integration tests of the SQLite store: appends, de-duplication, search, retention, tokens.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::time::Duration;

use rampart_model::{Event, Query, Role};
use rampart_store::{NewToken, SearchRequest, SqliteOptions, SqliteStore, Store, StoreError};
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

fn alert(id: &str, rule: &str) -> rampart_model::Alert {
    rampart_model::Alert {
        id: id.to_owned(),
        created_at: time::macros::datetime!(2026-11-22 10:00 UTC),
        rule: rampart_model::AlertRule { id: rule.to_owned(), title: "T".to_owned(), level: "high".to_owned(), tags: vec![] },
        event_id: format!("e-{id}"),
        event_time: time::macros::datetime!(2026-11-22 09:59 UTC),
        source_ip: Some("192.0.2.1".to_owned()),
        user_name: None,
        matched: vec![rampart_model::MatchedValue { field: "url.original".to_owned(), value: "/x".to_owned() }],
    }
}

#[test]
fn alerts_are_stored_once_and_paged_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let alerts: Vec<_> = (0..5).map(|i| alert(&format!("a{i}"), if i % 2 == 0 { "r-even" } else { "r-odd" })).collect();
    assert_eq!(store.append_alerts(&alerts).unwrap(), vec![0, 1, 2, 3, 4]);
    let again = [alerts[1].clone(), alert("a9", "r-odd")];
    assert_eq!(store.append_alerts(&again).unwrap(), vec![1], "the same alert twice is stored once");
    let page = store.list_alerts(&rampart_store::AlertRequest { limit: 2, ..Default::default() }).unwrap();
    assert_eq!(page.items.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a9", "a4"]);
    assert_eq!(page.items[1], alerts[4]);
    let next =
        store.list_alerts(&rampart_store::AlertRequest { limit: 10, cursor: page.next_cursor.clone(), ..Default::default() }).unwrap();
    assert_eq!(next.items.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a3", "a2", "a1", "a0"]);
    assert_eq!(next.next_cursor, None);
    let odd = store.list_alerts(&rampart_store::AlertRequest { limit: 10, rule_id: Some("r-odd".into()), ..Default::default() }).unwrap();
    assert_eq!(odd.items.len(), 3);
    let bad = store.list_alerts(&rampart_store::AlertRequest { limit: 10, cursor: Some("x".into()), ..Default::default() });
    assert!(matches!(bad, Err(rampart_store::StoreError::BadCursor)));
}
