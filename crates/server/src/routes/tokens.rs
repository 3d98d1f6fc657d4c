//! `GET /v1/tokens`: the tokens, without their secrets (admin only).

use axum::Json;
use axum::extract::State;
use rampart_model::format_timestamp;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Allowed, Manage, Page};
use crate::routes::params::{NoParams, Params};

pub(crate) async fn list(
    State(state): State<AppState>,
    _: Params<NoParams>,
    _: Allowed<Manage>,
) -> Result<Json<Page<serde_json::Value>>, ApiError> {
    let store = state.store.clone();
    let tokens = tokio::task::spawn_blocking(move || store.list_tokens()).await.map_err(ApiError::internal)??;
    let now = state.clock.now();
    let items: Vec<_> = tokens
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "role": t.role,
                "created_at": format_timestamp(t.created_at),
                "expires_at": t.expires_at.map(format_timestamp),
                "revoked_at": t.revoked_at.map(format_timestamp),
                "active": t.is_active(now),
            })
        })
        .collect();
    Ok(Json(Page::complete(items)))
}
