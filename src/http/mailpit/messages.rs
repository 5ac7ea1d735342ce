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

use super::model::{EnvelopeJson, Message, MessagesSummary};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Lenient, PageQuery, found, uuids};
use crate::http::respond;
use crate::message::StoredMessage;
use crate::search;
use crate::store::Event;

/// The longest a `wait=` request may hold the connection.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

fn parse_query(state: &AppState, text: &str) -> Result<search::Query, AppError> {
    search::Query::parse_within(text, &state.options.search)
        .map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Cancels a search when its request goes away (the client left, or a timeout fired).
struct CancelOnDrop(search::Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Every stored message matching `query`, newest first: a scan off the async workers that stops
/// at `--search-timeout`, when the client goes, or when the server shuts down.
async fn matching(
    state: &AppState,
    query: search::Query,
) -> Result<Vec<Arc<StoredMessage>>, AppError> {
    let cancel = search::Cancel::new(state.options.search.timeout);
    let guard = CancelOnDrop(cancel.clone());
    let scan = state.store.scan({
        let cancel = cancel.clone();
        move |all| query.run(&all, &cancel)
    });
    let found = tokio::select! {
        found = scan => found,
        () = state.stopping() => None,
    };
    drop(guard);
    found.ok_or_else(|| {
        if cancel.timed_out() {
            AppError::Unavailable("the search took longer than --search-timeout allows")
        } else {
            AppError::Unavailable("the server is shutting down")
        }
    })
}

/// The newest stored message that `wanted` accepts (a scan, off the async workers).
async fn newest<F>(state: &AppState, wanted: Arc<F>) -> Option<Arc<StoredMessage>>
where
    F: Fn(&StoredMessage) -> bool + Send + Sync + 'static,
{
    state
        .store
        .scan(move |all| all.messages().iter().find(|m| wanted(m)).cloned())
        .await
}

/// GET /api/v1/messages
pub async fn list(State(state): State<AppState>, Lenient(query): Lenient<PageQuery>) -> Response {
    let paging = query.paging(None);
    let placed = query
        .around()
        .and_then(|(id, before)| state.store.page_around(&id, before, paging.limit));
    let (page, counts, start) = placed.unwrap_or_else(|| {
        let (page, counts) = state.store.page(paging.start, paging.limit);
        (page, counts, paging.start)
    });
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
    let query = parse_query(&state, params.query.as_deref().unwrap_or_default())?;
    let found = matching(&state, query).await?;
    let mut paging = params.paging(None);
    if let Some((id, before)) = params.around()
        && let Some(at) = found.iter().position(|m| m.id == id)
    {
        paging.start = at.saturating_sub(before);
    }
    let page = paging.of(&found);
    let mut summary = MessagesSummary::page(
        &page,
        state.store.counts(),
        state.store.tags(),
        paging.start,
    );
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
    let ids: Vec<Uuid> = matching(&state, parse_query(&state, text)?)
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    state.store.delete(ids).await;
    Ok(respond::ok())
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
    let message = lookup(&state, &id, &params).await?;
    state.store.set_read(vec![message.id], true).await;
    let json = crate::store::read(Arc::clone(&message), |m| Json(Message::new(m))).await;
    let mut response = json.into_response();
    mark_truncated(&mut response, &message);
    Ok(response)
}

/// The newest message matching `query` stored after `since`, waited for up to `wait` seconds:
/// the wait API, for callers other than the HTTP route (the MCP tools).
pub(crate) async fn wait_for(
    state: &AppState,
    query: Option<String>,
    wait: Option<String>,
    since: Option<String>,
) -> Result<Arc<StoredMessage>, AppError> {
    latest_matching(state, &MessageQuery { query, wait, since }).await
}

/// The message `id` names; for `latest` with the wait API's parameters, the newest match (waited
/// for).
async fn lookup(
    state: &AppState,
    id: &str,
    params: &MessageQuery,
) -> Result<Arc<StoredMessage>, AppError> {
    if id == "latest" && (params.query.is_some() || params.wait.is_some() || params.since.is_some())
    {
        latest_matching(state, params).await
    } else {
        found(&state.store, id)
    }
}

/// What `GET /api/v1/message/{id}/extract` answers.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExtractResponse {
    #[serde(rename = "ID")]
    id: Uuid,
    #[serde(flatten)]
    extracted: crate::extraction::Extracted,
}

/// EXT GET /api/v1/message/{id}/extract: the message's links (with the text they show) and its
/// likely one-time codes, best first. With `latest` it takes the wait API's parameters, so "wait
/// for the mail to alice and give me its link" is one request. Does not mark the message read.
pub async fn extract(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Lenient(params): Lenient<MessageQuery>,
) -> Result<Response, AppError> {
    let message = lookup(&state, &id, &params).await?;
    let id = message.id;
    let extracted = crate::store::read(message, crate::extraction::extract).await;
    Ok(Json(ExtractResponse { id, extracted }).into_response())
}

/// EXT: says when the message's MIME structure went past a bound and its rest is shown as one
/// opaque part (`truncated-at-depth-N.mime`, `truncated-after-N-parts.mime`).
pub const TRUNCATED_HEADER: &str = "x-mailsnare-mime-truncated";

fn mark_truncated(response: &mut Response, message: &StoredMessage) {
    if let Some(truncated) = message.summary.truncated
        && let Ok(value) = HeaderValue::from_str(&truncated.to_string())
    {
        response.headers_mut().insert(TRUNCATED_HEADER, value);
    }
}

async fn latest_matching(
    state: &AppState,
    params: &MessageQuery,
) -> Result<Arc<StoredMessage>, AppError> {
    let query = parse_query(state, params.query.as_deref().unwrap_or_default())?;
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
    if let Some(found) = newest(state, Arc::clone(&wanted)).await {
        return Ok(found);
    }
    let deadline = tokio::time::Instant::now() + wait;
    let _waiting = crate::http::state::Waiting::new(&state.waiting);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::New(m))) if wanted(&m) => return Ok(m),
            Ok(Ok(_)) => {}
            // Missed events: look at the store again rather than guess.
            Ok(Err(RecvError::Lagged(_))) => {
                if let Some(found) = newest(state, Arc::clone(&wanted)).await {
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
    let message = found(&state.store, &id)?;
    let download = query.dl.as_deref().is_some_and(|v| v == "1" || v == "true");
    Ok(respond::raw_message(
        message,
        "text/plain; charset=utf-8",
        download,
    ))
}

/// GET /api/v1/message/{id}/envelope (EXT): how the message arrived: HELO, MAIL FROM, every
/// RCPT TO, the client, TLS and the AUTH user. Does not mark the message read.
pub async fn envelope(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = found(&state.store, &id)?;
    Ok(Json(EnvelopeJson::new(&message)).into_response())
}

/// GET /api/v1/message/{id}/headers: every header, every value, decoded.
pub async fn headers(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let message = found(&state.store, &id)?;
    Ok(Json(super::model::headers(&message.raw)).into_response())
}

/// Raster image types a browser shows as a picture and nothing else; every other part (HTML, SVG,
/// PDF, text, anything the sender labelled) is a download, so mail content never becomes a page
/// of ours.
const RASTER_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The message `{id}` names and its part `part_id`, decoded (off the async workers when large).
async fn found_part(
    state: &AppState,
    id: &str,
    part_id: &str,
) -> Result<(Arc<StoredMessage>, crate::mime::parts::PartContent), AppError> {
    let message = found(&state.store, id)?;
    let wanted = part_id.to_string();
    let part = crate::store::read(Arc::clone(&message), move |m| {
        crate::mime::parts::part(&m.raw, &m.mime_limits(), &wanted)
    })
    .await
    .ok_or(AppError::NotFound("part not found"))?;
    Ok((message, part))
}

/// GET /api/v1/message/{id}/part/{part}: the decoded bytes of one MIME part.
pub async fn part(
    State(state): State<AppState>,
    Path((id, part_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (message, part) = found_part(&state, &id, &part_id).await?;
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
        respond::content_disposition(if raster { "inline" } else { "attachment" }, &name);
    let content_type = HeaderValue::from_str(&part.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(crate::http::ops::origin::DEFAULT_CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        part.body,
    )
        .into_response();
    mark_truncated(&mut response, &message);
    Ok(response)
}

/// Thumbnails decoded at once: each may hold up to 80 MB of pixels.
const THUMBNAIL_DECODES: usize = 2;
static THUMBNAILS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(THUMBNAIL_DECODES);

/// GET /api/v1/message/{id}/part/{part}/thumb: a 180x120 JPEG of an image part; a blank one for
/// any other part or a picture too big to decode (Mailpit's route).
pub async fn thumbnail(
    State(state): State<AppState>,
    Path((id, part_id)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (_, part) = found_part(&state, &id, &part_id).await?;
    let jpeg = if part
        .content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("image/")
    {
        let _permit = THUMBNAILS
            .acquire()
            .await
            .map_err(|_| AppError::Unavailable("the server is shutting down"))?;
        tokio::task::spawn_blocking(move || crate::thumbnail::thumbnail(&part.body))
            .await
            .map_err(|_| AppError::Internal("making the thumbnail failed"))?
    } else {
        crate::thumbnail::blank()
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        jpeg,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteRequest {
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
}

/// DELETE /api/v1/messages: the listed IDs, or everything when none are given. With a body the
/// answer is Mailpit's `ok`, and a body that does not parse (a form, say) deletes everything as
/// Mailpit does; without one it is empty, because MailHog clients JSON-parse any non-empty body.
pub async fn delete(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        state.store.clear().await;
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "").into_response());
    }
    let request: DeleteRequest = serde_json::from_slice(&body).unwrap_or_default();
    if request.ids.is_empty() {
        state.store.clear().await;
    } else {
        state.store.delete(uuids(&request.ids)).await;
    }
    Ok(respond::ok())
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
    let request: ReadRequest = crate::http::extract::json_or_default(&body)?;
    let ids = if !request.ids.is_empty() {
        uuids(&request.ids)
    } else {
        let query = parse_query(&state, request.search.as_deref().unwrap_or_default())?;
        matching(&state, query)
            .await?
            .iter()
            .map(|m| m.id)
            .collect()
    };
    state.store.set_read(ids, request.read).await;
    Ok(respond::ok())
}
