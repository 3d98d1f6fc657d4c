//! Alerts and their lifecycle: `GET /v1/alerts` (filtered, newest first), `GET /v1/alerts/{id}`
//! (with transitions and evidence events), `POST /v1/alerts/{id}/acknowledge|close|reopen`; and
//! `GET /v1/rules` (the loaded rule set and its errors).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_model::{AlertStatus, Classification, EntityKind, Permission};
use rampart_store::{AlertAction, AlertRequest};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::routes::events::{page_limit, read_body, time_param};
use crate::routes::params::{NoParams, Params};

/// Rule levels, as Sigma names them.
const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];
/// Largest body of a status change: a note and a classification.
const MAX_ACTION_BODY_BYTES: usize = 16 << 10;
/// Longest note, in characters.
const MAX_NOTE_CHARS: usize = 4000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertParams {
    rule: Option<String>,
    level: Option<String>,
    entity: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(params): Params<AlertParams>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let request = alert_request(params)?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list_alerts(&request)).await.map_err(ApiError::internal)??;
    Ok(Json(json!({"items": page.items, "next_cursor": page.next_cursor})).into_response())
}

fn alert_request(params: AlertParams) -> Result<AlertRequest, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_parameters", message);
    let level = match params.level.filter(|l| !l.is_empty()) {
        Some(level) if LEVELS.contains(&level.as_str()) => Some(level),
        Some(level) => return Err(invalid(format!("`level` must be one of {}, not `{level}`", LEVELS.join(", ")))),
        None => None,
    };
    let status = match params.status.filter(|s| !s.is_empty()) {
        Some(status) => Some(
            AlertStatus::parse(&status)
                .ok_or_else(|| invalid(format!("`status` must be one of open, acknowledged, closed, not `{status}`")))?,
        ),
        None => None,
    };
    let entity = match params.entity {
        Some(text) => Some(parse_entity(&text).ok_or_else(|| {
            invalid("`entity` must be `kind:value` (kinds: ip, account, email, device, card, session, asn, api_key) or a bare value".into())
        })?),
        None => None,
    };
    Ok(AlertRequest {
        rule_id: params.rule.filter(|r| !r.is_empty()),
        level,
        entity,
        status,
        from: time_param("from", params.from)?,
        to: time_param("to", params.to)?,
        limit: page_limit(params.limit)?.unwrap_or(100),
        cursor: params.cursor.filter(|c| !c.is_empty()),
    })
}

/// `kind:value` when the part before the first colon names a kind, else the whole text as a
/// value of any kind (IPv6 addresses have colons too); `None` when there is no value.
pub(crate) fn parse_entity(text: &str) -> Option<(Option<EntityKind>, String)> {
    let (kind, value) = match text.split_once(':') {
        Some((kind, value)) if EntityKind::parse(kind).is_some() => (EntityKind::parse(kind), value),
        _ => (None, text),
    };
    (!value.is_empty()).then(|| (kind, value.to_owned()))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _: Params<NoParams>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let Path(id) = id.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, rampart_store::StoreError> {
        let Some((alert, transitions)) = store.get_alert(&id)? else { return Ok(None) };
        let evidence = store.evidence_events(&id)?.unwrap_or_default();
        Ok(Some((alert, transitions, evidence)))
    })
    .await
    .map_err(ApiError::internal)??;
    let (alert, transitions, evidence) = found.ok_or_else(not_found)?;
    Ok(Json(json!({"alert": alert, "transitions": transitions, "evidence": evidence})).into_response())
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "alert_not_found", "there is no alert with this id")
}

/// The body of a status change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    note: Option<String>,
    classification: Option<String>,
}

/// Which change a route makes; `close` takes its classification from the body.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Acknowledge,
    Close,
    Reopen,
}

pub(crate) async fn acknowledge(
    state: State<AppState>,
    _: Params<NoParams>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    change(state, headers, id, body, Verb::Acknowledge).await
}

pub(crate) async fn close(
    state: State<AppState>,
    _: Params<NoParams>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    change(state, headers, id, body, Verb::Close).await
}

pub(crate) async fn reopen(
    state: State<AppState>,
    _: Params<NoParams>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    change(state, headers, id, body, Verb::Reopen).await
}

async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
    verb: Verb,
) -> Result<Response, ApiError> {
    let token = authorize(&state, &headers, Permission::Triage).await?;
    let Path(id) = id.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let bytes = read_body(&headers, body, MAX_ACTION_BODY_BYTES).await?;
    let (action, note) = action_of(verb, &bytes)?;
    let store = state.store.clone();
    let alert =
        tokio::task::spawn_blocking(move || store.transition_alert(&id, action, &token.name, note.as_deref(), OffsetDateTime::now_utc()))
            .await
            .map_err(ApiError::internal)??;
    Ok(Json(json!({"alert": alert})).into_response())
}

/// The action and note a body asks for. An empty body is `{}`.
fn action_of(verb: Verb, bytes: &[u8]) -> Result<(AlertAction, Option<String>), ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_body", message);
    let body: ActionBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("the body must be JSON like {{\"note\": \"...\"}}: {e}")))?
    };
    let note = body.note.filter(|n| !n.trim().is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(invalid(format!("`note` is longer than {MAX_NOTE_CHARS} characters")));
    }
    let classification = match body.classification {
        Some(text) => Some(Classification::parse(&text).ok_or_else(|| {
            invalid(format!("`classification` must be one of true_positive, benign_positive, false_positive, not `{text}`"))
        })?),
        None => None,
    };
    let action = match (verb, classification) {
        (Verb::Close, Some(classification)) => AlertAction::Close(classification),
        (Verb::Close, None) => {
            return Err(invalid("closing needs a `classification`: true_positive, benign_positive or false_positive".into()));
        }
        (_, Some(_)) => return Err(invalid("only `close` takes a `classification`".into())),
        (Verb::Acknowledge, None) => AlertAction::Acknowledge,
        (Verb::Reopen, None) => AlertAction::Reopen,
    };
    Ok((action, note))
}

pub(crate) async fn rules(State(state): State<AppState>, _: Params<NoParams>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let rules = state.detector.rules();
    let errors: Vec<String> = rules.errors.iter().map(ToString::to_string).collect();
    let items: Vec<&rampart_detect::RuleInfo> = rules.rules.iter().map(AsRef::as_ref).collect();
    Ok(Json(json!({"items": items, "errors": errors})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_with_and_without_a_kind() {
        assert_eq!(parse_entity("ip:192.0.2.1"), Some((Some(EntityKind::Ip), "192.0.2.1".into())));
        assert_eq!(parse_entity("api_key:k:1"), Some((Some(EntityKind::ApiKey), "k:1".into())));
        assert_eq!(parse_entity("2001:db8::1"), Some((None, "2001:db8::1".into())));
        assert_eq!(parse_entity("ann"), Some((None, "ann".into())));
        assert_eq!(parse_entity("email:"), None);
        assert_eq!(parse_entity(""), None);
    }

    #[test]
    fn bodies_of_status_changes() {
        assert!(matches!(action_of(Verb::Acknowledge, b""), Ok((AlertAction::Acknowledge, None))));
        assert!(matches!(action_of(Verb::Reopen, b"{\"note\": \"again\"}"), Ok((AlertAction::Reopen, Some(n))) if n == "again"));
        assert!(matches!(
            action_of(Verb::Close, b"{\"classification\": \"false_positive\"}"),
            Ok((AlertAction::Close(Classification::FalsePositive), None))
        ));
        for (verb, body) in [
            (Verb::Close, &b"{}"[..]),
            (Verb::Close, b"{\"classification\": \"maybe\"}"),
            (Verb::Acknowledge, b"{\"classification\": \"true_positive\"}"),
            (Verb::Acknowledge, b"{\"colour\": \"red\"}"),
            (Verb::Acknowledge, b"not json"),
        ] {
            let error = action_of(verb, body).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_body"), "{}", String::from_utf8_lossy(body));
        }
    }
}
