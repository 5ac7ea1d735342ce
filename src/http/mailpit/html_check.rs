//! `GET /api/v1/message/{ID}/html-check`: the HTML check of a message's HTML body (Mailpit's
//! route and JSON), run on the blocking pool under a time limit.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::checks::html::{self, CheckError};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::found;

/// Checks run at once: each keeps a blocking thread busy for up to [`html::MAX_CHECK_TIME`].
const CONCURRENT_CHECKS: usize = 2;
static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_CHECKS);

/// How long the reply waits for a check: the check's own deadline plus time to parse the message.
/// Past it the client is answered; the check stops at its own deadline.
const REPLY_TIMEOUT: Duration = Duration::from_secs(html::MAX_CHECK_TIME.as_secs() + 5);

/// Mailpit's words for a message without an HTML body.
const NO_HTML: &str = "message does not contain HTML";

/// GET /api/v1/message/{id}/html-check: 404 for an unknown message, 400 with the reason for one
/// without HTML or whose HTML the check refuses (too big, too slow). Does not mark it read.
pub async fn html_check(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = found(&state.store, &id)?;
    let _permit = CHECKS
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable("the server is shutting down"))?;
    let check = tokio::task::spawn_blocking(move || {
        let body = message.parsed(|parsed| parsed.map(crate::mime::html).unwrap_or_default());
        if body.is_empty() {
            return Err(None);
        }
        html::check(&body).map_err(Some)
    });
    let outcome = match tokio::time::timeout(REPLY_TIMEOUT, check).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            tracing::error!("html-check of {id} failed: {e}");
            return Err(AppError::BadRequest(
                "the HTML check failed on this message".into(),
            ));
        }
        Err(_) => Err(Some(CheckError::TimedOut(REPLY_TIMEOUT))),
    };
    match outcome {
        Ok(report) => Ok(Json(report).into_response()),
        Err(None) => Err(AppError::BadRequest(NO_HTML.into())),
        Err(Some(e)) => {
            tracing::debug!("html-check of {id}: {e}");
            Err(AppError::BadRequest(e.to_string()))
        }
    }
}
