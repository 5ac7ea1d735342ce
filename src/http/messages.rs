//! Handlers for listing, searching, reading, marking and deleting messages (Mailpit API v1), and
//! the long poll that waits for a matching message to arrive.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::AppState;
use super::error::AppError;
use super::mailpit::{Message, MessagesSummary};
use super::params::Lenient;
use crate::message::StoredMessage;
use crate::search;
use crate::store::Event;

/// Page size when the client names none.
pub const DEFAULT_LIMIT: usize = 50;
/// The longest a `wait=` request may hold the connection.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// `start` and `limit` as text, so that junk falls back to the default instead of failing.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
    query: Option<String>,
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

fn parse_query(text: &str) -> Result<search::Query, AppError> {
    search::Query::parse(text).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Every stored message matching `query`, newest first. A search may scan every body, so it
/// runs on the blocking pool over a snapshot: never on the async workers, never under the lock.
async fn matching(
    state: &AppState,
    query: search::Query,
) -> Result<Vec<Arc<StoredMessage>>, AppError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut all = store.snapshot();
        if !query.is_empty() {
            all.retain(|m| query.matches(m));
        }
        all
    })
    .await
    .map_err(|_| AppError::Internal("search failed"))
}

/// The newest stored message that `wanted` accepts, found on the blocking pool.
async fn newest<F>(state: &AppState, wanted: Arc<F>) -> Result<Option<Arc<StoredMessage>>, AppError>
where
    F: Fn(&StoredMessage) -> bool + Send + Sync + 'static,
{
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.snapshot().into_iter().find(|m| wanted(m)))
        .await
        .map_err(|_| AppError::Internal("search failed"))
}

/// GET /api/v1/messages
pub async fn list(State(state): State<AppState>, Lenient(query): Lenient<PageQuery>) -> Response {
    if state.options.mailhog_v1_list {
        return super::mailhog::v1_list(State(state)).await;
    }
    let start = query.start();
    let (page, counts) = state.store.page(start, query.limit());
    Json(MessagesSummary::page(
        &page,
        counts,
        state.store.tags(),
        start,
    ))
    .into_response()
}

/// GET /api/v1/search?query=: like the list, over the matches; `messages_count` counts matches.
pub async fn search(
    State(state): State<AppState>,
    Lenient(params): Lenient<PageQuery>,
) -> Result<Response, AppError> {
    let query = parse_query(params.query.as_deref().unwrap_or_default())?;
    let found = matching(&state, query).await?;
    let start = params.start();
    let page: Vec<_> = found
        .iter()
        .skip(start)
        .take(params.limit())
        .cloned()
        .collect();
    let mut summary = MessagesSummary::page(&page, state.store.counts(), state.store.tags(), start);
    summary.messages_count = found.len();
    summary.messages_unread = found.iter().filter(|m| !m.is_read()).count();
    Ok(Json(summary).into_response())
}

/// DELETE /api/v1/search?query=: deletes the matches.
pub async fn delete_search(
    State(state): State<AppState>,
    Lenient(params): Lenient<PageQuery>,
) -> Result<Response, AppError> {
    let text = params.query.as_deref().unwrap_or_default();
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("a search query is required".into()));
    }
    let ids: Vec<Uuid> = matching(&state, parse_query(text)?)
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    state.store.delete(&ids);
    Ok(ok())
}

/// Mailpit answers PUT and DELETE with a plain `ok`.
fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// Finds a message by UUID or `latest`.
pub(super) fn find(state: &AppState, id: &str) -> Result<Arc<StoredMessage>, AppError> {
    let found = if id == "latest" {
        state.store.latest()
    } else {
        Uuid::parse_str(id).ok().and_then(|id| state.store.get(&id))
    };
    found.ok_or(AppError::NotFound("message not found"))
}

#[derive(Debug, Default, Deserialize)]
pub struct MessageQuery {
    query: Option<String>,
    wait: Option<String>,
    since: Option<String>,
}

/// GET /api/v1/message/{id}: the full message; marks it read. For `latest`, `query=` picks the
/// newest match, `wait=SECONDS` holds the request until one arrives, `since=` (a message ID or an
/// RFC 3339 time) ignores messages stored up to then.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Lenient(params): Lenient<MessageQuery>,
) -> Result<Response, AppError> {
    let message = if id == "latest"
        && (params.query.is_some() || params.wait.is_some() || params.since.is_some())
    {
        latest_matching(&state, &params).await?
    } else {
        find(&state, &id)?
    };
    state.store.set_read(&message.id, true);
    Ok(Json(Message::new(&message)).into_response())
}

async fn latest_matching(
    state: &AppState,
    params: &MessageQuery,
) -> Result<Arc<StoredMessage>, AppError> {
    let query = parse_query(params.query.as_deref().unwrap_or_default())?;
    let since = match params.since.as_deref() {
        None | Some("") => None,
        Some(since) => Some(since_time(state, since)?),
    };
    let wait = match params.wait.as_deref() {
        None | Some("") => Duration::ZERO,
        Some(secs) => secs
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            // Clamped before converting: a huge number must not overflow the Duration.
            .map(|s| Duration::from_secs_f64(s.min(MAX_WAIT.as_secs_f64())))
            .ok_or_else(|| {
                AppError::BadRequest(format!("wait must be a number of seconds, got {secs:?}"))
            })?,
    };
    let wanted =
        Arc::new(move |m: &StoredMessage| since.is_none_or(|t| m.created > t) && query.matches(m));
    // Subscribe before looking, so a message stored in between is not missed.
    let mut events = state.store.subscribe();
    if let Some(found) = newest(state, Arc::clone(&wanted)).await? {
        return Ok(found);
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::New(m))) if wanted(&m) => return Ok(m),
            Ok(Ok(_)) => {}
            // Missed events: look at the store again rather than guess.
            Ok(Err(RecvError::Lagged(_))) => {
                if let Some(found) = newest(state, Arc::clone(&wanted)).await? {
                    return Ok(found);
                }
            }
            Ok(Err(RecvError::Closed)) | Err(_) => {
                return Err(AppError::NotFound("no matching message arrived in time"));
            }
        }
    }
}

/// `since=`: a message ID (messages stored after it) or an RFC 3339 time.
fn since_time(state: &AppState, since: &str) -> Result<OffsetDateTime, AppError> {
    if let Ok(id) = Uuid::parse_str(since) {
        return state
            .store
            .get(&id)
            .map(|m| m.created)
            .ok_or(AppError::NotFound(
                "the message named by since= does not exist",
            ));
    }
    OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339).map_err(|_| {
        AppError::BadRequest(format!(
            "since must be a message ID or an RFC 3339 time, got {since:?}"
        ))
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct RawQuery {
    dl: Option<String>,
}

/// GET /api/v1/message/{id}/raw: the bytes exactly as received.
pub async fn raw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Lenient(query): Lenient<RawQuery>,
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

/// GET /api/v1/message/{id}/envelope (EXT): how the message arrived: HELO, MAIL FROM, every
/// RCPT TO, the client, TLS and the AUTH user. Does not mark the message read.
pub async fn envelope(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = find(&state, &id)?;
    Ok(Json(super::mailpit::EnvelopeJson::new(&message)).into_response())
}

/// GET /api/v1/message/{id}/headers: every header, every value, decoded.
pub async fn headers(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = find(&state, &id)?;
    Ok(Json(super::mailpit::headers(&message.raw)).into_response())
}

/// Raster image types a browser shows as a picture and nothing else; every other part (HTML, SVG,
/// PDF, text, anything the sender labelled) is a download, so mail content never becomes a page
/// of ours.
const RASTER_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// GET /api/v1/message/{id}/part/{part}: the decoded bytes of one MIME part.
pub async fn part(
    State(state): State<AppState>,
    Path((id, part_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let message = find(&state, &id)?;
    let part =
        super::mailpit::part(&message.raw, &part_id).ok_or(AppError::NotFound("part not found"))?;
    let essence = part
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let raster = RASTER_IMAGES.contains(&essence.as_str());
    let name = if part.file_name.is_empty() {
        format!("part-{part_id}")
    } else {
        part.file_name.clone()
    };
    let disposition =
        super::mailhog::content_disposition(if raster { "inline" } else { "attachment" }, &name);
    let content_type = HeaderValue::from_str(&part.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(super::origin::DEFAULT_CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        part.body,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteRequest {
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
}

/// Parses an optional JSON body; an empty body is the type's default.
fn json_body<T: Default + serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Ids that are not UUIDs name no message, like unknown ones.
fn uuids(ids: &[String]) -> Vec<Uuid> {
    ids.iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// DELETE /api/v1/messages: the listed IDs, or everything when none are given. Answers 200 with an
/// empty body, which both Mailpit and MailHog clients accept.
pub async fn delete(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let request: DeleteRequest = json_body(&body)?;
    if request.ids.is_empty() {
        state.store.clear();
    } else {
        state.store.delete(&uuids(&request.ids));
    }
    Ok(().into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ReadRequest {
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
    #[serde(rename = "Search", default)]
    search: Option<String>,
    #[serde(rename = "Read", default)]
    read: bool,
}

/// PUT /api/v1/messages: sets the read flag of the listed IDs, of a search's matches, or of all.
pub async fn set_read(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let request: ReadRequest = json_body(&body)?;
    let ids = if !request.ids.is_empty() {
        uuids(&request.ids)
    } else {
        let query = parse_query(request.search.as_deref().unwrap_or_default())?;
        matching(&state, query)
            .await?
            .iter()
            .map(|m| m.id)
            .collect()
    };
    for id in &ids {
        state.store.set_read(id, request.read);
    }
    Ok(ok())
}
