//! Alerts and their lifecycle: `GET /v1/alerts` (filtered, newest first), `GET /v1/alerts/{id}`
//! (with transitions and evidence events), `POST /v1/alerts/{id}/acknowledge|close|reopen`; and
//! `GET /v1/rules` (the loaded rule set and its errors).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_model::{Alert, AlertStatus, Classification, Clock, Level, parse_entity};
use rampart_store::{AlertAction, AlertRequest};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, JsonBody, Page, PathParams, Read, Triage};
use crate::routes::events::{page_limit, time_param};
use crate::routes::params::{NoParams, Params};

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
    Params(params): Params<AlertParams>,
    _: Allowed<Read>,
) -> Result<Json<Page<Alert>>, ApiError> {
    let request = alert_request(params, state.clock.as_ref())?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list_alerts(&request)).await.map_err(ApiError::internal)??;
    Ok(Json(Page { items: page.items, next_cursor: page.next_cursor }))
}

fn alert_request(params: AlertParams, clock: &dyn Clock) -> Result<AlertRequest, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_parameters", message);
    let level = match params.level {
        Some(level) => {
            Some(Level::parse(&level).ok_or_else(|| invalid(format!("`level` must be one of {}, not `{level}`", Level::names())))?)
        }
        None => None,
    };
    let status = match params.status {
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
        level: level.map(|level| level.as_str().to_owned()),
        entity,
        status,
        from: time_param("from", params.from, clock)?,
        to: time_param("to", params.to, clock)?,
        limit: page_limit(params.limit)?.unwrap_or(100),
        cursor: params.cursor.filter(|c| !c.is_empty()),
    })
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _: Params<NoParams>,
    _: Allowed<Read>,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
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

/// The body of a status change: a note, and for `close` a classification.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionBody {
    note: Option<String>,
    classification: Option<Classification>,
}

/// Which change a route makes (the last path segment); `close` takes its classification from
/// the body.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verb {
    Acknowledge,
    Close,
    Reopen,
}

/// `POST /v1/alerts/{id}/acknowledge|close|reopen`: one code path for every status change,
/// recorded under the actor's name at the state clock's time.
pub(crate) async fn transition(
    State(state): State<AppState>,
    _: Params<NoParams>,
    Allowed(actor, _): Allowed<Triage>,
    PathParams((id, verb)): PathParams<(String, Verb)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (action, note) = action_of(verb, body)?;
    let (store, now) = (state.store.clone(), state.clock.now());
    let alert = tokio::task::spawn_blocking(move || store.transition_alert(&id, action, &actor.name, note.as_deref(), now))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({"alert": alert})))
}

/// The action and note a body asks for.
fn action_of(verb: Verb, body: ActionBody) -> Result<(AlertAction, Option<String>), ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_body", message);
    let note = body.note.filter(|n| !n.trim().is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(invalid(format!("`note` is longer than {MAX_NOTE_CHARS} characters")));
    }
    let action = match (verb, body.classification) {
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

pub(crate) async fn rules(State(state): State<AppState>, _: Params<NoParams>, _: Allowed<Read>) -> Result<Response, ApiError> {
    let rules = state.detector.rules();
    let errors: Vec<String> = rules.errors.iter().map(ToString::to_string).collect();
    let items: Vec<&rampart_detect::RuleInfo> = rules.rules.iter().map(AsRef::as_ref).collect();
    Ok(Json(json!({"items": items, "errors": errors})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::json_object;

    fn action(verb: Verb, body: &[u8]) -> Result<(AlertAction, Option<String>), ApiError> {
        action_of(verb, json_object(body)?)
    }

    #[test]
    fn bodies_of_status_changes() {
        assert!(matches!(action(Verb::Acknowledge, b""), Ok((AlertAction::Acknowledge, None))));
        assert!(matches!(action(Verb::Reopen, b"{\"note\": \"again\"}"), Ok((AlertAction::Reopen, Some(n))) if n == "again"));
        assert!(matches!(
            action(Verb::Close, b"{\"classification\": \"false_positive\", \"note\": null}"),
            Ok((AlertAction::Close(Classification::FalsePositive), None))
        ));
        for (verb, body) in [
            (Verb::Close, &b"{}"[..]),
            (Verb::Close, b"{\"classification\": \"maybe\"}"),
            (Verb::Close, b"{\"classification\": 5}"),
            (Verb::Acknowledge, b"{\"classification\": \"true_positive\"}"),
            (Verb::Acknowledge, b"{\"colour\": \"red\"}"),
            (Verb::Acknowledge, b"not json"),
            (Verb::Acknowledge, b"[null, null]"),
            (Verb::Reopen, b"{\"note\": 5}"),
        ] {
            let error = action(verb, body).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_body"), "{}", String::from_utf8_lossy(body));
        }
    }
}
