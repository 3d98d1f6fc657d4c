//! Rampart's HTTP API: ingestion, search, alerts and their lifecycle, tokens and roles, metrics
//! and the OpenAPI document.
//!
//! **Owns:** the routes under `/v1`, authentication (bearer tokens, stored hashed) and the role
//! check of every endpoint ([`auth`]), the one error shape `{"error":{code,message,request_id}}`
//! ([`ApiError`]), `/healthz`, `/readyz`, `/metrics` and `/v1/openapi.json`.
//!
//! **Must not touch:** parsing rules, storage internals, detection: handlers are thin and call
//! `rampart-ingest` and the [`Store`](rampart_store::Store) trait.
//!
//! **Flow:** [`app`] builds the router from an [`AppState`], so tests drive it with `oneshot`
//! and no socket; [`serve`] runs it on a listener until shutdown, with header-read and idle timeouts and a
//! connection cap ([`ServeConfig`]). `POST /v1/events` streams the
//! body up to the cap, decodes it, masks and validates it, appends it to the store and answers
//! `202` only after the commit.
//!
//! ```no_run
//! # async fn run(state: rampart_server::AppState) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8470").await?;
//! rampart_server::serve(listener, state, std::future::pending()).await
//! # }
//! ```
#![deny(missing_docs)]

mod app;
pub mod auth;
mod detection;
mod error;
mod extract;
mod mask;
mod metrics;
mod rate_limit;
mod routes;
mod serve;
mod syslog;

pub use app::{AppState, DEFAULT_MAX_RECORDS, DEFAULT_SUPPRESSION, Limits, app, spawn_retention};
pub use detection::{
    CORRELATION_SNAPSHOT, RuleCount, Stored, correlation_upkeep, restore_correlation_state, save_correlation_state, store_and_detect,
    store_detections,
};
pub use error::ApiError;
pub use extract::{Actor, Page};
pub use mask::{ALERT_LOG_TARGET, alert_log_line, mask_emails_in, mask_personal, masked_alert};
pub use metrics::ServerMetrics;
pub use rate_limit::RateLimiter;
pub use serve::{ServeConfig, serve, serve_with};
pub use syslog::{SyslogConfig, SyslogListeners, spawn_syslog};
