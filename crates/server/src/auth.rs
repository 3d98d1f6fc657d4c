//! API tokens and roles: making tokens, and checking a request's token against the endpoint.
//!
//! A token is `rmp_` and 64 hex digits (256 random bits). Only its SHA-256 is stored: a fast
//! hash is right for a secret with that much entropy, and lets every request be checked in
//! one indexed lookup. Revocation and expiry take effect on the next request.

use axum::http::{HeaderMap, StatusCode, header};
use rampart_model::Permission;
use rampart_store::TokenInfo;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

const PREFIX: &str = "rmp_";

/// A new random token and the hash to store for it.
pub fn generate_token() -> (String, [u8; 32]) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{PREFIX}{}", hex::encode(secret));
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Checks the request's bearer token and that its role allows `permission`.
pub async fn authorize(state: &AppState, headers: &HeaderMap, permission: Permission) -> Result<TokenInfo, ApiError> {
    let info = authenticate(state, headers).await?;
    if !info.role.allows(permission) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a token with role `{}` may not do this ({permission:?}); see docs/roles.md", info.role),
        ));
    }
    Ok(info)
}

/// The request's token: `401` unless it carries a known, unrevoked, unexpired bearer token
/// (expiry read from the state's clock).
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<TokenInfo, ApiError> {
    let unauthorized = |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("unauthorized", "send an API token as `Authorization: Bearer <token>`"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]))
        .map(str::trim)
        .filter(|t| t.starts_with(PREFIX))
        .ok_or_else(|| unauthorized("unauthorized", "the Authorization header must be `Bearer rmp_...`"))?;
    let hash = hash_token(token);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.find_token(&hash)).await.map_err(ApiError::internal)??;
    let info = found.ok_or_else(|| unauthorized("unauthorized", "unknown token"))?;
    let now = state.clock.now();
    if info.revoked_at.is_some() {
        return Err(unauthorized("token_revoked", "this token was revoked"));
    }
    if info.expires_at.is_some_and(|t| t <= now) {
        return Err(unauthorized("token_expired", "this token has expired"));
    }
    Ok(info)
}
