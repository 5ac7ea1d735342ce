//! Mailboxes over HTTP. Every route of both APIs, the live streams, the wait API and the UI are
//! served under `/mailbox/{name}/` by the same router, made once per mailbox over that mailbox's
//! store and live hub: an unchanged Mailpit or MailHog client given the base URL
//! `http://host:8025/mailbox/job-42` sees, waits on and deletes that mailbox alone. EXT routes at
//! the root list the mailboxes and delete one.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use tower::ServiceExt;

use super::AppState;
use super::error::AppError;
use super::ops::access::AllowedMailboxes;
use super::ops::origin::{ClientAddr, other_site};
use crate::mailbox::MailboxError;
use crate::store::Store;

/// What a mailbox keeps for HTTP while it exists: its router, and its live hub's task (stopped
/// when the mailbox is dropped).
struct MailboxApp {
    router: axum::Router,
    hub_task: tokio::task::AbortHandle,
}

impl Drop for MailboxApp {
    fn drop(&mut self) {
        self.hub_task.abort();
    }
}

impl From<MailboxError> for AppError {
    fn from(e: MailboxError) -> Self {
        match e {
            MailboxError::Name(_) => AppError::BadRequest(e.to_string()),
            MailboxError::Full(_) => AppError::Unavailable("too many mailboxes (--max-mailboxes)"),
            MailboxError::NotFound(_) => AppError::NotFound("mailbox not found"),
        }
    }
}

type Attachment = std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>;

/// The router over `store` (a mailbox's or a team view's), made on first use and kept in
/// `attachment`: the root's state over that store, with a live hub of its own.
fn app_of(state: &AppState, store: &Store, attachment: &Attachment) -> Option<axum::Router> {
    let made = attachment.get_or_init(|| {
        let hub = state.hub.sibling();
        let task = tokio::spawn(hub.clone().run(store.clone(), store.subscribe()));
        let scoped = AppState {
            store: store.clone(),
            hub,
            waiting: Arc::default(),
            ..state.clone()
        };
        Arc::new(MailboxApp {
            router: super::mailbox_router(scoped),
            hub_task: task.abort_handle(),
        })
    });
    made.downcast_ref::<MailboxApp>()
        .map(|app| app.router.clone())
}

/// `/mailbox/{name}`: the UI's links are relative, so its page is at `/mailbox/{name}/`.
pub async fn redirect(Path(name): Path<String>) -> Response {
    // Relative to this path, so it works under a webroot and behind proxies.
    Redirect::permanent(&format!("{name}/")).into_response()
}

/// `/mailbox/{name}/` and `/mailbox/{name}/{*rest}`: the request, as the mailbox's router gets
/// it (the prefix removed).
pub async fn dispatch(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    request: Request,
) -> Result<Response, AppError> {
    let name = params.get("name").map_or("", String::as_str);
    let rest = params.get("rest").map_or("", String::as_str);
    // A page elsewhere may not make mailboxes (an <img> loop would fill --max-mailboxes and send
    // real mail to the default mailbox): only clients that are not browsers, or this UI itself.
    let mailbox = if other_site(request.headers()).is_some() {
        state
            .mailboxes
            .get(name)
            .ok_or(AppError::NotFound("mailbox not found"))?
    } else {
        state.mailboxes.get_or_create(name)?
    };
    let router = app_of(&state, &mailbox.store, &mailbox.attachment)
        .ok_or(AppError::Internal("mailbox router"))?;
    forward(router, rest, request).await
}

/// `/.team/…`: the root view of a team user with several mailboxes (the access layer sends its
/// root requests here): every message of its mailboxes, once. Nobody else has one.
pub async fn team(
    State(state): State<AppState>,
    rest: Option<Path<String>>,
    request: Request,
) -> Result<Response, AppError> {
    let Some(AllowedMailboxes(names)) = request.extensions().get::<AllowedMailboxes>().cloned()
    else {
        return Err(AppError::NotFound("not found"));
    };
    // Made once, off the workers (it reads every message); found at once after that.
    let view = match state.mailboxes.view(&names) {
        Some(view) => view,
        None => {
            let mailboxes = state.mailboxes.clone();
            tokio::task::spawn_blocking(move || mailboxes.view_blocking(&names))
                .await
                .map_err(|_| AppError::Internal("team view"))??
        }
    };
    let router = app_of(&state, &view.store, &view.attachment)
        .ok_or(AppError::Internal("team view router"))?;
    let rest = rest.map(|Path(r)| r).unwrap_or_default();
    forward(router, &rest, request).await
}

/// `request` as `router` gets it: at path `/{rest}`, with its query.
async fn forward(router: axum::Router, rest: &str, request: Request) -> Result<Response, AppError> {
    let path_and_query = match request.uri().query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    let uri = Uri::builder()
        .path_and_query(path_and_query)
        .build()
        .map_err(|_| AppError::BadRequest("invalid path".into()))?;
    // A fresh request: the outer route's path parameters ride in the extensions, and the inner
    // router would see them as its own. Kept: the peer address, the connection's upgrade (live
    // streams are WebSockets) and a team user's mailboxes.
    let (mut parts, body) = request.into_parts();
    let mut inner = Request::new(body);
    *inner.method_mut() = parts.method;
    *inner.uri_mut() = uri;
    *inner.version_mut() = parts.version;
    *inner.headers_mut() = parts.headers;
    let extensions = inner.extensions_mut();
    if let Some(peer) = parts.extensions.remove::<ConnectInfo<ClientAddr>>() {
        extensions.insert(peer);
    }
    if let Some(upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() {
        extensions.insert(upgrade);
    }
    if let Some(allowed) = parts.extensions.remove::<AllowedMailboxes>() {
        extensions.insert(allowed);
    }
    match router.oneshot(inner).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// EXT `GET /api/v1/mailboxes`: every mailbox with its counts, by name.
pub async fn list(
    State(state): State<AppState>,
    allowed: Option<Extension<AllowedMailboxes>>,
) -> Json<serde_json::Value> {
    let mailboxes: Vec<serde_json::Value> = state
        .mailboxes
        .list()
        .into_iter()
        // A team's user sees its own mailboxes only.
        .filter(|m| {
            allowed
                .as_ref()
                .is_none_or(|Extension(a)| a.0.contains(&m.name))
        })
        .map(|m| {
            serde_json::json!({
                "Name": m.name.as_str(),
                "Total": m.counts.total,
                "Unread": m.counts.unread,
                "Size": m.counts.bytes,
                "IdleSeconds": m.idle.as_secs(),
            })
        })
        .collect();
    // A team's user with one mailbox has no other root view: the UI then offers that alone.
    let root = allowed.is_none_or(|Extension(a)| a.0.len() > 1);
    Json(serde_json::json!({ "mailboxes": mailboxes, "root": root }))
}

/// EXT `PUT /api/v1/mailboxes/{name}` `{"MaxMessages": N, "MaxBytes": N}` (either may be left
/// out): that mailbox's limits from now on (made if it does not exist yet); its oldest messages
/// beyond them are evicted at once. Answers the mailbox with its counts and limits.
pub async fn set_limits(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        #[serde(rename = "MaxMessages")]
        max_messages: Option<u64>,
        #[serde(rename = "MaxBytes")]
        max_bytes: Option<u64>,
    }
    let wanted: Limits = super::extract::json(&body)?;
    if wanted.max_messages == Some(0) {
        return Err(AppError::BadRequest(
            "MaxMessages must be at least 1".into(),
        ));
    }
    let mailbox = state.mailboxes.get_or_create(&name)?;
    let current = mailbox.store.limits();
    let max_messages = wanted.max_messages.map_or(current.max_messages, |n| {
        usize::try_from(n).unwrap_or(usize::MAX)
    });
    let max_bytes = wanted.max_bytes.unwrap_or(current.max_bytes);
    let store = mailbox.store.clone();
    // Evicting may touch the disk (with --storage the root's files go too).
    tokio::task::spawn_blocking(move || store.set_limits(max_messages, max_bytes))
        .await
        .map_err(|_| AppError::Internal("setting the limits failed"))?;
    let counts = mailbox.store.counts();
    Ok(Json(serde_json::json!({
        "Name": mailbox.name.as_str(),
        "Total": counts.total,
        "Unread": counts.unread,
        "Size": counts.bytes,
        "MaxMessages": max_messages,
        "MaxBytes": max_bytes,
    })))
}

/// EXT `DELETE /api/v1/mailboxes/{name}`: the mailbox and its messages are gone (those in no
/// other mailbox leave the root view too).
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<&'static str, AppError> {
    state.mailboxes.remove(name).await?;
    Ok("ok")
}
