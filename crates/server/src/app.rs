//! The router, its shared state, the request-id middleware, serving and background retention.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use rampart_detect::Detector;
use rampart_ingest::{Ingestor, LogFormats};
use rampart_model::{Clock, SystemClock};
use rampart_store::Store;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::metrics::{RequestLabels, ServerMetrics};
use crate::rate_limit::RateLimiter;
use crate::routes;

/// Caps on request bodies (`[ingest]` in `rampart.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body as sent (compressed or not); more is refused with 413 while streaming.
    pub max_body_bytes: usize,
    /// Largest body after decompression.
    pub max_decompressed_bytes: usize,
    /// Largest CSP report body (browsers send a few kilobytes).
    pub csp_max_body_bytes: usize,
    /// CSP report requests one client address may send per minute.
    pub csp_requests_per_minute: u32,
    /// Most records (events, log lines) one ingest request may carry; more is refused with 413
    /// before any becomes an event.
    pub max_records: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 << 20,
            max_decompressed_bytes: 10 << 20,
            csp_max_body_bytes: 64 << 10,
            csp_requests_per_minute: 60,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

/// Records per ingest request unless configured otherwise (`[ingest] max_records`): a full
/// 10 MiB body of 100-byte records.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where events and tokens live.
    pub store: Arc<dyn Store>,
    /// Turns bodies into events.
    pub ingestor: Arc<Ingestor>,
    /// Body caps.
    pub limits: Limits,
    /// Counters.
    pub metrics: ServerMetrics,
    /// Every metric, for `/metrics`.
    pub registry: Arc<Registry>,
    /// Access-log formats `POST /v1/logs/{format}` knows.
    pub formats: Arc<LogFormats>,
    /// Per-address budget of the unauthenticated CSP endpoint.
    pub csp_limiter: Arc<RateLimiter>,
    /// The rules every ingested event passes through.
    pub detector: Arc<Detector>,
    /// Repeats of a rule on the same entities within this time update one alert.
    pub suppression: time::Duration,
    /// Ingest requests turned into events at once (one per core): what a burst of concurrent
    /// bodies can cost beyond the bodies themselves is this many batches.
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
    /// Where "now" comes from (relative times, token expiry, transition times).
    pub clock: Arc<dyn Clock>,
}

/// The suppression window unless configured otherwise (`[detect] suppression`).
pub const DEFAULT_SUPPRESSION: time::Duration = time::Duration::minutes(10);

impl AppState {
    /// A state with fresh metrics, registered in `registry` together with whatever the caller
    /// registered there before (the store's metrics).
    pub fn new(store: Arc<dyn Store>, ingestor: Ingestor, formats: LogFormats, limits: Limits, mut registry: Registry) -> AppState {
        let metrics = ServerMetrics::default();
        metrics.register(&mut registry);
        AppState {
            store,
            ingestor: Arc::new(ingestor),
            limits,
            metrics,
            registry: Arc::new(registry),
            formats: Arc::new(formats),
            csp_limiter: Arc::new(RateLimiter::per_minute(limits.csp_requests_per_minute)),
            detector: Arc::new(builtin_detector()),
            suppression: DEFAULT_SUPPRESSION,
            ingest_slots: Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get().max(2)))),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same state with another suppression window.
    pub fn with_suppression(mut self, suppression: time::Duration) -> AppState {
        self.suppression = suppression;
        self
    }

    /// The same state reading the time from another clock (tests fix it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AppState {
        self.clock = clock;
        self
    }

    /// The same state with another rule set.
    pub fn with_detector(mut self, detector: Arc<Detector>) -> AppState {
        self.detector = detector;
        self
    }
}

/// The built-in rules with the built-in mapping.
fn builtin_detector() -> Detector {
    let rules = rampart_detect::compile_rules(
        &rampart_detect::builtin_rules(),
        &rampart_detect::FieldMapping::builtin(),
        &std::collections::HashSet::new(),
    );
    Detector::from_compiled(rules)
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("limits", &self.limits)
            .field("suppression", &self.suppression)
            .finish_non_exhaustive()
    }
}

/// The whole API as a router; tests call it with `oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/v1/openapi.json", get(routes::ops::openapi))
        .route("/v1/events", post(routes::events::ingest).get(routes::events::search))
        .route("/v1/logs/{format}", post(routes::logs::ingest))
        .route("/v1/csp-reports/{site}", post(routes::csp::report))
        .route("/v1/alerts", get(routes::alerts::list))
        .route("/v1/alerts/{id}", get(routes::alerts::show))
        .route("/v1/alerts/{id}/{action}", post(routes::alerts::transition))
        .route("/v1/rules", get(routes::alerts::rules))
        .route("/v1/tokens", get(routes::tokens::list))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), request_id))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method; see /v1/openapi.json")
}

/// Gives every request an id (`x-request-id`), puts it into error bodies, logs 5xx details,
/// and counts requests by route.
async fn request_id(axum::extract::State(state): axum::extract::State<AppState>, request: Request, next: Next) -> Response {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        if let Some(detail) = error.internal_detail() {
            tracing::error!(request_id = %id, route = %route, method = %method, status = error.status.as_u16(), detail, "request failed");
        }
        let headers = std::mem::take(response.headers_mut());
        response = (error.status, Json(error.body(&id))).into_response();
        for (name, value) in headers.iter() {
            if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::CONTENT_TYPE {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    let status = match response.status().as_u16() {
        500.. => "5xx",
        400..=499 => "4xx",
        _ => "2xx",
    };
    state.metrics.requests.get_or_create(&RequestLabels { route, status }).inc();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Deletes events older than `retention` now and then every `every`, off the async threads.
pub fn spawn_retention(store: Arc<dyn Store>, retention: Duration, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let cutoff = OffsetDateTime::now_utc() - retention;
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.purge_before(cutoff)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(deleted)) => tracing::info!(deleted, retention_days = retention.as_secs() / 86_400, "retention purged old events"),
                Ok(Err(error)) => tracing::warn!(error = %error, "retention purge failed; it runs again at the next interval"),
                Err(error) => tracing::warn!(error = %error, "retention task panicked"),
            }
        }
    })
}
