//! `GET /v1/alerts` (newest first) and `GET /v1/rules` (the loaded rule set and its errors).

use axum::Json;
use axum::extract::{Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use rampart_model::Permission;
use rampart_store::AlertRequest;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::routes::events::page_limit;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertParams {
    rule: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<QueryParams<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let QueryParams(params) = params.map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?;
    let request = AlertRequest {
        rule_id: params.rule.filter(|r| !r.is_empty()),
        limit: page_limit(params.limit)?.unwrap_or(100),
        cursor: params.cursor.filter(|c| !c.is_empty()),
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list_alerts(&request)).await.map_err(ApiError::internal)??;
    Ok(Json(json!({"items": page.items, "next_cursor": page.next_cursor})).into_response())
}

pub(crate) async fn rules(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let rules = state.detector.rules();
    let errors: Vec<String> = rules.errors.iter().map(ToString::to_string).collect();
    let items: Vec<&rampart_detect::RuleInfo> = rules.rules.iter().map(AsRef::as_ref).collect();
    Ok(Json(json!({"items": items, "errors": errors})).into_response())
}
