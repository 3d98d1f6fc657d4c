//! Issue 11 over HTTP: records per request capped, wrong-typed known objects refused, one
//! answer for unknown or bad parameters on every endpoint, error counts by code, replays of
//! events, and slow clients on a real socket.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use rampart_model::Role;
use rampart_server::{Limits, ServeConfig, serve_with};
use rampart_store::EventStore;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Harness, NDJSON, harness};

fn harness_with(limits: Limits) -> Harness {
    let mut h = harness();
    h.state.limits = limits;
    h
}

#[tokio::test]
async fn issue_11_records_per_request_are_capped() {
    let h = harness_with(Limits { max_records: 5, ..Limits::default() });
    let token = h.token("ingest", Role::Ingest);
    let array = |n: usize| format!("[{}]", vec!["{}"; n].join(","));
    let (status, answer) = h.post_events(&token, "application/json", array(6)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!("too_many_records")));
    assert_eq!(
        answer["error"]["message"],
        json!("the body holds 6 records; at most 5 are taken per request (ingest.max_records): send smaller batches")
    );
    let (status, _) = h.post_events(&token, NDJSON, "{}\n".repeat(6)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = h.post_logs(&token, "combined", &[], "x\n".repeat(6)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!("too_many_records")));
    assert_eq!(h.store.count_events().unwrap(), 0, "a refused body stores nothing");
    // Blank lines are not records; at the cap everything is taken.
    let (status, answer) = h.post_events(&token, "application/json", array(5)).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(5)));
    let (status, answer) = h.post_events(&token, NDJSON, "{}\n\n".repeat(5)).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(5)));
}

/// The 3 MB body of the report: a million `{}` is refused whole under the default cap.
#[tokio::test]
async fn issue_11_a_million_empty_objects_are_refused() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let body = format!("[{}]", vec!["{}"; 1_000_000].join(","));
    let (status, answer) = h.post_events(&token, "application/json", body).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!("too_many_records")));
    assert_eq!(h.store.count_events().unwrap(), 0);
}

#[tokio::test]
async fn issue_11_known_objects_of_the_wrong_type_are_invalid_fields() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let body =
        r#"[{"event": "string"}, {"source": null}, {"payment": [1]}, {"url": 3}, {"user": {"name": "ann"}, "http": "x"}, {"event": {}}]"#;
    let (status, answer) = h.post_events(&token, "application/json", body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!((answer["accepted"].clone(), answer["rejected"].clone()), (json!(1), json!(5)));
    assert_eq!(answer["error_counts"], json!({"invalid_field": 5}));
    let messages: Vec<&str> = answer["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "field `event`: expected an object",
            "field `source`: expected an object",
            "field `payment`: expected an object",
            "field `url`: expected an object",
            "field `http`: expected an object",
        ]
    );
}

#[tokio::test]
async fn issue_11_ingest_answers_count_errors_by_code() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let mut body = "{\"source.ip\":\"nope\"}\n".repeat(120);
    body.push_str(&"not json\n".repeat(30));
    body.push_str("{\"@timestamp\":\"2001-01-01T00:00:00Z\"}\n{\"event.action\":\"login\"}\n");
    let (status, answer) = h.post_events(&token, NDJSON, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["rejected"], json!(151));
    assert_eq!(answer["errors"].as_array().unwrap().len(), 100, "the first 100 are listed");
    assert_eq!(answer["error_counts"], json!({"invalid_field": 120, "invalid_json": 30, "timestamp_out_of_range": 1}));
    let (status, answer) = h.post_logs(&token, "combined", &[], "junk\n".repeat(3)).await;
    assert_eq!((status, answer["error_counts"].clone()), (StatusCode::BAD_REQUEST, json!({"invalid_line": 3})));
}

#[tokio::test]
async fn issue_11_events_replay_keeps_historical_timestamps() {
    let h = harness();
    let token = h.token("ingest", Role::Ingest);
    let old = "{\"event.id\":\"old\",\"@timestamp\":\"2001-01-01T00:00:00Z\"}\n";
    let post = |query: &'static str| {
        Request::post(format!("/v1/events{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, NDJSON)
            .body(Body::from(old))
            .unwrap()
    };
    let (status, answer) = h.send(post("")).await;
    assert_eq!((status, answer["error_counts"].clone()), (StatusCode::BAD_REQUEST, json!({"timestamp_out_of_range": 1})));
    let (status, answer) = h.send(post("?replay=true")).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::ACCEPTED, json!(1)));
    let (status, answer) = h.send(post("?replay=maybe")).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_parameters")));
    assert_eq!(answer["error"]["message"], json!("`replay` must be true or false"));
}

#[tokio::test]
async fn issue_11_unknown_and_bad_parameters_are_invalid_parameters_everywhere() {
    let h = harness();
    let admin = h.token("admin", Role::Admin);
    let cases: &[(Method, &str, &str)] = &[
        (Method::GET, "/v1/events?foo=bar", "foo"),
        (Method::GET, "/v1/events?limit=many", "limit"),
        (Method::GET, "/v1/events?from=yesterday", "from"),
        (Method::GET, "/v1/events?to=later", "to"),
        (Method::POST, "/v1/events?foo=bar", "foo"),
        (Method::POST, "/v1/events?replay=yes", "replay"),
        (Method::GET, "/v1/alerts?foo=bar", "foo"),
        (Method::GET, "/v1/alerts?limit=0", "limit"),
        (Method::GET, "/v1/alerts?from=x", "from"),
        (Method::GET, "/v1/alerts?status=gone", "status"),
        (Method::GET, "/v1/alerts?level=extreme", "level"),
        (Method::GET, "/v1/alerts/some-id?foo=bar", "foo"),
        (Method::POST, "/v1/alerts/some-id/acknowledge?foo=bar", "foo"),
        (Method::POST, "/v1/alerts/some-id/close?foo=bar", "foo"),
        (Method::POST, "/v1/alerts/some-id/reopen?foo=bar", "foo"),
        (Method::GET, "/v1/rules?foo=bar", "foo"),
        (Method::GET, "/v1/tokens?foo=bar", "foo"),
        (Method::POST, "/v1/logs/combined?foo=bar", "foo"),
        (Method::POST, "/v1/logs/combined?offset=-1", "offset"),
        (Method::POST, "/v1/logs/combined?replay=2", "replay"),
        (Method::POST, "/v1/csp-reports/shop?foo=bar", "foo"),
    ];
    for (method, uri, name) in cases {
        let request = Request::builder()
            .method(method.clone())
            .uri(*uri)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = h.send(request).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_parameters")),
            "{method} {uri}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{name}`")), "{method} {uri}: {message}");
        assert_eq!(body["error"]["request_id"].as_str().map(str::len), Some(32), "{method} {uri}");
    }
}

/// Sends a whole `GET path` and returns the status line, or `None` if the connection closed first.
async fn get(address: std::net::SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_owned)
}

/// Reads until the server closes the connection (what it sends first does not matter).
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Reads one `/healthz` answer (its body ends the response) from a kept-alive connection.
async fn healthz_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while !answer.ends_with(b"{\"status\":\"ok\"}") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A deadline far beyond any timeout under test: it only stops a broken build from hanging.
const GENEROUS: Duration = Duration::from_secs(120);

#[tokio::test]
async fn issue_11_half_open_connections_are_closed_and_healthz_answers() {
    let h = harness();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config =
        ServeConfig { header_read_timeout: Duration::from_millis(500), idle_timeout: Duration::from_millis(500), max_connections: 1024 };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listener, h.state.clone(), config, async move {
        let _ = stopped.await;
    }));

    let mut half_open = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x").await.unwrap();
        half_open.push(stream);
    }
    assert_eq!(get(address, "/healthz").await.as_deref(), Some("HTTP/1.1 200 OK"));
    tokio::time::timeout(GENEROUS, async {
        for stream in &mut half_open {
            closed_by_server(stream).await;
        }
    })
    .await
    .expect("the half-open connections are closed");

    // A kept-alive connection that sends nothing more is closed too.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(healthz_answer(&mut idle).await.starts_with("HTTP/1.1 200 OK"));
    tokio::time::timeout(GENEROUS, closed_by_server(&mut idle)).await.expect("the idle connection is closed");

    // Shutdown waits for no idle client.
    let _lingering = TcpStream::connect(address).await.unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(GENEROUS, server).await.expect("the server stops").unwrap().unwrap();
}

#[tokio::test]
async fn issue_11_idle_kept_alive_connections_are_closed() {
    let h = harness();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // The header-read timeout is far away: only the idle timeout can close the connection.
    let config =
        ServeConfig { header_read_timeout: Duration::from_secs(3600), idle_timeout: Duration::from_millis(300), max_connections: 16 };
    let server = tokio::spawn(serve_with(listener, h.state.clone(), config, std::future::pending()));
    let mut idle = TcpStream::connect(address).await.unwrap();
    for _ in 0..2 {
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(healthz_answer(&mut idle).await.starts_with("HTTP/1.1 200 OK"));
    }
    tokio::time::timeout(GENEROUS, closed_by_server(&mut idle)).await.expect("the idle connection is closed");
    server.abort();
}

#[tokio::test]
async fn issue_11_beyond_the_connection_cap_clients_wait_for_a_slot() {
    let h = harness();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config =
        ServeConfig { header_read_timeout: Duration::from_millis(300), idle_timeout: Duration::from_secs(600), max_connections: 2 };
    let server = tokio::spawn(serve_with(listener, h.state.clone(), config, std::future::pending()));
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x").await.unwrap();
        holders.push(stream);
    }
    // The third client is served once a slot frees, that is after a holder was closed.
    let answer = tokio::time::timeout(GENEROUS, get(address, "/healthz")).await.expect("served eventually");
    assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"));
    let mut closed = 0;
    for stream in &mut holders {
        let mut buf = [0u8; 64];
        closed += loop {
            match stream.try_read(&mut buf) {
                Ok(0) => break 1,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break 0,
                Err(_) => break 1,
            }
        };
    }
    assert!(closed >= 1, "a holder was closed before the third client was served");
    server.abort();
}
