//! Issue 11, item 4: requests from many clients at once while alerts are raised.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rampart_model::Role;
use rampart_store::{AlertStore, EventStore};

use super::{harness, line_at, sqli};

/// Eight clients send access lines of named sources at once, most of them attacks that raise
/// alerts (each from its own address: a new alert per line), while an analyst acknowledges alerts: no request
/// fails, every line is stored. Before the fix a share of them was answered 500, "database is
/// locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn issue_11_eight_clients_while_alerts_are_raised_get_no_5xx() {
    let h = harness();
    let token = h.token("sender", Role::Ingest);
    let analyst = h.token("analyst", Role::Analyst);
    let (clients, requests, lines) = (8, 20, 40);
    let done = Arc::new(AtomicBool::new(false));
    let acknowledger = {
        let (state, done) = (h.state.clone(), done.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let get = Request::get("/v1/alerts?status=open&limit=20").header(header::AUTHORIZATION, format!("Bearer {analyst}"));
                let (status, page) = crate::send(&state, get.body(Body::empty()).unwrap()).await;
                if status != StatusCode::OK {
                    failures.push((status, page));
                    continue;
                }
                for id in page["items"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_str()) {
                    let post = Request::post(format!("/v1/alerts/{id}/acknowledge"))
                        .header(header::AUTHORIZATION, format!("Bearer {analyst}"))
                        .header(header::CONTENT_TYPE, "application/json");
                    let (status, answer) = crate::send(&state, post.body(Body::from("{}")).unwrap()).await;
                    if status != StatusCode::OK {
                        failures.push((status, answer));
                    }
                }
                tokio::task::yield_now().await;
            }
            failures
        })
    };
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (state, token) = (h.state.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut offset = 0;
            for r in 0..requests {
                let body: Vec<String> = (0..lines)
                    .map(|l| match l % 4 {
                        0..3 => sqli(&format!("198.{c}.{r}.{l}"), l, 1),
                        _ => line_at("192.0.2.1", &format!("/product/{c}/{r}/{l}"), 1),
                    })
                    .collect();
                // Named sources, as `ingest --follow` sends them: each line's id derives from
                // its offset, so the store checks each for a resend before writing it.
                let body = body.join("\n") + "\n";
                let request = Request::post(format!("/v1/logs/combined?offset={offset}"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header("Idempotency-Key", format!("client-{c}"))
                    .body(Body::from(body.clone()))
                    .unwrap();
                offset += body.len();
                let (status, answer) = crate::send(&state, request).await;
                statuses.push((status, answer["accepted"].clone()));
            }
            statuses
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    done.store(true, Ordering::Relaxed);
    assert_eq!(acknowledger.await.unwrap(), Vec::new());
    let refused: Vec<_> = answers.iter().filter(|(status, _)| *status != StatusCode::ACCEPTED).collect();
    assert_eq!(refused, Vec::<&(StatusCode, serde_json::Value)>::new());
    assert!(answers.iter().all(|(_, accepted)| *accepted == serde_json::json!(lines)), "{answers:?}");
    assert_eq!(h.store.count_events().unwrap(), (clients * requests * lines) as u64);
    let alerts = h.store.list_alerts(&rampart_store::AlertRequest { limit: 1000, ..Default::default() }).unwrap();
    assert_eq!(alerts.items.len(), 1000);
    assert!(alerts.items.iter().any(|a| a.status == rampart_model::AlertStatus::Acknowledged));
}
