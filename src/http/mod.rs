//! The HTTP surface: the router over the store (Mailpit-compatible API v1) and health checks.

pub mod error;
pub mod mailhog;
pub mod mailpit;
mod messages;
pub mod send;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::store::Store;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub options: Arc<ApiOptions>,
}

/// Switches that change what the API answers.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// Serve MailHog's plain array at `GET /api/v1/messages` instead of Mailpit's list.
    pub mailhog_v1_list: bool,
}

impl AppState {
    pub fn new(store: Store) -> AppState {
        AppState {
            store,
            options: Arc::new(ApiOptions::default()),
        }
    }
}

/// The whole HTTP application, separate from any socket so tests can call it directly.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/messages",
            get(messages::list).delete(messages::delete),
        )
        .route("/api/v1/message/{id}", get(messages::get_one))
        .route("/api/v1/message/{id}/raw", get(messages::raw))
        .merge(mailhog::routes())
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .with_state(state)
}

#[cfg(test)]
mod tests;
