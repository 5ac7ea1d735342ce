//! `/api/v2/jim`: MailHog's chaos monkey, the other view of the engine in [`crate::chaos`]. MailHog
//! answers its state errors with a bare status, and clients rely on those codes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::chaos::Jim;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::json;

/// MailHog answers Jim's state errors with a bare status.
fn status(code: StatusCode) -> Response {
    code.into_response()
}

/// GET /api/v2/jim: the settings while Jim is on, 404 while off.
pub async fn get_jim(State(state): State<AppState>) -> Response {
    match state.chaos.jim() {
        Some(jim) => Json(jim).into_response(),
        None => status(StatusCode::NOT_FOUND),
    }
}

/// Jim settings from a body; an empty body means MailHog's defaults.
fn jim_from(body: &Bytes) -> Result<Jim, AppError> {
    let jim = if body.iter().all(u8::is_ascii_whitespace) {
        Jim::default()
    } else {
        json(body)?
    };
    jim.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(jim)
}

/// POST /api/v2/jim: turns Jim on (201); 400 when already on.
pub async fn enable_jim(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    if state.chaos.jim().is_some() {
        return Ok(status(StatusCode::BAD_REQUEST));
    }
    let jim = jim_from(&body)?;
    state.chaos.set_jim(Some(jim));
    Ok((StatusCode::CREATED, Json(jim)).into_response())
}

/// PUT /api/v2/jim: replaces the settings; 404 while off.
pub async fn replace_jim(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    if state.chaos.jim().is_none() {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let jim = jim_from(&body)?;
    state.chaos.set_jim(Some(jim));
    Ok(Json(jim).into_response())
}

/// DELETE /api/v2/jim: turns Jim off; 404 when already off.
pub async fn disable_jim(State(state): State<AppState>) -> Response {
    if state.chaos.jim().is_none() {
        return status(StatusCode::NOT_FOUND);
    }
    state.chaos.set_jim(None);
    status(StatusCode::OK)
}
