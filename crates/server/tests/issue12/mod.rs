//! Issue 12: the actor extractor, our own messages for bad JSON bodies and path parameters, the
//! shared page, one transition handler, the `Idempotency-Key` cap and relative times read from
//! the state's clock.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use rampart_model::{FixedClock, Role, parse_rfc3339};
use serde_json::{Value, json};

use super::Harness;

const NOW: &str = "2026-11-22T12:30:00Z";

/// A harness whose clock says [`NOW`], holding `.env` probes at 10:00, 11:00 and 12:00, sent
/// live: the live-time window reads the state's clock too (the real one is weeks later).
async fn fixed_harness() -> (Harness, String, String) {
    let mut h = super::harness();
    let clock = Arc::new(FixedClock::new(parse_rfc3339(NOW).unwrap()));
    h.state = h.state.clone().with_clock(clock);
    let ingest = h.token("sender", Role::Ingest);
    let admin = h.token("boss", Role::Admin);
    let lines: Vec<String> = ["10", "11", "12"]
        .iter()
        .map(|hour| format!(r#"203.0.113.{hour} - - [22/Nov/2026:{hour}:00:00 +0000] "GET /.env HTTP/1.1" 404 153 "-" "curl/8.4""#))
        .collect();
    let (status, answer) = h
        .send(
            Request::post("/v1/logs/combined")
                .header(header::AUTHORIZATION, format!("Bearer {ingest}"))
                .body(Body::from(lines.join("\n")))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    (h, admin, ingest)
}

async fn call(h: &Harness, token: &str, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    h.send(request.body(Body::from(body.to_owned())).unwrap()).await
}

fn times(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["@timestamp"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn issue_12_relative_times_resolve_against_the_state_clock() {
    let (h, admin, _) = fixed_harness().await;
    for (query, want) in [
        ("from=now-1h", vec!["2026-11-22T12:00:00.000Z"]),
        ("from=-2h&to=now-1h", vec!["2026-11-22T11:00:00.000Z"]),
        ("to=now-150m", vec!["2026-11-22T10:00:00.000Z"]),
        ("from=now-24h&to=now", vec!["2026-11-22T12:00:00.000Z", "2026-11-22T11:00:00.000Z", "2026-11-22T10:00:00.000Z"]),
    ] {
        let (status, page) = h.search(&admin, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(times(&page), want, "{query}");
        assert_eq!(page["next_cursor"], Value::Null);
    }
    let (status, page) = call(&h, &admin, Method::GET, "/v1/alerts?from=now-1h", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    for query in ["from=", "to=yesterday", "from=now-1w", "from=now-1000000d"] {
        let (status, answer) = h.search(&admin, query).await;
        assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_parameters")), "{query}");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(&format!("`{}`", &query[..query.find('=').unwrap()])), "{answer}");
    }
}

#[tokio::test]
async fn issue_12_one_transition_handler_records_the_actor_at_the_clock_time() {
    let (h, admin, ingest) = fixed_harness().await;
    let analyst = h.token("ann", Role::Analyst);
    let (_, page) = call(&h, &admin, Method::GET, "/v1/alerts?limit=1", "").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let path = |verb: &str| format!("/v1/alerts/{id}/{verb}");
    let (status, changed) = call(&h, &analyst, Method::POST, &path("acknowledge"), r#"{"note":"on it"}"#).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, closed) = call(&h, &analyst, Method::POST, &path("close"), r#"{"classification":"true_positive","note":null}"#).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let (status, _) = call(&h, &analyst, Method::POST, &path("reopen"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, detail) = call(&h, &admin, Method::GET, &format!("/v1/alerts/{id}"), "").await;
    let made: Vec<(Value, Value, Value)> = detail["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|t| (t["action"].clone(), t["actor"].clone(), t["at"].clone()))
        .collect();
    let at = json!("2026-11-22T12:30:00.000Z");
    assert_eq!(
        made,
        [
            (json!("acknowledged"), json!("ann"), at.clone()),
            (json!("closed"), json!("ann"), at.clone()),
            (json!("reopened"), json!("ann"), at)
        ]
    );
    // Not a transition: 404; not allowed for the role: 403 before anything else.
    let (status, answer) = call(&h, &analyst, Method::POST, &path("delete"), "").await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")), "{answer}");
    let (status, _) = call(&h, &ingest, Method::POST, &path("acknowledge"), "[1]").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn issue_12_transition_bodies_of_the_wrong_type_are_refused() {
    let (h, admin, _) = fixed_harness().await;
    let (_, page) = call(&h, &admin, Method::GET, "/v1/alerts?limit=1", "").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    for (verb, body, says) in [
        ("acknowledge", "[null, null]", "the body must be a JSON object"),
        ("reopen", "[null, null]", "the body must be a JSON object"),
        ("acknowledge", "\"note\"", "the body must be a JSON object"),
        ("acknowledge", r#"{"note": 5}"#, "`note`: invalid type: integer `5`, expected a string"),
        ("close", r#"{"classification": -2.5}"#, "`classification`: "),
        ("close", r#"{"classification": ""}"#, "`classification`: unknown variant ``"),
        ("close", r#"{"colour": "red"}"#, "unknown field `colour`"),
        ("acknowledge", r#"{"classification": "true_positive"}"#, "only `close` takes a `classification`"),
    ] {
        let (status, answer) = call(&h, &admin, Method::POST, &format!("/v1/alerts/{id}/{verb}"), body).await;
        assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_body")), "{verb} {body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(says), "{verb} {body}: {answer}");
    }
    // A 4,000-character note of escaped astral characters fits the body cap; one more is a 400.
    let note = |n: usize| format!(r#"{{"note": "{}"}}"#, "\\ud83d\\ude00".repeat(n));
    let (status, answer) = call(&h, &admin, Method::POST, &format!("/v1/alerts/{id}/acknowledge"), &note(4001)).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_body")), "{answer}");
    let (status, answer) = call(&h, &admin, Method::POST, &format!("/v1/alerts/{id}/acknowledge"), &note(4000)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn issue_12_an_over_long_idempotency_key_is_refused_and_pages_share_one_shape() {
    let (h, admin, ingest) = fixed_harness().await;
    let line = r#"203.0.113.9 - - [22/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8.4""#;
    let key = "k".repeat(257);
    let (status, answer) = h.post_logs(&ingest, "combined", &[("idempotency-key", key.as_str())], line).await;
    assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_parameters")), "{answer}");
    assert_eq!(answer["error"]["message"], json!("`Idempotency-Key` is longer than 256 bytes"));
    let (status, answer) = h.post_logs(&ingest, "combined", &[("idempotency-key", &key[..256])], line).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    for path in ["/v1/tokens", "/v1/alerts", "/v1/events"] {
        let (status, page) = call(&h, &admin, Method::GET, path, "").await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let mut keys: Vec<&String> = page.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["items", "next_cursor"], "{path}");
    }
}
