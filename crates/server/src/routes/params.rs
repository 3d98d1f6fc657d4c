//! Query parameters, read the same way on every endpoint: an unknown or malformed parameter is
//! `400 invalid_parameters` naming it, in the API's error shape.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The query string deserialized into `T` (whose fields are all optional strings and which
/// denies unknown fields), or `invalid_parameters`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri).map(|Query(params)| Params(params)).map_err(|rejection| {
            let text = rejection.body_text();
            let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
            ApiError::bad_request("invalid_parameters", format!("bad query parameters: {detail}; see /v1/openapi.json"))
        })
    }
}

/// The parameters of an endpoint that takes none.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

/// A `true`/`false` parameter (also `1`/`0`); absent is `false`, an empty value is refused.
pub(crate) fn bool_param(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(ApiError::bad_request("invalid_parameters", format!("`{name}` must be true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_boolean_parameters_take_true_false_1_0_only() {
        assert_eq!(bool_param("replay", None).ok(), Some(false));
        for (text, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(bool_param("replay", Some(text)).ok(), Some(want), "{text}");
        }
        for text in ["", "yes", "TRUE"] {
            let error = bool_param("replay", Some(text)).expect_err(text);
            assert_eq!(error.message, "`replay` must be true or false");
        }
    }
}
