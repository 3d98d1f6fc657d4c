//! Extractors every handler shares: the authenticated actor, a JSON body and path parameters,
//! each turning axum's rejection into an [`ApiError`] with our own message, and the page every
//! listing answers with.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use rampart_model::{Permission, Role};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::routes::events::{header_str, read_body};

/// Who a request acts for: its token's name and role. The name is what alert transitions (and,
/// later, the audit trail) record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
}

impl Actor {
    /// `403 forbidden` unless the actor's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a token with role `{}` may not do this ({permission:?}); see docs/roles.md", self.role),
        ))
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    /// `401` without a valid, unrevoked, unexpired bearer token.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor, ApiError> {
        let token = authenticate(state, &parts.headers).await?;
        Ok(Actor { name: token.name, role: token.role })
    }
}

/// A permission an endpoint needs, as a type, so that [`Allowed`] checks it while extracting
/// (before any body is read).
pub(crate) trait Needs: Send + Sync {
    /// The permission.
    const PERMISSION: Permission;
}

/// Reading events, alerts and rules.
pub(crate) struct Read;
/// Changing alerts.
pub(crate) struct Triage;
/// Managing tokens.
pub(crate) struct Manage;

impl Needs for Read {
    const PERMISSION: Permission = Permission::Read;
}
impl Needs for Triage {
    const PERMISSION: Permission = Permission::Triage;
}
impl Needs for Manage {
    const PERMISSION: Permission = Permission::Manage;
}

/// The [`Actor`] of a request whose role allows `P`: `401` without a valid token, `403` when
/// the role does not allow it, both before the body or the path is looked at.
pub(crate) struct Allowed<P>(pub Actor, pub std::marker::PhantomData<P>);

impl<P: Needs> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = Actor::from_request_parts(parts, state).await?;
        actor.require(P::PERMISSION)?;
        Ok(Allowed(actor, std::marker::PhantomData))
    }
}

/// Largest JSON body a [`JsonBody`] reads (a 4,000-character note, escaped, fits).
pub(crate) const MAX_JSON_BODY_BYTES: usize = 64 << 10;

/// A JSON object body deserialized into `T`; an empty body reads as `{}`. A body that is not a
/// JSON object, or does not fit `T`, is `400 invalid_body` naming the field at fault; another
/// declared content type is `415`, a larger body than [`MAX_JSON_BODY_BYTES`] `413`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        if let Some(content_type) = header_str(&parts.headers, header::CONTENT_TYPE) {
            let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            }
        }
        let bytes = read_body(&parts.headers, body, MAX_JSON_BODY_BYTES).await?;
        json_object(&bytes).map(JsonBody)
    }
}

/// `bytes` as a JSON object of type `T` (empty: `{}`).
pub(crate) fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_body", message);
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return serde_json::from_slice(b"{}").map_err(|e| invalid(format!("the body is empty, but {e}")));
    }
    if !text.starts_with(b"{") {
        return Err(invalid("the body must be a JSON object".into()));
    }
    let mut json = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            invalid(format!("the body does not fit: {inner}"))
        } else {
            invalid(format!("`{path}`: {inner}"))
        }
    })?;
    json.end().map_err(|e| invalid(format!("the body does not fit: {e}")))?;
    Ok(value)
}

/// Path parameters deserialized into `T`, or `400 invalid_parameters` (or `404` for a path
/// that names no resource this endpoint has) with our message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                let detail = error.body_text();
                let detail = detail.strip_prefix("Invalid URL: ").unwrap_or(&detail).to_owned();
                Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such resource ({detail}); see /v1/openapi.json")))
            }
            Err(rejection) => Err(ApiError::bad_request("invalid_parameters", format!("bad path: {}", rejection.body_text()))),
        }
    }
}

/// One page of a listing: the items and, when there are more, the cursor to pass back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page with every item (nothing more to fetch).
    pub fn complete(items: Vec<T>) -> Page<T> {
        Page { items, next_cursor: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        note: Option<String>,
    }

    #[test]
    fn issue_12_json_bodies_must_be_objects_of_the_right_shape() {
        assert_eq!(json_object::<Body>(b"").ok(), Some(Body { note: None }));
        assert_eq!(json_object::<Body>(b" {\"note\": \"x\"} ").ok(), Some(Body { note: Some("x".into()) }));
        for (body, says) in [
            (&b"[null, null]"[..], "must be a JSON object"),
            (b"\"text\"", "must be a JSON object"),
            (b"{\"note\": 5}", "`note`: invalid type: integer `5`, expected a string"),
            (b"{\"colour\": \"red\"}", "unknown field `colour`"),
            (b"{\"note\": ", "EOF"),
        ] {
            let error = json_object::<Body>(body).expect_err("refused");
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_body"));
            assert!(error.message.contains(says), "{}: {}", String::from_utf8_lossy(body), error.message);
        }
    }
}
