//! Alerts over HTTP: every route with every role, the lifecycle round trip, filters, 4xx
//! answers, suppression, metrics, and the masked log line.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use rampart_model::Role;
use serde_json::{Value, json};
use time::OffsetDateTime;

use rampart_store::{AlertStore, SnapshotStore};

use super::{Harness, time_local};

mod concurrent;

const SQLI_RULE: &str = "test-sqli";

/// A harness whose rules are these tests' own (the built-in pack changes on its own).
fn harness() -> Harness {
    let rules = [
        rampart_detect::RuleFile {
            name: "sqli.yml".into(),
            text: "title: Union select in the URL\nid: test-sqli\nlogsource: {category: webserver}\ntags: [attack.t1190]\n\
                   detection:\n  selection:\n    cs-uri-query|contains: 'union+select'\n  condition: selection\nlevel: high\n"
                .into(),
        },
        rampart_detect::RuleFile {
            name: "dotenv.yml".into(),
            text: "title: Dotenv probe\nid: test-dotenv\nlogsource: {category: webserver}\n\
                   detection:\n  selection:\n    cs-uri-stem|endswith: '/.env'\n  condition: selection\nlevel: medium\n"
                .into(),
        },
    ];
    let compiled = rampart_detect::compile_rules(&rules, &rampart_detect::FieldMapping::builtin(), &Default::default());
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let mut h = super::harness();
    h.state = h.state.clone().with_detector(Arc::new(rampart_detect::Detector::from_compiled(compiled)));
    h
}

/// A `combined` line from `ip` asking for `path`, `seconds_ago` before now.
fn line_at(ip: &str, path: &str, seconds_ago: i64) -> String {
    let at = OffsetDateTime::now_utc() - time::Duration::seconds(seconds_ago);
    format!(r#"{ip} - - [{}] "GET {path} HTTP/1.1" 200 512 "-" "Mozilla/5.0""#, time_local(at))
}

fn sqli(ip: &str, n: usize, seconds_ago: i64) -> String {
    line_at(ip, &format!("/search?q=1%27+union+select+password+from+users--&n={n}"), seconds_ago)
}

impl Harness {
    async fn call(&self, token: &str, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        self.send(request.body(Body::from(body.to_owned())).unwrap()).await
    }

    async fn ingest_lines(&self, token: &str, lines: &[String]) -> Value {
        let (status, answer) = self.post_logs(token, "combined", &[], lines.join("\n")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        answer
    }

    async fn alert_ids(&self, token: &str, query: &str) -> Vec<String> {
        let (status, page) = self.get(token, &format!("/v1/alerts?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
    }
}

#[tokio::test]
async fn alert_routes_with_every_role() {
    let h = harness();
    let ingest = h.token("sender", Role::Ingest);
    h.ingest_lines(&ingest, &[sqli("203.0.113.7", 1, 0)]).await;
    let admin = h.token("boss", Role::Admin);
    let id = h.alert_ids(&admin, "").await.remove(0);
    let tokens: Vec<(Role, String)> = Role::ALL.iter().map(|role| (*role, h.token(&format!("t-{role}"), *role))).collect();
    let readers = [Role::Admin, Role::Analyst, Role::Responder, Role::Auditor];
    let triagers = [Role::Admin, Role::Analyst, Role::Responder];
    for (role, token) in &tokens {
        let (status, body) = h.call(token, Method::GET, "/v1/alerts", "").await;
        assert_eq!(status, if readers.contains(role) { StatusCode::OK } else { StatusCode::FORBIDDEN }, "list as {role}: {body}");
        let (status, body) = h.call(token, Method::GET, &format!("/v1/alerts/{id}"), "").await;
        assert_eq!(status, if readers.contains(role) { StatusCode::OK } else { StatusCode::FORBIDDEN }, "show as {role}: {body}");
        // An unknown id: whoever may change alerts learns it does not exist, the others are refused first.
        for verb in ["acknowledge", "close", "reopen"] {
            let body = if verb == "close" { r#"{"classification":"true_positive"}"# } else { "" };
            let (status, answer) = h.call(token, Method::POST, &format!("/v1/alerts/no-such-alert/{verb}"), body).await;
            let want = if triagers.contains(role) { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            assert_eq!(status, want, "{verb} as {role}: {answer}");
            let code = if triagers.contains(role) { "alert_not_found" } else { "forbidden" };
            assert_eq!(answer["error"]["code"], json!(code));
        }
    }
    // Without a token: 401 everywhere.
    for (method, path) in [(Method::GET, format!("/v1/alerts/{id}")), (Method::POST, format!("/v1/alerts/{id}/acknowledge"))] {
        let (status, _) = h.send(Request::builder().method(method).uri(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = h.call(&admin, Method::GET, "/v1/alerts/no-such-alert", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.call(&admin, Method::DELETE, &format!("/v1/alerts/{id}"), "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn repeats_update_one_alert_and_transitions_round_trip() {
    let h = harness();
    let ingest = h.token("sender", Role::Ingest);
    let analyst = h.token("ann", Role::Analyst);
    let auditor = h.token("audit", Role::Auditor);

    let answer = h.ingest_lines(&ingest, &[sqli("203.0.113.7", 1, 5), sqli("203.0.113.7", 2, 4)]).await;
    assert_eq!((answer["alerts"].clone(), answer["alerts_updated"].clone()), (json!(1), json!(0)), "{answer}");
    assert_eq!(answer["alerts_by_rule"][0]["rule"], json!(SQLI_RULE));
    let answer = h.ingest_lines(&ingest, &[sqli("203.0.113.7", 3, 3)]).await;
    assert_eq!((answer["alerts"].clone(), answer["alerts_updated"].clone()), (json!(0), json!(1)), "{answer}");
    let ids = h.alert_ids(&analyst, "").await;
    assert_eq!(ids.len(), 1, "repeats of one rule on one address are one alert");
    let id = &ids[0];

    let (status, detail) = h.get(&analyst, &format!("/v1/alerts/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["alert"]["event_count"], json!(3));
    assert_eq!(detail["alert"]["rule"]["id"], json!(SQLI_RULE));
    assert_eq!(detail["alert"]["rule"]["version"].as_str().map(str::is_empty), Some(false));
    let actions: Vec<&str> = detail["transitions"].as_array().unwrap().iter().map(|t| t["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "updated"]);
    assert_eq!(detail["transitions"][0]["events_added"], json!(2));
    let evidence = detail["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 3, "{detail}");
    assert_eq!(
        evidence.iter().map(|e| e["event"]["id"].clone()).collect::<Vec<_>>(),
        detail["alert"]["evidence"].as_array().unwrap().clone()
    );
    assert!(evidence.iter().all(|e| e["source"]["ip"] == json!("203.0.113.7")));

    // Acknowledge, then refusals, then close, reopen.
    let path = |verb: &str| format!("/v1/alerts/{id}/{verb}");
    let (status, changed) = h.call(&analyst, Method::POST, &path("acknowledge"), r#"{"note":"on it"}"#).await;
    assert_eq!((status, changed["alert"]["status"].clone()), (StatusCode::OK, json!("acknowledged")), "{changed}");
    let (status, refused) = h.call(&analyst, Method::POST, &path("acknowledge"), "").await;
    assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::CONFLICT, json!("invalid_transition")));
    assert!(refused["error"]["message"].as_str().unwrap().contains("only open alerts can be acknowledged"), "{refused}");
    let (status, refused) = h.call(&analyst, Method::POST, &path("reopen"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    for body in ["", "{}", r#"{"classification":"probably"}"#, r#"{"classification":"true_positive","colour":"red"}"#, "{not json"] {
        let (status, refused) = h.call(&analyst, Method::POST, &path("close"), body).await;
        assert_eq!((status, refused["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_body")), "{body}: {refused}");
    }
    let long_note = format!(r#"{{"note":"{}"}}"#, "n".repeat(5000));
    assert_eq!(h.call(&analyst, Method::POST, &path("reopen"), &long_note).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(h.call(&auditor, Method::POST, &path("close"), r#"{"classification":"true_positive"}"#).await.0, StatusCode::FORBIDDEN);
    let (status, closed) = h.call(&analyst, Method::POST, &path("close"), r#"{"classification":"false_positive","note":"a test"}"#).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!((closed["alert"]["status"].clone(), closed["alert"]["classification"].clone()), (json!("closed"), json!("false_positive")));

    // A closed alert is not reopened by detection: the next repeat is a new alert.
    let answer = h.ingest_lines(&ingest, &[sqli("203.0.113.7", 4, 2)]).await;
    assert_eq!((answer["alerts"].clone(), answer["alerts_updated"].clone()), (json!(1), json!(0)), "{answer}");
    assert_eq!(h.alert_ids(&analyst, "status=closed").await, std::slice::from_ref(id));

    let (status, reopened) = h.call(&analyst, Method::POST, &path("reopen"), r#"{"note":"wrong call"}"#).await;
    assert_eq!((status, reopened["alert"]["status"].clone()), (StatusCode::OK, json!("open")));
    assert_eq!(reopened["alert"].get("classification"), None);
    let (_, detail) = h.get(&analyst, &format!("/v1/alerts/{id}")).await;
    let trail: Vec<(&str, &str, &str)> = detail["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["action"].as_str().unwrap(), t["actor"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            ("created", "rampart", "open"),
            ("updated", "rampart", "open"),
            ("acknowledged", "ann", "acknowledged"),
            ("closed", "ann", "closed"),
            ("reopened", "ann", "open"),
        ]
    );
    assert_eq!(detail["transitions"][2]["note"], json!("on it"));
    assert_eq!(detail["transitions"][3]["classification"], json!("false_positive"));
}

#[tokio::test]
async fn alerts_are_filtered_and_bad_filters_explained() {
    let h = harness();
    let ingest = h.token("sender", Role::Ingest);
    let reader = h.token("reader", Role::Auditor);
    h.ingest_lines(&ingest, &[sqli("203.0.113.7", 1, 3), line_at("203.0.113.8", "/.env", 2), sqli("2001:db8::5", 2, 1)]).await;
    let all = h.alert_ids(&reader, "").await;
    assert_eq!(all.len(), 3);
    assert_eq!(h.alert_ids(&reader, &format!("rule={SQLI_RULE}")).await, [all[0].clone(), all[2].clone()]);
    assert_eq!(h.alert_ids(&reader, "level=high").await.len(), 2);
    assert_eq!(h.alert_ids(&reader, "entity=ip:203.0.113.8").await, [all[1].clone()]);
    assert_eq!(h.alert_ids(&reader, "entity=203.0.113.8").await, [all[1].clone()]);
    assert_eq!(h.alert_ids(&reader, "entity=2001:db8::5").await, [all[0].clone()]);
    assert_eq!(h.alert_ids(&reader, "entity=account:203.0.113.8").await, Vec::<String>::new());
    assert_eq!(h.alert_ids(&reader, "status=open").await.len(), 3);
    assert_eq!(h.alert_ids(&reader, "status=closed").await.len(), 0);
    let later = rampart_model::format_timestamp(OffsetDateTime::now_utc() + time::Duration::hours(1));
    assert_eq!(h.alert_ids(&reader, &format!("from={later}")).await.len(), 0);
    assert_eq!(h.alert_ids(&reader, &format!("to={later}")).await.len(), 3);
    let page = h.alert_ids(&reader, "limit=2").await;
    assert_eq!(page, all[..2]);
    for bad in [
        "level=severe",
        "status=done",
        "entity=",
        "entity=ip:",
        "from=yesterday",
        "to=2026-13-01",
        "limit=0",
        "limit=x",
        "cursor=abc",
        "colour=red",
    ] {
        let (status, body) = h.get(&reader, &format!("/v1/alerts?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_suppression_window_is_configurable() {
    let mut h = harness();
    h.state = h.state.clone().with_suppression(time::Duration::ZERO);
    let ingest = h.token("sender", Role::Ingest);
    let answer = h.ingest_lines(&ingest, &[sqli("203.0.113.7", 1, 20), sqli("203.0.113.7", 2, 10)]).await;
    assert_eq!(answer["alerts"], json!(2), "with no window, repeats at other times are alerts of their own: {answer}");
    assert_eq!(rampart_server::DEFAULT_SUPPRESSION, time::Duration::minutes(10));
}

#[tokio::test]
async fn metrics_count_alerts_updates_and_detection_lag() {
    let h = harness();
    let ingest = h.token("sender", Role::Ingest);
    h.ingest_lines(&ingest, &[sqli("203.0.113.7", 1, 2)]).await;
    h.ingest_lines(&ingest, &[sqli("203.0.113.7", 2, 1)]).await;
    let (status, text) = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    for line in [
        format!("rampart_alerts_total{{rule=\"{SQLI_RULE}\",level=\"high\"}} 1"),
        format!("rampart_alert_updates_total{{rule=\"{SQLI_RULE}\"}} 1"),
        "rampart_detection_lag_seconds_count 2".to_owned(),
        "rampart_detection_lag_seconds_bucket{le=\"3600.0\"} 2".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}

/// What a correlation over one e-mail address detects.
fn correlated() -> rampart_model::Detection {
    let at = OffsetDateTime::now_utc();
    rampart_model::Detection {
        rule: rampart_model::AlertRule {
            id: "many-resets".into(),
            version: "v1".into(),
            title: "Many password resets for one address".into(),
            level: "high".into(),
            tags: vec!["attack.t1110".into()],
        },
        entities: vec![rampart_model::Entity {
            kind: rampart_model::EntityKind::Email,
            value: "bob.jones@shop.example.org".into(),
            field: "user.email".into(),
        }],
        group_by: [("user.email".to_owned(), "bob.jones@shop.example.org".to_owned())].into(),
        first_event_time: at - time::Duration::minutes(5),
        last_event_time: at,
        event_count: 12,
        evidence: vec!["r1".into(), "r2".into()],
        matched: vec![rampart_model::MatchedValue { field: "event_count".into(), value: "12".into() }],
        detected_at: at,
    }
}

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn each_alert_is_one_json_log_line_without_personal_data() {
    let rule = rampart_detect::RuleFile {
        name: "takeover.yml".into(),
        text: "title: Login failure of a shop account\nid: shop-login-failure\nlogsource: {product: rampart, category: authentication}\n\
               detection:\n  selection:\n    event.action: login\n    event.outcome: failure\n    user.email|endswith: '@example.com'\n  \
               condition: selection\nlevel: medium\n"
            .into(),
    };
    let compiled = rampart_detect::compile_rules(&[rule], &rampart_detect::FieldMapping::builtin(), &Default::default());
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let h = super::harness();
    let state = h.state.clone().with_detector(Arc::new(rampart_detect::Detector::from_compiled(compiled)));
    let event = |id: &str| {
        rampart_model::Event::from_json(json!({
            "event.id": id, "event.action": "login", "event.category": "authentication", "event.outcome": "failure",
            "user.name": "alice.smith", "user.email": "alice.smith@example.com", "source.ip": "198.51.100.4",
            "url.original": "/login?next=/account&contact=alice.smith@example.com"
        }))
        .unwrap()
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).with_max_level(tracing::Level::DEBUG).finish();
    let stored = tracing::subscriber::with_default(subscriber, || {
        let first = rampart_server::store_and_detect(&state, vec![event("l1")]).unwrap();
        let second = rampart_server::store_and_detect(&state, vec![event("l2")]).unwrap();
        // A correlation's detection, made outside a batch (a window closed by the clock).
        let third = rampart_server::store_detections(&state, &[correlated()]).unwrap();
        (first, second, third)
    });
    assert_eq!((stored.0.alerts.len(), stored.1.alerts_updated, stored.2.alerts.len()), (1, 1, 1));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> =
        log.lines().filter_map(|line| line.split_once("rampart::alert: ")).map(|(_, json)| serde_json::from_str(json).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{log}");
    // A new alert is INFO, an update of an open one DEBUG (issue 11: updates must not bury the rest).
    let levels: Vec<&str> =
        log.lines().filter(|l| l.contains("rampart::alert: ")).map(|l| l.split_whitespace().nth(1).unwrap_or_default()).collect();
    assert_eq!(levels, ["INFO", "DEBUG", "INFO"], "{log}");
    let group = &lines[2]["alert"];
    assert_eq!(group["group_by"], json!({"user.email": "b***@***.org"}));
    assert_eq!(group["entities"], json!([{"kind": "email", "value": "b***@***.org", "field": "user.email"}]));
    assert_eq!((lines[0]["change"].clone(), lines[1]["change"].clone()), (json!("created"), json!("updated")));
    assert_eq!(lines[1]["events_added"], json!(1));
    let alert = &lines[1]["alert"];
    assert_eq!(alert["rule"]["id"], json!("shop-login-failure"));
    assert_eq!(alert["event_count"], json!(2));
    let entities: Vec<(&str, &str)> =
        alert["entities"].as_array().unwrap().iter().map(|e| (e["kind"].as_str().unwrap(), e["value"].as_str().unwrap())).collect();
    assert_eq!(entities, [("ip", "198.51.100.4"), ("account", "a***"), ("email", "a***@***.com")]);
    assert!(alert["matched"].as_array().unwrap().iter().any(|m| m["value"] == json!("a***@***.com")), "{alert}");
    for secret in ["alice.smith", "alice", "smith", "example.com", "bob.jones", "shop.example.org"] {
        assert!(!log.contains(secret), "`{secret}` reached the log:\n{log}");
    }
    // The API, for those allowed to read it, shows the values as they are.
    let entity = Some((Some(rampart_model::EntityKind::Email), "alice.smith@example.com".to_owned()));
    let stored = h.store.list_alerts(&rampart_store::AlertRequest { entity, limit: 10, ..Default::default() }).unwrap().items;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rule.id, "shop-login-failure");
}

/// Five failed logins from one address within 10 minutes: a correlation over shop events.
fn brute_force_detector() -> Arc<rampart_detect::Detector> {
    let rules = [rampart_detect::RuleFile {
        name: "brute.yml".into(),
        text: "title: Failed login\nname: failed_login\nid: test-failed-login\nlogsource: {product: rampart, category: authentication}\n\
               detection:\n  selection:\n    event.outcome: failure\n  condition: selection\nlevel: low\n---\n\
               title: Many failed logins from one address\nid: test-many-failed\n\
               correlation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [source.ip]\n  timespan: 10m\n  condition: {gte: 5}\nlevel: high\n"
            .into(),
    }];
    let compiled = rampart_detect::compile_rules(&rules, &rampart_detect::FieldMapping::builtin(), &Default::default());
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    Arc::new(rampart_detect::Detector::from_compiled(compiled))
}

fn failed_logins(from: usize, to: usize) -> Vec<rampart_model::Event> {
    // One time for every call: a resend is the same event only with the same `@timestamp`, and a
    // slow machine may cross a second between two calls.
    static NOW: std::sync::OnceLock<OffsetDateTime> = std::sync::OnceLock::new();
    let now = *NOW.get_or_init(OffsetDateTime::now_utc);
    (from..to)
        .map(|i| {
            let at = rampart_model::format_timestamp(now - time::Duration::seconds(60 - i as i64));
            rampart_model::Event::from_json(json!({
                "@timestamp": at, "event": {"id": format!("login-{i}"), "action": "login", "category": "authentication", "outcome": "failure"},
                "source.ip": "198.51.100.9", "user.name": format!("user{i}"),
            }))
            .unwrap()
        })
        .collect()
}

#[test]
fn a_restart_does_not_forget_an_attack_in_progress() {
    let h = super::harness();
    let before = h.state.clone().with_detector(brute_force_detector());
    let stored = rampart_server::store_and_detect(&before, failed_logins(0, 3)).unwrap();
    assert!(stored.alerts.is_empty());
    assert!(rampart_server::save_correlation_state(&before).unwrap() > 0);

    // A new process: fresh rules, the windows read back from the store.
    let after = h.state.clone().with_detector(brute_force_detector());
    assert_eq!(rampart_server::restore_correlation_state(&after).unwrap(), 1);
    let stored = rampart_server::store_and_detect(&after, failed_logins(3, 5)).unwrap();
    assert_eq!(stored.alerts.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(), ["test-many-failed"]);
    let alert = &h.store.list_alerts(&rampart_store::AlertRequest { limit: 10, ..Default::default() }).unwrap().items[0];
    assert_eq!(alert.event_count, 5);
    assert_eq!(alert.group_by.get("source.ip").map(String::as_str), Some("198.51.100.9"));

    // Without the snapshot the same two events are not enough.
    let forgetful = h.state.clone().with_detector(brute_force_detector());
    assert!(rampart_server::store_and_detect(&forgetful, failed_logins(5, 7)).unwrap().alerts.is_empty());
}

#[test]
fn a_damaged_snapshot_is_skipped_not_fatal() {
    let h = super::harness();
    h.store.save_snapshot(rampart_server::CORRELATION_SNAPSHOT, b"not a snapshot").unwrap();
    let state = h.state.clone().with_detector(brute_force_detector());
    assert_eq!(rampart_server::restore_correlation_state(&state).unwrap(), 0);
    assert!(rampart_server::store_and_detect(&state, failed_logins(0, 5)).unwrap().alerts.len() == 1);
}

#[test]
fn upkeep_refreshes_the_correlation_gauges() {
    let h = super::harness();
    let state = h.state.clone().with_detector(brute_force_detector());
    rampart_server::store_and_detect(&state, failed_logins(0, 2)).unwrap();
    rampart_server::correlation_upkeep(&state, OffsetDateTime::now_utc()).unwrap();
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    state.metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains("rampart_correlation_state{measure=\"keys\"} 1"), "{text}");
}

#[test]
fn a_resent_batch_does_not_count_twice_in_correlation_windows() {
    let h = super::harness();
    let state = h.state.clone().with_detector(brute_force_detector());
    assert!(rampart_server::store_and_detect(&state, failed_logins(0, 3)).unwrap().alerts.is_empty());
    let resent = rampart_server::store_and_detect(&state, failed_logins(0, 3)).unwrap();
    assert_eq!((resent.outcome.duplicates, resent.alerts.len()), (3, 0), "six sends of three events are three events");
    let stored = rampart_server::store_and_detect(&state, failed_logins(2, 5)).unwrap();
    assert_eq!((stored.outcome.stored, stored.alerts.len()), (2, 1));
    let alert = &h.store.list_alerts(&rampart_store::AlertRequest { limit: 10, ..Default::default() }).unwrap().items[0];
    assert_eq!(alert.event_count, 5);
}
