//! `GET /api/v1/message/{ID}/link-check` and `GET /api/v1/message/{ID}/sa-check`: the message
//! checks ([`crate::checks`]) in Mailpit's shapes. A check that cannot be made says so inside
//! its answer (a link's `Status`, the spam report's `Error`); only an unknown message, or the
//! spam check when no spamd is configured, is a 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::checks::{links, spam};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Lenient, found};

#[derive(Debug, Default, Deserialize)]
pub struct LinkCheckQuery {
    follow: Option<String>,
}

/// GET /api/v1/message/{id}/link-check?follow=true: the status of every link; with `follow`
/// (`true` or `1`, as Mailpit) the status at the end of up to two redirects, else the first
/// answer. Does not mark the message read.
pub async fn link_check(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Lenient(query): Lenient<LinkCheckQuery>,
) -> Result<Response, AppError> {
    let message = found(&state.store, &id)?;
    let follow = matches!(query.follow.as_deref(), Some("true" | "1"));
    let max = state.checks.links.config().max_links;
    // Parsing and scanning a large message runs off the async workers.
    let found = crate::store::read(message, move |m| {
        m.parsed(|parsed| {
            parsed
                .map(|p| links::extract(&crate::mime::html(p), &crate::mime::text(p), max))
                .unwrap_or_default()
        })
    })
    .await;
    Ok(Json(state.checks.links.check(&found, follow).await).into_response())
}

/// GET /api/v1/message/{id}/sa-check: spamd's verdict on the message as stored. 404 when
/// `--enable-spamassassin` is not set (Mailpit has no such route then).
pub async fn sa_check(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Some(config) = state.checks.spamassassin.clone() else {
        return Err(AppError::NotFound(
            "SpamAssassin is not enabled: start with --enable-spamassassin HOST:PORT",
        ));
    };
    let message = found(&state.store, &id)?;
    // The stored bytes are lent to the socket writes, not copied.
    Ok(Json(spam::check(&config, &message.raw).await).into_response())
}
