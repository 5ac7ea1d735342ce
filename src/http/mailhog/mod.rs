//! MailHog's API (v1/v2) as existing clients parse it: see ../shared/spec/mailhog-api.md.
//!
//! - [`model`]: the Message JSON.
//! - [`filter`]: the `/api/v2/search` kinds.
//! - [`jim`]: the chaos monkey at `/api/v2/jim`.
//! - [`shared`]: each message's JSON rendered once for all the responses sending it.
//!
//! Its live streams (`/api/v2/websocket`, `/api/v1/events`) come from the shared hub in
//! [`crate::http::live`]. `GET` and `DELETE /api/v1/messages` are claimed by both APIs; the
//! Mailpit routes own them and serve [`v1_list`] when MailHog's list is switched on.

mod filter;
pub mod jim;
pub mod model;
pub mod shared;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::extract::{Lenient, PageQuery, Paging, find, found};
use super::{live, respond};
use crate::message::StoredMessage;
use crate::mime::entity::Entity;
use crate::search::Needle;
use filter::Kind;
pub use model::{Message, Page};

/// Largest page `/api/v2/messages` and `/api/v2/search` return.
pub const MAX_LIMIT: usize = 250;
/// Most messages the plain v1 list returns.
pub const V1_LIST_MAX: usize = 1000;

/// MailHog's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/messages", get(v2_list))
        .route("/api/v2/search", get(v2_search))
        .route("/api/v2/websocket", get(live::mailhog_socket))
        .route("/api/v1/events", get(live::mailhog_events))
        .route("/api/v1/messages/{id}", get(v1_get).delete(v1_delete))
        .route("/api/v1/messages/{id}/download", get(download))
        .route(
            "/api/v1/messages/{id}/release",
            axum::routing::post(super::mailpit::info::release),
        )
        .route(
            "/api/v1/messages/{id}/mime/part/{n}/download",
            get(download_part),
        )
        .route(
            "/api/v2/jim",
            get(jim::get_jim)
                .post(jim::enable_jim)
                .put(jim::replace_jim)
                .delete(jim::disable_jim),
        )
}

/// Answers with JSON made of `chunks`, sent one after another: shared renders are never joined
/// into a copy per response.
fn chunked_json(chunks: Vec<Bytes>) -> Response {
    let length: usize = chunks.iter().map(Bytes::len).sum();
    let body = Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        body,
    )
        .into_response()
}

/// `prefix`, the JSON of each message separated by commas, then `suffix`. Rendering parses each
/// message's MIME structure, so it runs on the blocking pool.
async fn render(
    state: &AppState,
    messages: Vec<Arc<StoredMessage>>,
    prefix: String,
    suffix: &'static str,
) -> Result<Response, AppError> {
    let renders = Arc::clone(&state.mailhog_renders);
    let chunks = tokio::task::spawn_blocking(move || {
        let mut chunks = Vec::with_capacity(messages.len() * 2 + 2);
        chunks.push(Bytes::from(prefix));
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                chunks.push(Bytes::from_static(b","));
            }
            chunks.push(renders.json(m)?);
        }
        chunks.push(Bytes::from_static(suffix.as_bytes()));
        Ok::<_, serde_json::Error>(chunks)
    })
    .await
    .map_err(|_| AppError::Internal("rendering failed"))?
    .map_err(|e| {
        tracing::warn!("cannot serialize MailHog JSON: {e}");
        AppError::Internal("rendering failed")
    })?;
    Ok(chunked_json(chunks))
}

/// A page of messages as MailHog's v2 routes answer it.
async fn page(
    state: &AppState,
    messages: Vec<Arc<StoredMessage>>,
    total: usize,
    paging: Paging,
) -> Result<Response, AppError> {
    let prefix = format!(
        "{{\"total\":{total},\"count\":{},\"start\":{},\"items\":[",
        messages.len(),
        paging.start
    );
    render(state, messages, prefix, "]}").await
}

/// GET /api/v2/messages?start=&limit=
async fn v2_list(
    State(state): State<AppState>,
    Lenient(query): Lenient<PageQuery>,
) -> Result<Response, AppError> {
    let paging = query.paging(Some(MAX_LIMIT));
    let (messages, counts) = state.store.page(paging.start, paging.limit);
    page(&state, messages, counts.total, paging).await
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    kind: Option<String>,
    query: Option<String>,
    start: Option<String>,
    limit: Option<String>,
}

/// GET /api/v2/search?kind=&query=&start=&limit=
async fn v2_search(
    State(state): State<AppState>,
    Lenient(params): Lenient<SearchQuery>,
) -> Result<Response, AppError> {
    let query = params.query.unwrap_or_default();
    if query.is_empty() {
        return Err(AppError::BadRequest("query must not be empty".into()));
    }
    let kind: Kind = params
        .kind
        .unwrap_or_default()
        .parse()
        .map_err(|()| AppError::BadRequest("kind must be from, to or containing".into()))?;
    let paging = PageQuery {
        start: params.start,
        limit: params.limit,
        ..PageQuery::default()
    }
    .paging(Some(MAX_LIMIT));
    let needle = Needle::new(&query);
    let found: Vec<Arc<StoredMessage>> = state
        .store
        .scan(move |all| {
            all.messages()
                .iter()
                .filter(|m| filter::matches(kind, &needle, m))
                .cloned()
                .collect()
        })
        .await;
    let total = found.len();
    page(&state, paging.of(&found), total, paging).await
}

/// MailHog's `GET /api/v1/messages`: a plain array of full messages, newest first, at most
/// [`V1_LIST_MAX`]. Routed by the Mailpit routes when `mailhog_v1_list` is on.
pub async fn v1_list(State(state): State<AppState>) -> Result<Response, AppError> {
    let (messages, _) = state.store.page(0, V1_LIST_MAX);
    render(&state, messages, "[".into(), "]").await
}

/// GET /api/v1/messages/{id}. An unknown id answers 200 with `null`: clients (rpkamp's among
/// them) take that body to mean "no such message".
async fn v1_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match find(&state.store, &id) {
        Some(m) => render(&state, vec![m], String::new(), "").await,
        None => Ok(respond::json(b"null".to_vec())),
    }
}

/// DELETE /api/v1/messages/{id}: 200 with an empty body (npm `mailhog` parses any non-empty one).
async fn v1_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let m = found(&state.store, &id)?;
    if state.store.delete(vec![m.id]).await == 0 {
        // Deleted by someone else since the lookup.
        return Err(AppError::NotFound("message not found"));
    }
    Ok(StatusCode::OK.into_response())
}

/// GET /api/v1/messages/{id}/download: the stored bytes exactly.
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let m = found(&state.store, &id)?;
    Ok(respond::raw_message(m, "message/rfc822", true))
}

/// GET /api/v1/messages/{id}/mime/part/{n}/download: top-level part `n` (from 0), decoded.
async fn download_part(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let m = found(&state.store, &id)?;
    let entity = Entity::parse(model::data(&m), &m.mime_limits());
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
            (
                header::CONTENT_DISPOSITION,
                respond::content_disposition("attachment", &filename),
            ),
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

#[cfg(test)]
mod tests;
