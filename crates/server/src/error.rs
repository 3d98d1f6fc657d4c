//! The API's one error type and its JSON shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: `{"error": {"code", "message", "request_id"}}`. A 5xx carries a generic
/// message; its details go to the log only, with the request id.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong and what to do, for 4xx; generic for 5xx.
    pub message: String,
    /// For 5xx: what really happened, logged and never sent.
    internal: Option<String>,
}

impl ApiError {
    /// A client error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), internal: None }
    }

    /// A server-side failure: the client learns only that it happened.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; the server log has the details under this request id".into(),
            internal: Some(detail.to_string()),
        }
    }

    /// The store cannot take requests now (it is shutting down).
    pub fn unavailable(detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the service is unavailable; retry later".into(),
            internal: Some(detail.to_string()),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The body of this error for a request.
    pub(crate) fn body(&self, request_id: &str) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message, "request_id": request_id}})
    }

    /// The logged detail of a 5xx.
    pub(crate) fn internal_detail(&self) -> Option<&str> {
        self.internal.as_deref()
    }
}

impl From<rampart_store::StoreError> for ApiError {
    fn from(error: rampart_store::StoreError) -> Self {
        match error {
            rampart_store::StoreError::BadCursor => ApiError::bad_request("invalid_cursor", error.to_string()),
            rampart_store::StoreError::AlertNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "alert_not_found", error.to_string()),
            rampart_store::StoreError::InvalidTransition { .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", error.to_string())
            }
            rampart_store::StoreError::Closed => ApiError::unavailable(error),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    /// The request-id middleware fills in `request_id` (see `app::request_id`); a response
    /// built outside it gets an empty one.
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body(""))).into_response();
        response.extensions_mut().insert(self);
        response
    }
}
