//! The API driven through `app(state)` with `oneshot`: every endpoint with every role, the
//! ingestion paths with good and bad bodies, search, alerts, errors and operations endpoints.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod alerts;
mod issue11;
mod issue12;

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use prometheus_client::registry::Registry;
use rampart_ingest::{CardProtector, ClientIpResolver, ClientIpSource, IngestConfig, Ingestor, LogFormats};
use rampart_model::Role;
use rampart_server::{AppState, Limits, app, auth};
use rampart_store::{
    AppendOutcome, EventStore, NewToken, SearchPage, SearchRequest, SqliteOptions, SqliteStore, Store, StoreError, TokenInfo, TokenStore,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    state: AppState,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("rampart.db"), SqliteOptions::default()).unwrap());
    let state = state_with(store.clone());
    Harness { _dir: dir, store, state }
}

fn state_with(store: Arc<dyn Store>) -> AppState {
    let trusted =
        ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()], vec![ClientIpSource::XForwardedFor, ClientIpSource::Forwarded]);
    let ingestor = Ingestor::new(IngestConfig::default(), CardProtector::new(b"test key")).with_client_ip(trusted);
    let formats =
        LogFormats::new([("edge".to_owned(), r#"$remote_addr [$time_local] "$request" $status "$http_x_forwarded_for""#.to_owned())])
            .unwrap();
    let limits = Limits { csp_requests_per_minute: 5, ..Limits::default() };
    AppState::new(store, ingestor, formats, limits, Registry::default())
}

impl Harness {
    fn token(&self, name: &str, role: Role) -> String {
        let (token, hash) = auth::generate_token();
        self.store.create_token(NewToken { name: name.into(), hash, role, expires_at: None }).unwrap();
        token
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        send(&self.state, request).await
    }

    async fn post_events(&self, token: &str, content_type: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        self.send(
            Request::post("/v1/events")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    async fn search(&self, token: &str, query: &str) -> (StatusCode, Value) {
        self.send(
            Request::get(format!("/v1/events?{query}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

const NDJSON: &str = "application/x-ndjson";

#[tokio::test]
async fn every_endpoint_with_every_role_and_bad_tokens() {
    let h = harness();
    let mut tokens: Vec<(String, Option<String>)> =
        Role::ALL.iter().map(|role| (role.to_string(), Some(h.token(role.as_str(), *role)))).collect();
    let (expired, hash) = auth::generate_token();
    h.store
        .create_token(NewToken {
            name: "old".into(),
            hash,
            role: Role::Admin,
            expires_at: Some(OffsetDateTime::now_utc() - time::Duration::days(1)),
        })
        .unwrap();
    let revoked = h.token("gone", Role::Admin);
    h.store.revoke_token("gone").unwrap();
    tokens.push(("expired".into(), Some(expired)));
    tokens.push(("revoked".into(), Some(revoked)));
    tokens.push(("unknown".into(), Some(auth::generate_token().0)));
    tokens.push(("garbage".into(), Some("not-a-token".into())));
    tokens.push(("none".into(), None));

    // (method, path, body, roles that may)
    let endpoints: [(Method, &str, &str, &[&str]); 5] = [
        (Method::POST, "/v1/events", "{\"event.action\":\"login\"}", &["admin", "ingest"]),
        (Method::GET, "/v1/events", "", &["admin", "analyst", "responder", "auditor"]),
        (Method::GET, "/v1/alerts", "", &["admin", "analyst", "responder", "auditor"]),
        (Method::GET, "/v1/rules", "", &["admin", "analyst", "responder", "auditor"]),
        (Method::GET, "/v1/tokens", "", &["admin"]),
    ];
    for (method, path, body, allowed) in endpoints {
        for (who, token) in &tokens {
            let mut request = Request::builder().method(method.clone()).uri(path).header(header::CONTENT_TYPE, "application/json");
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let (status, body) = h.send(request.body(Body::from(body)).unwrap()).await;
            let want = if allowed.contains(&who.as_str()) {
                if method == Method::POST { StatusCode::ACCEPTED } else { StatusCode::OK }
            } else if Role::ALL.iter().any(|r| r.as_str() == who) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, want, "{method} {path} as {who}: {body}");
            if status.is_client_error() {
                let code = body["error"]["code"].as_str().unwrap();
                let want_code = match who.as_str() {
                    "expired" => "token_expired",
                    "revoked" => "token_revoked",
                    _ if status == StatusCode::FORBIDDEN => "forbidden",
                    _ => "unauthorized",
                };
                assert_eq!(code, want_code, "{method} {path} as {who}");
                assert_eq!(body["error"]["request_id"].as_str().unwrap().len(), 32);
            }
        }
    }
    // Operations endpoints need no token.
    for path in ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"] {
        let (status, _) = h.send(Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn ndjson_json_and_gzip_bodies_are_accepted_after_commit() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let (status, body) = h.post_events(&token, NDJSON, "{\"event.id\":\"n1\"}\n{\"event.id\":\"n2\"}\n").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 2, "rejected": 0, "duplicates": 0, "error_counts": {}, "errors": [], "alerts": 0, "alerts_by_rule": [], "alerts_updated": 0})
        )
    );
    let (status, body) =
        h.post_events(&token, "application/json", "[{\"event.id\":\"j1\"},{\"event.id\":\"j2\"},{\"event.id\":\"j3\"}]").await;
    assert_eq!((status, body["accepted"].clone()), (StatusCode::ACCEPTED, json!(3)));
    let request = Request::post("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, NDJSON)
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gzip(b"{\"event.id\":\"g1\"}\n{\"event.id\":\"g2\"}")))
        .unwrap();
    let (status, body) = h.send(request).await;
    assert_eq!((status, body["accepted"].clone()), (StatusCode::ACCEPTED, json!(2)));
    // 202 means durable: the events are in the store when the answer arrives.
    assert_eq!(h.store.count_events().unwrap(), 7);
}

#[tokio::test]
async fn retries_count_as_duplicates_and_still_succeed() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let body = "{\"event.id\":\"r1\"}\n{\"event.id\":\"r2\"}\n";
    assert_eq!(h.post_events(&token, NDJSON, body).await.1["accepted"], json!(2));
    let (status, answer) = h.post_events(&token, NDJSON, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 0, "rejected": 0, "duplicates": 2, "error_counts": {}, "errors": [], "alerts": 0, "alerts_by_rule": [], "alerts_updated": 0})
        )
    );
    assert_eq!(h.store.count_events().unwrap(), 2);
}

#[tokio::test]
async fn bad_records_are_listed_and_good_ones_kept() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let long_line = format!("{{\"x\":\"{}\"}}", "a".repeat(1 << 20));
    let body = format!(
        "{{\"event.id\":\"ok\"}}\n{{\"source.ip\":\"1.2.3.999\"}}\n{long_line}\n{{\"@timestamp\":\"1900-01-01T00:00:00Z\"}}\n{{\"@timestamp\":\"2999-01-01T00:00:00Z\"}}\n{{\"http.response.status_code\":\"teapot\"}}\n"
    );
    let (status, answer) = h.post_events(&token, NDJSON, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!((answer["accepted"].clone(), answer["rejected"].clone()), (json!(1), json!(5)));
    let codes: Vec<(u64, &str)> =
        answer["errors"].as_array().unwrap().iter().map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap())).collect();
    assert_eq!(codes, [(2, "invalid_field"), (3, "line_too_long"), (4, "invalid_field"), (5, "invalid_field"), (6, "invalid_field")]);

    let mut invalid_utf8 = b"{\"a\":\"".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe]);
    invalid_utf8.extend_from_slice(b"\"}\n");
    let (status, answer) = h.post_events(&token, NDJSON, invalid_utf8).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "nothing valid: 400 with the same body");
    assert_eq!(answer["errors"][0]["code"], json!("invalid_json"));
    assert_eq!(answer["accepted"], json!(0));

    let (status, answer) = h.post_events(&token, "application/json", "{not json").await;
    assert_eq!((status, answer["errors"][0]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_json")));
    let (status, answer) = h.post_events(&token, "application/json", "[1, \"x\"]").await;
    assert_eq!((status, answer["rejected"].clone()), (StatusCode::BAD_REQUEST, json!(2)));
    let (status, _) = h.post_events(&token, "application/json", "42").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.post_events(&token, NDJSON, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = h.post_events(&token, "text/plain", "hello").await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!("unsupported_media_type")));

    // Nothing of the bad requests touched what was stored before.
    assert_eq!(h.store.count_events().unwrap(), 1);
}

#[tokio::test]
async fn broken_gzip_bombs_and_huge_bodies_get_4xx() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let post = |encoding: &'static str, body: Body| {
        Request::post("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, NDJSON)
            .header(header::CONTENT_ENCODING, encoding)
            .body(body)
            .unwrap()
    };
    let good = gzip(b"{\"event.id\":\"x\"}\n");
    let (status, answer) = h.send(post("gzip", Body::from(good[..good.len() - 6].to_vec()))).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_gzip")));

    let bomb = gzip(&vec![b' '; 200 << 20]);
    assert!(bomb.len() < 1 << 20);
    let (status, answer) = h.send(post("gzip", Body::from(bomb))).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!("body_too_large")));

    let (status, _) = h.send(post("br", Body::from("x"))).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 2 GB, streamed: the server stops reading at the cap and answers 413.
    let chunk = Bytes::from(vec![b'a'; 1 << 20]);
    let produced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = produced.clone();
    let stream = futures_util::stream::iter((0..2048).map(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk.clone())
    }));
    let (status, _) = h.send(post("identity", Body::from_stream(stream))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(produced.load(std::sync::atomic::Ordering::Relaxed) < 20, "the body was read past the cap");

    let declared = Request::post("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, NDJSON)
        .header(header::CONTENT_LENGTH, (2u64 << 30).to_string())
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(declared).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn search_pages_and_explains_bad_parameters() {
    let h = harness();
    let ingest = h.token("ingest", Role::Ingest);
    let analyst = h.token("analyst", Role::Analyst);
    let lines: String = (0..5)
        .map(|i| {
            format!(
                "{{\"event.id\":\"s{i}\",\"@timestamp\":\"{}\",\"source.ip\":\"192.0.2.{i}\"}}\n",
                rampart_model::format_timestamp(OffsetDateTime::now_utc() - time::Duration::minutes(10 - i))
            )
        })
        .collect();
    assert_eq!(h.post_events(&ingest, NDJSON, lines).await.0, StatusCode::ACCEPTED);

    let (status, page) = h.search(&analyst, "q=source.ip:192.0.2.0/24&limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|e| e["event"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["s4", "s3"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = h.search(&analyst, &format!("q=source.ip:192.0.2.0/24&limit=10&cursor={cursor}")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["next_cursor"], Value::Null);
    let (_, page) = h.search(&analyst, "q=source.ip:192.0.2.1").await;
    assert_eq!(page["items"][0]["event"]["id"], json!("s1"));

    for (query, code) in [
        ("q=source.ip:300.1.1.1", "invalid_query"),
        ("q=%22open", "invalid_query"),
        ("limit=0", "invalid_parameters"),
        ("limit=5000", "invalid_parameters"),
        ("from=yesterday", "invalid_parameters"),
        ("cursor=abc", "invalid_cursor"),
    ] {
        let (status, body) = h.search(&analyst, query).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{query}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let h = harness();
    let (status, body) = h.send(Request::get("/v1/nothing").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    let (status, body) = h.send(Request::delete("/v1/events").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!("method_not_allowed")));
}

#[tokio::test]
async fn metrics_count_events_by_source_and_result() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    h.post_events(&token, NDJSON, "{\"event.id\":\"m1\"}\n{\"event.id\":\"m1\"}\nbad\n").await;
    let (status, text) = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    for line in [
        "rampart_events_total{source=\"http\",result=\"accepted\"} 1",
        "rampart_events_total{source=\"http\",result=\"duplicate\"} 1",
        "rampart_events_total{source=\"http\",result=\"rejected\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let (status, doc) = harness().send(Request::get("/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/openapi.json", "get"),
        ("/v1/events", "post"),
        ("/v1/events", "get"),
        ("/v1/tokens", "get"),
        ("/v1/logs/{format}", "post"),
        ("/v1/csp-reports/{site}", "post"),
        ("/v1/alerts", "get"),
        ("/v1/alerts/{id}", "get"),
        ("/v1/alerts/{id}/acknowledge", "post"),
        ("/v1/alerts/{id}/close", "post"),
        ("/v1/alerts/{id}/reopen", "post"),
        ("/v1/rules", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
}

/// A store whose writes fail, to see what a 5xx tells the client.
#[derive(Debug)]
struct BrokenStore;

impl EventStore for BrokenStore {
    fn append(&self, _: Vec<rampart_model::Event>) -> Result<AppendOutcome, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn search(&self, _: &SearchRequest) -> Result<SearchPage, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn purge_before(&self, _: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn count_events(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl Store for BrokenStore {
    fn check_writable(&self) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }
}

impl TokenStore for BrokenStore {
    fn create_token(&self, _: NewToken) -> Result<(), StoreError> {
        Ok(())
    }
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Ok(Vec::new())
    }
    fn revoke_token(&self, _: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn find_token(&self, _: &[u8; 32]) -> Result<Option<TokenInfo>, StoreError> {
        Ok(Some(TokenInfo {
            name: "t".into(),
            role: Role::Admin,
            created_at: OffsetDateTime::now_utc(),
            expires_at: None,
            revoked_at: None,
        }))
    }
}

impl rampart_store::AlertStore for BrokenStore {
    fn record_detections(&self, _: &[rampart_model::Detection], _: time::Duration) -> Result<Vec<rampart_store::AlertChange>, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn list_alerts(&self, _: &rampart_store::AlertRequest) -> Result<rampart_store::AlertPage, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn get_alert(&self, _: &str) -> Result<Option<(rampart_model::Alert, Vec<rampart_model::AlertTransition>)>, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn transition_alert(
        &self,
        _: &str,
        _: rampart_store::AlertAction,
        _: &str,
        _: Option<&str>,
        _: OffsetDateTime,
    ) -> Result<rampart_model::Alert, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn alert_transitions(&self, _: &rampart_store::TransitionRequest) -> Result<rampart_store::TransitionPage, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn evidence_events(&self, _: &str) -> Result<Option<Vec<rampart_model::Event>>, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
}

impl rampart_store::SnapshotStore for BrokenStore {
    fn save_snapshot(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
    fn load_snapshot(&self, _: &str) -> Result<Option<(time::OffsetDateTime, Vec<u8>)>, StoreError> {
        Err(StoreError::Commit("disk /secret/path exploded".into()))
    }
}

#[tokio::test]
async fn server_errors_say_nothing_internal() {
    let state = state_with(Arc::new(BrokenStore));
    let (token, _) = auth::generate_token();
    let request = Request::post("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, NDJSON)
        .body(Body::from("{\"event.id\":\"x\"}"))
        .unwrap();
    let (status, body) = send(&state, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], json!("internal"));
    assert!(!body.to_string().contains("secret"), "{body}");
    assert_eq!(body["error"]["request_id"].as_str().unwrap().len(), 32);
    for (method, path) in [(Method::GET, "/v1/alerts"), (Method::GET, "/v1/alerts/a1"), (Method::POST, "/v1/alerts/a1/acknowledge")] {
        let request = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
        let (status, body) = send(&state, request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(!body.to_string().contains("secret"), "{body}");
    }
    let (status, body) = send(&state, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable")));
}

/// `$time_local` of a moment, as nginx writes it.
fn time_local(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{:02}/{}/{}:{:02}:{:02}:{:02} +0000", t.day(), MONTHS[t.month() as usize - 1], t.year(), t.hour(), t.minute(), t.second())
}

fn combined_line(ip: &str, request: &str, status: u16) -> String {
    format!(r#"{ip} - - [{}] "{request}" {status} 512 "-" "Mozilla/5.0""#, time_local(OffsetDateTime::now_utc()))
}

impl Harness {
    async fn post_logs(&self, token: &str, format: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> (StatusCode, Value) {
        let mut request = Request::post(format!("/v1/logs/{format}")).header(header::AUTHORIZATION, format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    fn stored(&self, query: &str) -> Vec<Value> {
        let items = self.store.search(&SearchRequest::new(rampart_model::Query::parse(query).unwrap())).unwrap().items;
        items.iter().map(|e| serde_json::from_str(&e.to_json_string()).unwrap()).collect()
    }
}

#[tokio::test]
async fn access_log_lines_are_ingested_with_per_line_errors() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let body = format!(
        "{}\nnot an access log line\n{}\n",
        combined_line("203.0.113.7", "GET /search?q=%27+OR+1%3D1-- HTTP/1.1", 200),
        combined_line("203.0.113.8", "GET /.env HTTP/1.1", 404)
    );
    let (status, answer) = h.post_logs(&token, "combined", &[("content-type", "text/plain")], body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!((answer["accepted"].clone(), answer["rejected"].clone()), (json!(2), json!(1)));
    assert_eq!(answer["errors"][0]["line"], json!(2));
    assert_eq!(answer["errors"][0]["code"], json!("invalid_line"));
    let probe = h.stored("url.path:/.env");
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0]["source"]["ip"], json!("203.0.113.8"));
    assert_eq!(probe[0]["http"]["response"]["status_code"], json!(404));
    assert_eq!(probe[0]["event"]["dataset"], json!("access_log"));
    assert_eq!(probe[0]["event"]["original"].as_str().unwrap(), body.lines().nth(2).unwrap());

    // The same body again under an Idempotency-Key is recognized the second time.
    let keyed = [("idempotency-key", "batch-0001")];
    assert_eq!(h.post_logs(&token, "combined", &keyed, body.clone()).await.1["accepted"], json!(2));
    let (status, again) = h.post_logs(&token, "combined", &keyed, body.clone()).await;
    assert_eq!((status, again["accepted"].clone(), again["duplicates"].clone()), (StatusCode::ACCEPTED, json!(0), json!(2)));

    // gzip, and nothing valid at all.
    let (status, gz) = h.post_logs(&token, "combined", &[("content-encoding", "gzip")], gzip(body.as_bytes())).await;
    assert_eq!((status, gz["accepted"].clone()), (StatusCode::ACCEPTED, json!(2)));
    let (status, bad) = h.post_logs(&token, "common", &[], "garbage\n").await;
    assert_eq!((status, bad["rejected"].clone()), (StatusCode::BAD_REQUEST, json!(1)));
}

#[tokio::test]
async fn log_formats_roles_and_media_types() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let (status, answer) = h.post_logs(&token, "apache2", &[], "x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], json!("unknown_format"));
    assert!(answer["error"]["message"].as_str().unwrap().contains("combined, common"), "{answer}");
    assert_eq!(h.post_logs(&token, "combined", &[("content-type", "image/png")], "x").await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let analyst = h.token("analyst", Role::Analyst);
    assert_eq!(h.post_logs(&analyst, "combined", &[], "x").await.0, StatusCode::FORBIDDEN);
    let request = Request::post("/v1/logs/combined").body(Body::from("x")).unwrap();
    assert_eq!(h.send(request).await.0, StatusCode::UNAUTHORIZED);
    let huge = vec![b'a'; Limits::default().max_body_bytes + 1];
    assert_eq!(h.post_logs(&token, "combined", &[], huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    // NDJSON events and nginx-json through the same endpoint.
    let (status, answer) = h.post_logs(&token, "jsonl", &[], "{\"event.action\":\"login\"}\n").await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(1)));
    let nginx = format!(
        r#"{{"time_local":"{}","remote_addr":"198.51.100.2","request":"GET /cart HTTP/2.0","status":200}}"#,
        time_local(OffsetDateTime::now_utc())
    );
    let (status, answer) = h.post_logs(&token, "nginx-json", &[], nginx).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(1)), "{answer}");
    assert_eq!(h.stored("url.path:/cart")[0]["http"]["version"], json!("2.0"));
}

#[tokio::test]
async fn client_ip_comes_from_trusted_proxies_only() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let now = time_local(OffsetDateTime::now_utc());
    // The harness trusts 10.0.0.0/8. The client forged the first X-Forwarded-For entry.
    let behind_cdn = format!(r#"10.0.0.5 [{now}] "GET /via-cdn HTTP/1.1" 200 "127.0.0.1, 203.0.113.50""#);
    let spoofed = format!(r#"198.51.100.9 [{now}] "GET /direct HTTP/1.1" 200 "203.0.113.99""#);
    let (status, answer) = h.post_logs(&token, "edge", &[], format!("{behind_cdn}\n{spoofed}\n")).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(2)), "{answer}");
    let via = &h.stored("url.path:/via-cdn")[0];
    assert_eq!((via["source"]["ip"].clone(), via["client"]["ip"].clone()), (json!("203.0.113.50"), json!("10.0.0.5")));
    let direct = &h.stored("url.path:/direct")[0];
    assert_eq!((direct["source"]["ip"].clone(), direct.get("client").cloned()), (json!("198.51.100.9"), None));
    // Rules and searches key on the client, never on the CDN.
    assert_eq!(h.stored("source.ip:203.0.113.50").len(), 1);
    assert_eq!(h.stored("source.ip:10.0.0.5").len(), 0);
}

fn csp_request(site: &str, peer: &str, content_type: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(format!("/v1/csp-reports/{site}")).header(header::CONTENT_TYPE, content_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(body.into()).unwrap();
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    request
}

const LEGACY_REPORT: &str = r#"{"csp-report":{"document-uri":"https://shop.example/checkout","referrer":"","violated-directive":"script-src-elem","effective-directive":"script-src-elem","original-policy":"script-src 'self'; report-uri /csp","disposition":"enforce","blocked-uri":"https://evil.example/skim.js","status-code":200,"script-sample":""}}"#;

#[tokio::test]
async fn csp_reports_are_stored_without_a_token() {
    let h = harness();
    let (status, _) =
        h.send(csp_request("shop", "198.51.100.7", "application/csp-report", &[("user-agent", "Firefox/131")], LEGACY_REPORT)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stored = h.stored("event.action:csp_violation");
    assert_eq!(stored.len(), 1);
    let report = &stored[0];
    assert_eq!(report["csp"]["site"], json!("shop"));
    assert_eq!(report["csp"]["blocked_uri"], json!("https://evil.example/skim.js"));
    assert_eq!(report["csp"]["effective_directive"], json!("script-src-elem"));
    assert_eq!(report["url"]["original"], json!("https://shop.example/checkout"));
    assert_eq!(report["source"]["ip"], json!("198.51.100.7"));
    assert_eq!(report["user_agent"]["original"], json!("Firefox/131"));

    let reporting_api = r#"[{"type":"csp-violation","age":10,"url":"https://shop.example/cart","user_agent":"Chrome/131","body":{"documentURL":"https://shop.example/cart","blockedURL":"chrome-extension://abc/inject.js","effectiveDirective":"script-src-elem","disposition":"enforce"}},{"type":"csp-violation","url":"https://shop.example/cart","body":{"documentURL":"https://shop.example/cart","blockedURL":"inline","effectiveDirective":"script-src-elem","sample":"var skim=1","disposition":"report"}}]"#;
    let (status, _) = h.send(csp_request("shop", "198.51.100.8", "application/reports+json", &[], reporting_api)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The extension's report is noise and dropped; the inline script is kept.
    let stored = h.stored("event.action:csp_violation");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().any(|r| r["csp"]["sample"] == json!("var skim=1")));
}

#[tokio::test]
async fn csp_bad_bodies_get_4xx() {
    let h = harness();
    let cases: [(&str, &str, Vec<u8>, StatusCode); 5] = [
        ("shop", "application/csp-report", b"not json".to_vec(), StatusCode::BAD_REQUEST),
        ("shop", "text/html", LEGACY_REPORT.as_bytes().to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("shop", "application/csp-report", "[".repeat(100_000).into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        ("shop", "application/reports+json", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]".as_bytes().to_vec(), StatusCode::BAD_REQUEST),
        ("bad site!", "application/csp-report", LEGACY_REPORT.as_bytes().to_vec(), StatusCode::NOT_FOUND),
    ];
    for (index, (site, content_type, body, want)) in cases.into_iter().enumerate() {
        // A fresh address each time, so the rate limit stays out of the way.
        let (status, answer) =
            h.send(csp_request(&site.replace(' ', "%20"), &format!("198.51.100.{}", 20 + index), content_type, &[], body)).await;
        assert_eq!(status, want, "{site} {content_type}: {answer}");
        assert!(answer["error"]["code"].is_string());
    }
    assert_eq!(h.store.count_events().unwrap(), 0);
}

#[tokio::test]
async fn csp_rate_limit_keys_on_the_real_client() {
    let h = harness(); // 5 requests a minute per address
    for _ in 0..5 {
        assert_eq!(
            h.send(csp_request("shop", "198.51.100.30", "application/csp-report", &[], LEGACY_REPORT)).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let (status, answer) = h.send(csp_request("shop", "198.51.100.30", "application/csp-report", &[], LEGACY_REPORT)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("rate_limited")));
    // A spoofed header from an untrusted peer does not buy a new budget.
    let spoofed = [("x-forwarded-for", "203.0.113.1")];
    assert_eq!(
        h.send(csp_request("shop", "198.51.100.30", "application/csp-report", &spoofed, LEGACY_REPORT)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Behind the trusted CDN, each browser has its own budget and is the event's source.
    let via_cdn = [("x-forwarded-for", "203.0.113.2")];
    for _ in 0..5 {
        assert_eq!(
            h.send(csp_request("shop", "10.0.0.1", "application/csp-report", &via_cdn, LEGACY_REPORT)).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let other = [("x-forwarded-for", "203.0.113.3")];
    assert_eq!(h.send(csp_request("shop", "10.0.0.1", "application/csp-report", &other, LEGACY_REPORT)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(h.stored("source.ip:203.0.113.2").len(), 5);
    assert_eq!(h.stored("client.ip:10.0.0.1").len(), 6);
}

#[tokio::test]
async fn syslog_over_udp_and_tcp() {
    use tokio::io::AsyncWriteExt;
    let h = harness();
    let config = rampart_server::SyslogConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        format: None,
        max_message_bytes: 4096,
    };
    let listeners = rampart_server::spawn_syslog(config, h.state.clone()).await.unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let line = combined_line("203.0.113.70", "GET /udp HTTP/1.1", 200);
    let datagram = format!("<134>1 2026-11-22T10:00:00Z web1 nginx 42 - - {line}");
    udp.send_to(datagram.as_bytes(), listeners.udp.unwrap()).await.unwrap();
    udp.send_to(b"<13>not a log line at all", listeners.udp.unwrap()).await.unwrap();

    let mut tcp = tokio::net::TcpStream::connect(listeners.tcp.unwrap()).await.unwrap();
    let json_event = r#"{"event.action":"login","event.outcome":"failure","user.name":"alice"}"#;
    let framed = format!("<38>Nov 22 10:00:01 shop app: {json_event}");
    let tcp_line = combined_line("203.0.113.71", "GET /tcp HTTP/1.1", 404);
    let stream = format!("{} {framed}<134>Nov 22 10:00:02 web2 nginx: {tcp_line}\n{}", framed.len(), "x".repeat(5000));
    tcp.write_all(stream.as_bytes()).await.unwrap();
    tcp.write_all(b"\n").await.unwrap();
    tcp.shutdown().await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.store.count_events().unwrap() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let via_udp = h.stored("url.path:/udp");
    assert_eq!(via_udp.len(), 1);
    assert_eq!(via_udp[0]["log"]["syslog"]["hostname"], json!("web1"));
    assert_eq!(via_udp[0]["log"]["syslog"]["facility"]["code"], json!(16));
    assert_eq!(h.stored("url.path:/tcp")[0]["log"]["syslog"]["appname"], json!("nginx"));
    assert_eq!(h.stored("user.name:alice")[0]["event"]["outcome"], json!("failure"));
    assert_eq!(h.store.count_events().unwrap(), 3);
    // Refusals and metrics are counted after the store answers: wait for them too.
    let accepted = "rampart_events_total{source=\"syslog\",result=\"accepted\"} 3";
    let metrics = loop {
        let (_, text) = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
        let text = text.as_str().unwrap_or_default().to_owned();
        let counted = text.contains(accepted) && listeners.rejects.lock().unwrap().total() == 2;
        if counted || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let rejects = listeners.rejects.lock().unwrap().clone();
    assert_eq!(rejects.total(), 2, "{rejects:?}"); // the UDP garbage and the over-long TCP frame
    assert!(metrics.contains("rampart_syslog_udp_dropped_total 0"));
    assert!(metrics.contains(accepted), "{metrics}");
    listeners.abort();
}

impl Harness {
    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()).await
    }
}

#[tokio::test]
async fn attacks_in_access_logs_raise_alerts_once() {
    let h = harness();
    let ingest = h.token("ingest", Role::Ingest);
    let analyst = h.token("analyst", Role::Analyst);
    let body = [
        combined_line("203.0.113.7", "GET /search?q=1%27+union+select+password+from+users-- HTTP/1.1", 200),
        combined_line("203.0.113.8", "GET /.env HTTP/1.1", 404),
        combined_line("203.0.113.9", "GET /products/42 HTTP/1.1", 200),
    ]
    .join("\n");
    let keyed = [("idempotency-key", "alerts-0001")];
    let (status, answer) = h.post_logs(&ingest, "combined", &keyed, body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["alerts"], json!(2), "{answer}");
    let titles: Vec<&str> = answer["alerts_by_rule"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"SQL Injection Attempt In Request URL") && titles.contains(&"Probe For Sensitive Files"), "{titles:?}");

    let (status, page) = h.get(&analyst, "/v1/alerts").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let sqli = items.iter().find(|a| a["rule"]["level"] == json!("high")).unwrap();
    assert_eq!(sqli["entities"], json!([{"kind": "ip", "value": "203.0.113.7", "field": "source.ip"}]));
    assert_eq!(sqli["rule"]["title"], json!("SQL Injection Attempt In Request URL"));
    assert!(sqli["rule"]["tags"].as_array().unwrap().contains(&json!("attack.t1190")));
    assert_eq!(sqli["matched"][0]["field"], json!("url.original"));
    assert_eq!((sqli["status"].clone(), sqli["event_count"].clone()), (json!("open"), json!(1)));
    let event = h.stored(&format!("event.id:{}", sqli["evidence"][0].as_str().unwrap()));
    assert_eq!(event.len(), 1, "the alert names a stored event");
    assert_eq!(event[0]["source"]["ip"], json!("203.0.113.7"));

    // A resent batch stores nothing twice and raises nothing twice.
    let (_, again) = h.post_logs(&ingest, "combined", &keyed, body).await;
    assert_eq!((again["duplicates"].clone(), again["alerts"].clone(), again["alerts_updated"].clone()), (json!(3), json!(0), json!(0)));
    assert_eq!(h.get(&analyst, "/v1/alerts").await.1["items"].as_array().unwrap().len(), 2);

    // Paging, the rule filter and bad parameters.
    let (_, first) = h.get(&analyst, "/v1/alerts?limit=1").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = h.get(&analyst, &format!("/v1/alerts?limit=1&cursor={cursor}")).await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let rule = sqli["rule"]["id"].as_str().unwrap();
    let (_, only) = h.get(&analyst, &format!("/v1/alerts?rule={rule}")).await;
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    for bad in ["/v1/alerts?limit=0", "/v1/alerts?cursor=nope", "/v1/alerts?colour=red"] {
        let (status, body) = h.get(&analyst, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The rule listing shows the built-in rules.
    let (status, rules) = h.get(&analyst, "/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    let builtin = rampart_detect::compile_rules(
        &rampart_detect::builtin_rules(),
        &rampart_detect::FieldMapping::builtin(),
        &std::collections::HashSet::new(),
    );
    assert_eq!(rules["items"].as_array().unwrap().len(), builtin.rules.len());
    assert!(rules["items"].as_array().unwrap().iter().any(|r| r["id"] == json!("7d11335f-605a-4248-8e38-2868acdc7f8f")));
    assert_eq!(rules["errors"], json!([]));
}

#[tokio::test]
async fn shop_events_meet_rules_of_their_logsource() {
    let rule = rampart_detect::RuleFile {
        name: "logins.yml".into(),
        text: "title: Login as a service account\nid: svc-login\nlogsource: {product: rampart, category: authentication}\n\
               detection:\n  selection:\n    event.action: login\n    user.name|startswith: 'svc-'\n  filter:\n    event.outcome: success\n  \
               condition: selection and not filter\nlevel: high\n"
            .into(),
    };
    let compiled = rampart_detect::compile_rules(&[rule], &rampart_detect::FieldMapping::builtin(), &Default::default());
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let mut h = harness();
    h.state = h.state.clone().with_detector(Arc::new(rampart_detect::Detector::from_compiled(compiled)));
    let token = h.token("admin", Role::Admin);
    let events = [
        json!({"event": {"action": "login", "category": "authentication", "outcome": "failure"}, "user": {"name": "SVC-backup"}, "source": {"ip": "198.51.100.4"}}),
        json!({"event": {"action": "login", "category": "authentication", "outcome": "success"}, "user": {"name": "svc-backup"}}),
        json!({"event": {"action": "login", "category": "authentication", "outcome": "failure"}, "user": {"name": "alice"}}),
        // The right action but another logsource (a web request) is never shown to the rule.
        json!({"event": {"action": "login", "category": "web", "outcome": "failure"}, "user": {"name": "svc-x"}}),
    ];
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, answer) = h.post_events(&token, NDJSON, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["alerts"], json!(1), "{answer}");
    let (_, page) = h.get(&token, "/v1/alerts").await;
    assert_eq!(
        page["items"][0]["entities"],
        json!([{"kind": "ip", "value": "198.51.100.4", "field": "source.ip"}, {"kind": "account", "value": "SVC-backup", "field": "user.name"}])
    );
    assert_eq!(page["items"][0]["rule"]["id"], json!("svc-login"));
}

#[tokio::test]
async fn csp_reports_meet_csp_rules() {
    let rule = rampart_detect::RuleFile {
        name: "skimmer.yml".into(),
        text: "title: Script from an unknown host on checkout\nid: csp-skimmer\nlogsource: {product: rampart, service: csp}\n\
               detection:\n  selection:\n    csp.blocked_uri|endswith: '.js'\n    url.original|contains: '/checkout'\n  condition: selection\nlevel: critical\n"
            .into(),
    };
    let compiled = rampart_detect::compile_rules(&[rule], &rampart_detect::FieldMapping::builtin(), &Default::default());
    assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let mut h = harness();
    h.state = h.state.clone().with_detector(Arc::new(rampart_detect::Detector::from_compiled(compiled)));
    let (status, _) = h.send(csp_request("shop", "198.51.100.7", "application/csp-report", &[], LEGACY_REPORT)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let token = h.token("analyst", Role::Analyst);
    let (_, page) = h.get(&token, "/v1/alerts").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["rule"]["level"], json!("critical"));
    assert_eq!(page["items"][0]["entities"][0], json!({"kind": "ip", "value": "198.51.100.7", "field": "source.ip"}));
}
