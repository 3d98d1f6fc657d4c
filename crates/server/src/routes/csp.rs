//! `POST /v1/csp-reports/{site}`: Content-Security-Policy violation reports from browsers.
//!
//! Browsers cannot authenticate, so this endpoint takes no token. It is what a page's policy
//! names in `report-uri` / `report-to`; instead of a token it has a small body cap and a
//! per-client budget, and it answers `204` so browsers move on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_ingest::{CspError, CspLimits, ResolvedClient, parse_csp_reports, valid_site};
use rampart_model::fields;
use serde_json::Value;

use crate::app::AppState;
use crate::detection::store_and_detect;
use crate::error::ApiError;
use crate::routes::events::{header_str, read_body};
use crate::routes::params::{NoParams, Params};

pub(crate) async fn report(
    State(state): State<AppState>,
    Path(site): Path<String>,
    _: Params<NoParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let (parts, body) = request.into_parts();
    let client = client_of(&state, peer, &parts.headers);
    if !state.csp_limiter.allow(client.client, Instant::now()) {
        state.metrics.count_events("csp", "rate_limited", 1);
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many CSP reports from this address; slow down"));
    }
    if !valid_site(&site) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_site", "a site name is 1 to 64 letters, digits, `.`, `-` or `_`"));
    }
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE).unwrap_or_default().to_owned();
    let user_agent = header_str(&parts.headers, header::USER_AGENT).map(str::to_owned);
    let bytes = read_body(&parts.headers, Body::new(body), state.limits.csp_max_body_bytes).await?;

    let (ingestor, metrics, worker_state) = (state.ingestor.clone(), state.metrics.clone(), state.clone());
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let outcome = parse_csp_reports(&content_type, &bytes, &site, user_agent.as_deref(), &CspLimits::default()).map_err(csp_error)?;
        metrics.count_events("csp", "dropped_noise", outcome.dropped_extension);
        let now = worker_state.clock.now();
        let mut events = Vec::with_capacity(outcome.events.len());
        for (index, mut report) in outcome.events.into_iter().enumerate() {
            if let Value::Object(map) = &mut report {
                map.insert(fields::SOURCE_IP.to_owned(), Value::String(client.client.to_string()));
                if let Some(proxy) = client.proxy {
                    map.insert(fields::CLIENT_IP.to_owned(), Value::String(proxy.to_string()));
                }
            }
            match ingestor.record_to_event(index, report, now, true) {
                Ok(event) => events.push(event),
                Err(_) => metrics.count_events("csp", "rejected", 1),
            }
        }
        let stored = store_and_detect(&worker_state, events)?;
        metrics.count_events("csp", "accepted", stored.outcome.stored);
        Ok(())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The browser behind the shop's CDN, when the peer is a trusted proxy. Repeated headers count
/// as one list, in order.
fn client_of(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> ResolvedClient {
    let resolver = state.ingestor.client_ip();
    let values: Vec<Option<String>> = resolver
        .sources()
        .iter()
        .map(|source| {
            let parts: Vec<&str> = headers.get_all(source.header()?).iter().filter_map(|v| v.to_str().ok()).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        })
        .collect();
    resolver.resolve(peer, |source| {
        let index = resolver.sources().iter().position(|s| s == source)?;
        values.get(index)?.as_deref()
    })
}

fn csp_error(error: CspError) -> ApiError {
    let message = error.to_string();
    match error {
        CspError::UnsupportedContentType => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message),
        CspError::TooManyReports { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_reports", message),
        _ => ApiError::bad_request("invalid_report", message),
    }
}
