//! `/api/v1/chaos`: Mailpit's chaos triggers, one view of the engine in [`crate::chaos`]
//! (MailHog's Jim is the other, in `http/mailhog/jim.rs`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use crate::chaos::Triggers;
use crate::http::AppState;
use crate::http::error::AppError;

/// GET /api/v1/chaos
pub async fn get_triggers(State(state): State<AppState>) -> Json<Triggers> {
    Json(state.chaos.triggers())
}

/// PUT /api/v1/chaos: replaces the triggers; omitted ones keep Mailpit's defaults (off).
pub async fn set_triggers(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Triggers>, AppError> {
    let triggers = crate::http::extract::json::<Triggers>(&body)?.with_default_codes();
    triggers
        .validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    state.chaos.set_triggers(triggers);
    Ok(Json(triggers))
}
