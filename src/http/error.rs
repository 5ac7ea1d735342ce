//! HTTP errors: every failure becomes a status code and a JSON `{"Error": "…"}` body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error a handler returns; internal detail is logged, not sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    /// The request asks for more than a bound allows (a message over the size limit).
    #[error("{0}")]
    TooLarge(String),
    /// Something this server never does (relaying).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A bound was reached (too many clients of a kind); the client may retry later.
    #[error("{0}")]
    Unavailable(&'static str),
    /// Something on our side failed; the detail is logged where it happened.
    #[error("{0}")]
    Internal(&'static str),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "Error": self.to_string() })),
        )
            .into_response()
    }
}

/// Turns the framework's own plain-text client errors (an undecodable path segment, say) into the
/// same JSON as ours, so API clients always get `{"Error": …}`.
pub async fn json_rejections(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    (status, Json(serde_json::json!({ "Error": text }))).into_response()
}
