//! `POST /v1/events` (ingest) and `GET /v1/events` (search).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rampart_ingest::{Batch, BodyError, Format, Ingestor, RecordError, count_records, decode_body};
use rampart_model::{Clock, Event, Permission, Query, parse_time};
use rampart_store::{MAX_SEARCH_LIMIT, SearchRequest};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::authorize;
use crate::detection::{Stored, store_and_detect};
use crate::error::ApiError;
use crate::extract::{Allowed, Page, Read};
use crate::routes::params::{Params, bool_param};

/// At most this many record errors are listed in one answer (all are counted).
const MAX_LISTED_ERRORS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestParams {
    /// Old events being replayed keep their timestamps: no live-time window.
    replay: Option<String>,
}

pub(crate) async fn ingest(
    State(state): State<AppState>,
    Params(params): Params<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Ingest).await?;
    let live = !bool_param("replay", params.replay.as_deref())?;
    let content_type = header_str(&headers, header::CONTENT_TYPE).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "set Content-Type to application/json or application/x-ndjson",
        )
    })?;
    let format = Format::from_content_type(content_type).map_err(body_error)?;
    let encoding = header_str(&headers, header::CONTENT_ENCODING).map(str::to_owned);
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    let count = move |decoded: &[u8]| count_records(format, decoded);
    let now = state.clock.now();
    store_and_answer(&state, "http", encoding, bytes, count, move |ingestor, decoded| {
        ingestor.ingest_body(format, decoded, now, live).map_err(body_error)
    })
    .await
}

/// Decodes a body, turns it into events with `parse`, stores them, counts them under `source`
/// and answers as every ingest endpoint does: `202` with the counts, the counts of errors by code
/// and the first errors once the events are committed, `400` when no record was valid. A body
/// of more records than `max_records` (as `count` reads them) is refused whole with `413`
/// before any becomes an event; at most `ingest_slots` bodies become events at once.
pub(crate) async fn store_and_answer(
    state: &AppState,
    source: &'static str,
    encoding: Option<String>,
    bytes: Bytes,
    count: impl FnOnce(&[u8]) -> usize + Send + 'static,
    parse: impl FnOnce(&Ingestor, &[u8]) -> Result<Batch, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (ingestor, max_decompressed, worker_state) = (state.ingestor.clone(), state.limits.max_decompressed_bytes, state.clone());
    let max_records = state.limits.max_records;
    let slot = state.ingest_slots.clone().acquire_owned().await.map_err(ApiError::unavailable)?;
    let (errors, valid, stored) = tokio::task::spawn_blocking(move || -> Result<(Vec<RecordError>, usize, Stored), ApiError> {
        let _slot = slot;
        let decoded = decode_body(encoding.as_deref(), &bytes, max_decompressed).map_err(body_error)?;
        let records = count(&decoded);
        if records > max_records {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_records",
                format!("the body holds {records} records; at most {max_records} are taken per request (ingest.max_records): send smaller batches"),
            ));
        }
        let batch = parse(&ingestor, &decoded)?;
        let valid = batch.events.len();
        let state = worker_state;
        let stored = store_and_detect(&state, batch.events)?;
        Ok((batch.errors, valid, stored))
    })
    .await
    .map_err(ApiError::internal)??;
    let outcome = stored.outcome;

    state.metrics.count_events(source, "accepted", outcome.stored);
    state.metrics.count_events(source, "duplicate", outcome.duplicates);
    state.metrics.count_events(source, "rejected", errors.len());
    let mut error_counts = std::collections::BTreeMap::<&'static str, usize>::new();
    for error in &errors {
        *error_counts.entry(error.code.as_str()).or_default() += 1;
    }
    let answer = json!({
        "accepted": outcome.stored,
        "rejected": errors.len(),
        "duplicates": outcome.duplicates,
        "error_counts": error_counts,
        "errors": &errors[..errors.len().min(MAX_LISTED_ERRORS)],
        "alerts": stored.alerts.iter().map(|r| r.count).sum::<usize>(),
        "alerts_by_rule": stored.alerts,
        "alerts_updated": stored.alerts_updated,
    });
    // Duplicates are valid events already stored: a retry of a stored batch succeeds.
    let status = if valid == 0 { StatusCode::BAD_REQUEST } else { StatusCode::ACCEPTED };
    Ok((status, Json(answer)).into_response())
}

/// Reads a body of at most `max` bytes: `413` at once when `Content-Length` says more, else
/// while streaming.
pub(crate) async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    read_capped(body, max).await
}

/// Reads the body, stopping with 413 as soon as it passes `max` bytes (nothing more is buffered).
async fn read_capped(body: Body, max: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(_) => Err(ApiError::bad_request("body_unreadable", "the request body ended early or could not be read")),
    }
}

pub(crate) fn too_large(max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body is larger than {max} bytes; send smaller batches"))
}

pub(crate) fn body_error(error: BodyError) -> ApiError {
    let message = error.to_string();
    match error {
        BodyError::TooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body decompresses to more than {limit} bytes; send smaller batches"),
        ),
        BodyError::UnsupportedEncoding(_) | BodyError::UnsupportedContentType(_) => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
        }
        BodyError::CorruptGzip => ApiError::bad_request("invalid_gzip", message),
        _ => ApiError::bad_request("invalid_body", message),
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    Params(params): Params<SearchParams>,
    _: Allowed<Read>,
) -> Result<Json<Page<Event>>, ApiError> {
    let request = search_request(params, state.clock.as_ref())?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.search(&request)).await.map_err(ApiError::internal)??;
    Ok(Json(Page { items: page.items, next_cursor: page.next_cursor }))
}

pub(crate) fn page_limit(limit: Option<String>) -> Result<Option<usize>, ApiError> {
    limit
        .map(|limit| {
            limit.parse().ok().filter(|n| (1..=MAX_SEARCH_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::bad_request("invalid_parameters", format!("`limit` must be a number from 1 to {MAX_SEARCH_LIMIT}"))
            })
        })
        .transpose()
}

/// A time parameter: RFC 3339, epoch seconds or milliseconds, or relative to the clock's now
/// (`now`, `now-24h`, `-1h`).
pub(crate) fn time_param(name: &str, value: Option<String>, clock: &dyn Clock) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    parse_time(&value, clock).map(Some).map_err(|error| ApiError::bad_request("invalid_parameters", format!("`{name}`: {error}")))
}

fn search_request(params: SearchParams, clock: &dyn Clock) -> Result<SearchRequest, ApiError> {
    let query = Query::parse(params.q.as_deref().unwrap_or("")).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let mut request = SearchRequest::new(query);
    request.from = time_param("from", params.from, clock)?;
    request.to = time_param("to", params.to, clock)?;
    if let Some(limit) = page_limit(params.limit)? {
        request.limit = limit;
    }
    request.cursor = params.cursor.filter(|c| !c.is_empty());
    Ok(request)
}
