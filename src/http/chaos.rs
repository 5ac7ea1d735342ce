//! The chaos routes: Mailpit's `/api/v1/chaos` triggers and MailHog's `/api/v2/jim`, both
//! views of the one engine in [`crate::chaos`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::AppError;
use crate::chaos::{Jim, Triggers};

/// GET /api/v1/chaos
pub async fn get_triggers(State(state): State<AppState>) -> Json<Triggers> {
    Json(state.chaos.triggers())
}

/// PUT /api/v1/chaos: replaces the triggers; omitted ones keep Mailpit's defaults (off).
pub async fn set_triggers(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Triggers>, AppError> {
    let triggers = parse::<Triggers>(&body)?.with_default_codes();
    triggers
        .validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    state.chaos.set_triggers(triggers);
    Ok(Json(triggers))
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
}

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
        parse(body)?
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
