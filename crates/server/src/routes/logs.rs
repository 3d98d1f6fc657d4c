//! `POST /v1/logs/{format}`: raw log lines (access logs, NDJSON), with the caps and answers of
//! `POST /v1/events`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rampart_ingest::{LineIds, body_lines};
use rampart_model::Permission;

use crate::app::AppState;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::routes::events::{header_str, read_body, store_and_answer};
use crate::routes::params::{Params, bool_param};

/// Content types a body of lines may declare (or none).
const LINE_CONTENT_TYPES: &[&str] =
    &["text/plain", "application/octet-stream", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/json"];

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogParams {
    /// Old lines being replayed keep their timestamps: no live-time window.
    replay: Option<String>,
    /// Byte offset of this body in the source the `Idempotency-Key` names.
    offset: Option<String>,
}

pub(crate) async fn ingest(
    State(state): State<AppState>,
    Path(format_name): Path<String>,
    Params(params): Params<LogParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Ingest).await?;
    let live = !bool_param("replay", params.replay.as_deref())?;
    let offset = match params.offset.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_parameters", "`offset` must be a byte offset: a non-negative integer"))?,
    };
    let format = state.formats.get(&format_name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_format",
            format!(
                "no log format is named `{}`; known: {}",
                format_name.chars().take(64).collect::<String>(),
                state.formats.names().join(", ")
            ),
        )
    })?;
    if let Some(content_type) = header_str(&headers, header::CONTENT_TYPE) {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if !LINE_CONTENT_TYPES.contains(&essence.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send log lines as text/plain (or application/x-ndjson), one record a line",
            ));
        }
    }
    // A client that names its source can resend safely: each line's event id derives from the
    // key and the line's byte offset in that source.
    let ids = idempotency_key(&headers)?.map(|key| LineIds { key: xxhash_rust::xxh3::xxh3_64(key), offset });
    let encoding = header_str(&headers, header::CONTENT_ENCODING).map(str::to_owned);
    let bytes = read_body(&headers, body, state.limits.max_body_bytes).await?;
    let count = |decoded: &[u8]| body_lines(decoded).count();
    let now = state.clock.now();
    store_and_answer(&state, "logs", encoding, bytes, count, move |ingestor, decoded| {
        Ok(ingestor.ingest_lines(&format, decoded, now, live, ids))
    })
    .await
}

/// Longest `Idempotency-Key`, in bytes.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;

/// The `Idempotency-Key` header: absent or empty is none; longer than
/// [`MAX_IDEMPOTENCY_KEY_BYTES`] is `400 invalid_parameters`.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&[u8]>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.as_bytes();
    if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(ApiError::bad_request(
            "invalid_parameters",
            format!("`Idempotency-Key` is longer than {MAX_IDEMPOTENCY_KEY_BYTES} bytes"),
        ));
    }
    Ok((!key.is_empty()).then_some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_an_over_long_idempotency_key_is_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).ok(), Some(None));
        headers.insert("idempotency-key", "a".repeat(256).parse().expect("a header"));
        assert_eq!(idempotency_key(&headers).ok().flatten().map(<[u8]>::len), Some(256));
        headers.insert("idempotency-key", "a".repeat(257).parse().expect("a header"));
        let error = idempotency_key(&headers).expect_err("too long");
        assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_parameters"));
        assert_eq!(error.message, "`Idempotency-Key` is longer than 256 bytes");
    }
}
