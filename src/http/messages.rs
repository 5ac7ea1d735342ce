//! Handlers for listing, reading and deleting messages (Mailpit API v1).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::AppError;
use super::mailpit::{Message, MessagesSummary};
use crate::message::StoredMessage;

/// Page size when the client names none.
pub const DEFAULT_LIMIT: usize = 50;

/// `start` and `limit` as text, so that junk falls back to the default instead of failing.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
}

impl PageQuery {
    fn start(&self) -> usize {
        self.start
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn limit(&self) -> usize {
        self.limit
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_LIMIT)
    }
}

/// GET /api/v1/messages
pub async fn list(State(state): State<AppState>, Query(query): Query<PageQuery>) -> Response {
    let start = query.start();
    let (page, counts) = state.store.page(start, query.limit());
    Json(MessagesSummary::page(&page, counts, start)).into_response()
}

/// Finds a message by UUID or `latest`.
fn find(state: &AppState, id: &str) -> Result<Arc<StoredMessage>, AppError> {
    let found = if id == "latest" {
        state.store.latest()
    } else {
        Uuid::parse_str(id).ok().and_then(|id| state.store.get(&id))
    };
    found.ok_or(AppError::NotFound("message not found"))
}

/// GET /api/v1/message/{id}: the full message; marks it read.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = find(&state, &id)?;
    state.store.set_read(&message.id, true);
    Ok(Json(Message::new(&message)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct RawQuery {
    dl: Option<String>,
}

/// GET /api/v1/message/{id}/raw: the bytes exactly as received.
pub async fn raw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<RawQuery>,
) -> Result<Response, AppError> {
    let message = find(&state, &id)?;
    let body = Bytes::copy_from_slice(&message.raw);
    let download = query.dl.as_deref().is_some_and(|v| v == "1" || v == "true");
    let mut response =
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    if download {
        let disposition = format!("attachment; filename=\"{}.eml\"", message.id);
        if let Ok(value) = disposition.parse() {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteRequest {
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
}

/// DELETE /api/v1/messages: the listed IDs, or everything when none are given. Answers 200 with an
/// empty body, which both Mailpit and MailHog clients accept.
pub async fn delete(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let request: DeleteRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    if request.ids.is_empty() {
        state.store.clear();
    } else {
        // An id that is not a UUID names no message, like an unknown one.
        let ids: Vec<Uuid> = request
            .ids
            .iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect();
        state.store.delete(&ids);
    }
    Ok(().into_response())
}
