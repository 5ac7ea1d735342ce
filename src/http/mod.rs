//! The HTTP surface: one router for the native (Mailpit v1) API, the MailHog API, live events, the
//! views, metrics, health checks and the embedded UI, plus the access layers (auth, CORS).

pub mod about;
pub mod access;
mod chaos;
pub mod error;
pub mod events;
mod info;
pub mod mailhog;
pub mod mailpit;
mod messages;
mod metrics;
pub mod origin;
pub mod params;
pub mod send;
mod view;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::chaos::Chaos;
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub options: Arc<ApiOptions>,
    pub hub: events::EventHub,
    /// The chaos engine the SMTP layer consults; the chaos routes change it.
    pub chaos: Arc<Chaos>,
    /// Turns true when the server shuts down; long-lived streams (SSE, WebSockets) end then.
    pub shutdown: Arc<watch::Sender<bool>>,
    /// What `/api/v1/about` reports.
    pub about: Arc<about::About>,
}

/// Switches that change what the API answers.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// Serve MailHog's plain array at `GET /api/v1/messages` instead of Mailpit's list.
    pub mailhog_v1_list: bool,
}

impl AppState {
    /// State over `store` with default options; starts the live-update hub.
    pub fn new(store: Store) -> AppState {
        let shutdown = Arc::new(watch::channel(false).0);
        AppState::with_options(
            store,
            ApiOptions::default(),
            Arc::new(Chaos::default()),
            shutdown,
        )
    }

    pub fn with_options(
        store: Store,
        options: ApiOptions,
        chaos: Arc<Chaos>,
        shutdown: Arc<watch::Sender<bool>>,
    ) -> AppState {
        let hub = events::EventHub::start(&store);
        AppState {
            store,
            options: Arc::new(options),
            hub,
            chaos,
            shutdown,
            about: Arc::new(about::About::new()),
        }
    }

    /// Completes when the server begins shutting down.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.shutdown.subscribe();
        async move {
            // A dropped sender (a router built for one request, in tests) is not a shutdown.
            if stop.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The application under a path prefix (`/mail`): the UI at `/mail/`, the API at `/mail/api/…`.
/// Health checks stay at the root too, for container probes.
pub fn router_at(webroot: &str, state: AppState) -> Router {
    if webroot.is_empty() {
        return router(state);
    }
    let target = format!("{webroot}/");
    Router::new()
        // The UI's links are relative, so its page must be at `/mail/`, never `/mail`.
        .route(
            webroot,
            get(move || async move { axum::response::Redirect::permanent(&target) }),
        )
        .route(&format!("{webroot}/"), get(web::index))
        .nest(webroot, routes(state))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
}

/// The whole HTTP application, separate from any socket so tests can call it directly.
pub fn router(state: AppState) -> Router {
    routes(state).route("/", get(web::index))
}

/// Every route but the UI's entry page, which depends on the prefix.
fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/messages",
            get(messages::list)
                .delete(messages::delete)
                .put(messages::set_read),
        )
        .route(
            "/api/v1/search",
            get(messages::search).delete(messages::delete_search),
        )
        .route("/api/v1/message/{id}", get(messages::get_one))
        .route("/api/v1/message/{id}/raw", get(messages::raw))
        .route("/api/v1/message/{id}/headers", get(messages::headers))
        .route("/api/v1/message/{id}/envelope", get(messages::envelope))
        .route("/api/v1/message/{id}/part/{part}", get(messages::part))
        .route("/api/v1/info", get(info::info))
        .route("/api/v1/about", get(about::about))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    include_str!("openapi.json"),
                )
            }),
        )
        .route(
            "/api/v1/chaos",
            get(chaos::get_triggers).put(chaos::set_triggers),
        )
        .route(
            "/api/v2/jim",
            get(chaos::get_jim)
                .post(chaos::enable_jim)
                .put(chaos::replace_jim)
                .delete(chaos::disable_jim),
        )
        .route(
            "/api/v1/send",
            post(send::send).layer(DefaultBodyLimit::max(send::MAX_BODY)),
        )
        .route("/api/events", get(events::events))
        .route("/view/{file}", get(view::view))
        .merge(mailhog::routes())
        .route("/ui/{*path}", get(web::file))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .layer(axum::middleware::map_response(error::json_rejections))
        .with_state(state)
}

#[cfg(test)]
mod tests;
