//! MailHog's API (v1/v2) as existing clients parse it: see ../shared/spec/mailhog-api.md.
//!
//! - [`model`]: the Message JSON.
//! - [`mime`]: the raw header and multipart view that JSON shows, and part decoding.
//! - [`filter`]: the `/api/v2/search` kinds.
//! - [`events`]: Server-Sent Events and the WebSocket.
//!
//! `GET` and `DELETE /api/v1/messages` collide with the native API; the main router owns them and
//! calls [`v1_list`] when MailHog's list is switched on.

mod events;
mod filter;
pub mod mime;
pub mod model;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use uuid::Uuid;

use super::AppState;
use super::error::AppError;
use crate::message::StoredMessage;
use crate::search::Needle;
use filter::Kind;
use mime::Entity;
pub use model::{Message, Page};

/// Page size when the client names none.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page `/api/v2/messages` and `/api/v2/search` return.
pub const MAX_LIMIT: usize = 250;
/// Most messages the plain v1 list returns.
pub const V1_LIST_MAX: usize = 1000;

/// MailHog's routes, merged into the main router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/messages", get(v2_list))
        .route("/api/v2/search", get(v2_search))
        .route("/api/v2/websocket", get(events::websocket))
        .route("/api/v1/events", get(events::sse))
        .route("/api/v1/messages/{id}", get(v1_get).delete(v1_delete))
        .route("/api/v1/messages/{id}/download", get(download))
        .route(
            "/api/v1/messages/{id}/mime/part/{n}/download",
            get(download_part),
        )
}

/// Query parameters as pairs: repeated or malformed parameters must not fail the request, since
/// MailHog ignored them.
type Params = Query<Vec<(String, String)>>;

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A positive integer parameter; zero, negative or unparsable values count as absent.
fn positive(params: &[(String, String)], name: &str) -> Option<usize> {
    param(params, name)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// `start` and `limit` with MailHog's defaults and cap.
fn paging(params: &[(String, String)]) -> (usize, usize) {
    let start = positive(params, "start").unwrap_or(0);
    let limit = positive(params, "limit")
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    (start, limit)
}

/// GET /api/v2/messages?start=&limit=
async fn v2_list(State(state): State<AppState>, Query(params): Params) -> Response {
    let (start, limit) = paging(&params);
    let (page, counts) = state.store.page(start, limit);
    let items: Vec<Message<'_>> = page.iter().map(|m| Message::new(m)).collect();
    Json(Page {
        total: counts.total,
        count: items.len(),
        start,
        items,
    })
    .into_response()
}

/// GET /api/v2/search?kind=&query=&start=&limit=
async fn v2_search(
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Response, AppError> {
    let query = param(&params, "query").unwrap_or_default();
    if query.is_empty() {
        return Err(AppError::BadRequest("query must not be empty".into()));
    }
    let kind: Kind = param(&params, "kind")
        .unwrap_or_default()
        .parse()
        .map_err(|()| AppError::BadRequest("kind must be from, to or containing".into()))?;
    let (start, limit) = paging(&params);
    let needle = Needle::new(query);
    let found: Vec<Arc<StoredMessage>> = state
        .store
        .snapshot()
        .into_iter()
        .filter(|m| filter::matches(kind, &needle, m))
        .collect();
    let items: Vec<Message<'_>> = found
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| Message::new(m))
        .collect();
    Ok(Json(Page {
        total: found.len(),
        count: items.len(),
        start,
        items,
    })
    .into_response())
}

/// MailHog's `GET /api/v1/messages`: a plain array of full messages, newest first, at most
/// [`V1_LIST_MAX`]. Not routed here (the path belongs to the native list); the main router calls
/// it when `ApiOptions::mailhog_v1_list` is on.
pub async fn v1_list(State(state): State<AppState>) -> Response {
    let (page, _) = state.store.page(0, V1_LIST_MAX);
    let items: Vec<Message<'_>> = page.iter().map(|m| Message::new(m)).collect();
    Json(items).into_response()
}

fn find(state: &AppState, id: &str) -> Option<Arc<StoredMessage>> {
    Uuid::parse_str(id).ok().and_then(|id| state.store.get(&id))
}

fn found(state: &AppState, id: &str) -> Result<Arc<StoredMessage>, AppError> {
    find(state, id).ok_or(AppError::NotFound("message not found"))
}

/// GET /api/v1/messages/{id}. An unknown id answers 200 with `null`: clients (rpkamp's among
/// them) take that body to mean "no such message".
async fn v1_get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Some(m) => Json(Message::new(&m)).into_response(),
        None => ([(header::CONTENT_TYPE, "application/json")], "null").into_response(),
    }
}

/// DELETE /api/v1/messages/{id}: 200 with an empty body (npm `mailhog` parses any non-empty one).
async fn v1_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let m = found(&state, &id)?;
    if state.store.delete(&[m.id]) == 0 {
        // Deleted by someone else since the lookup.
        return Err(AppError::NotFound("message not found"));
    }
    Ok(StatusCode::OK.into_response())
}

/// Lends a stored message's bytes to a response body without copying them.
struct RawBytes(Arc<StoredMessage>);

impl AsRef<[u8]> for RawBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.raw
    }
}

/// GET /api/v1/messages/{id}/download: the stored bytes exactly.
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let m = found(&state, &id)?;
    let disposition = attachment(&format!("{}.eml", m.id));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("message/rfc822"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from(Bytes::from_owner(RawBytes(m))),
    )
        .into_response())
}

/// GET /api/v1/messages/{id}/mime/part/{n}/download: top-level part `n` (from 0), decoded.
async fn download_part(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let m = found(&state, &id)?;
    let entity = Entity::parse(model::data(&m));
    let (index, part) = n
        .parse::<usize>()
        .ok()
        .and_then(|i| Some((i, entity.parts.as_ref()?.get(i)?)))
        .ok_or(AppError::NotFound("no such part"))?;
    let content_type = match part.header("Content-Type") {
        Some(v) => HeaderValue::from_str(v.trim())
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        // RFC 2045 5.2: a part without Content-Type is US-ASCII plain text.
        None => HeaderValue::from_static("text/plain; charset=us-ascii"),
    };
    let filename = part.filename().unwrap_or_else(|| format!("part-{index}"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, attachment(&filename)),
            // The type comes from the mail: never let a browser sniff it into something active.
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        part.decoded_body(),
    )
        .into_response())
}

fn attachment(filename: &str) -> HeaderValue {
    content_disposition("attachment", filename)
}

/// `attachment; filename="…"` (or `inline; …`) with an ASCII stand-in for the name, plus the exact
/// name in RFC 6266 `filename*` form when it is not plain ASCII.
pub fn content_disposition(kind: &'static str, filename: &str) -> HeaderValue {
    let plain = |c: char| c.is_ascii_graphic() || c == ' ';
    let fallback: String = filename
        .chars()
        .map(|c| {
            if plain(c) && !matches!(c, '"' | '\\' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("{kind}; filename=\"{fallback}\"");
    if fallback != filename {
        value.push_str("; filename*=UTF-8''");
        for byte in filename.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(byte as char);
            } else {
                value.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    // Only printable ASCII was written, which is always a valid header value.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(kind))
}

#[cfg(test)]
mod tests;
