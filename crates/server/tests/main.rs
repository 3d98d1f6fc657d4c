//! The API driven through `app(state)` with `oneshot`: every endpoint with every role, the
//! ingestion paths with good and bad bodies, search, errors and operations endpoints.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use prometheus_client::registry::Registry;
use rampart_ingest::{CardProtector, IngestConfig, Ingestor};
use rampart_model::Role;
use rampart_server::{AppState, Limits, ServerMetrics, app, auth};
use rampart_store::{AppendOutcome, NewToken, SearchPage, SearchRequest, SqliteOptions, SqliteStore, Store, StoreError, TokenInfo};
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
    let metrics = ServerMetrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    AppState {
        store,
        ingestor: Arc::new(Ingestor::new(IngestConfig::default(), CardProtector::new(b"test key"))),
        limits: Limits::default(),
        metrics,
        registry: Arc::new(registry),
    }
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
    let endpoints: [(Method, &str, &str, &[&str]); 3] = [
        (Method::POST, "/v1/events", "{\"event.action\":\"login\"}", &["admin", "ingest"]),
        (Method::GET, "/v1/events", "", &["admin", "analyst", "responder", "auditor"]),
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
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({"accepted": 2, "rejected": 0, "duplicates": 0, "errors": []})));
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
    assert_eq!((status, answer), (StatusCode::ACCEPTED, json!({"accepted": 0, "rejected": 0, "duplicates": 2, "errors": []})));
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
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
}

/// A store whose writes fail, to see what a 5xx tells the client.
#[derive(Debug)]
struct BrokenStore;

impl Store for BrokenStore {
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
    fn check_writable(&self) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }
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
    let (status, body) = send(&state, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable")));
}
