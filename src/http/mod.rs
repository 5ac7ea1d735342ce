//! The HTTP surface, one router: Mailpit's API v1 (our native API), MailHog's API, the live
//! streams of both, operations (about, metrics, health, the embedded UI), and the access layers
//! in front of all of it. This file holds only the route table; each room does its own work:
//!
//! - [`state`]: what every handler can reach.
//! - [`extract`], [`respond`], [`error`]: request and response pieces both APIs share.
//! - [`live`]: the one hub behind every live stream; [`websocket`]: its copy-free sockets.
//! - [`serve`]: the I/O loop: accepting, bounding and timing out connections.
//! - [`mailpit`], [`mailhog`]: the two APIs; [`mailbox`]: both again under `/mailbox/{name}/`.
//! - [`ops`]: origin policy, Basic auth, about, metrics, the UI.

pub mod error;
pub mod extract;
pub mod live;
pub mod mailbox;
pub mod mailhog;
pub mod mailpit;
pub mod mcp;
pub mod ops;
pub mod respond;
pub mod serve;
pub mod state;
pub mod websocket;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use state::{ApiOptions, AppState};

use ops::origin::OriginPolicy;

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
        .route(&format!("{webroot}/"), get(ops::web::index))
        .nest(webroot, root_routes(state))
        .route("/livez", get(health))
        .route("/readyz", get(health))
}

/// The whole HTTP application, separate from any socket so tests can call it directly.
pub fn router(state: AppState) -> Router {
    root_routes(state).route("/", get(ops::web::index))
}

/// One mailbox's application, as served under `/mailbox/{name}/`: every route over its store.
pub fn mailbox_router(state: AppState) -> Router {
    routes(state).route("/", get(ops::web::index))
}

/// The root's routes: every route, plus the mailboxes under `/mailbox/{name}/` and the EXT
/// routes that list and delete them.
fn root_routes(state: AppState) -> Router {
    use axum::routing::any;
    let mailboxes = Router::new()
        .route("/mailbox/{name}", get(mailbox::redirect))
        .route("/mailbox/{name}/", any(mailbox::dispatch))
        .route("/mailbox/{name}/{*rest}", any(mailbox::dispatch))
        .route("/.team/", any(mailbox::team))
        .route("/.team/{*rest}", any(mailbox::team))
        .route("/api/v1/mailboxes", get(mailbox::list))
        .route(
            "/api/v1/mailboxes/{name}",
            axum::routing::delete(mailbox::delete).put(mailbox::set_limits),
        )
        .with_state(state.clone());
    routes(state).merge(mailboxes)
}

/// [`router_at`] behind the access layers: the origin policy, then Basic auth when configured.
pub fn app(
    webroot: &str,
    state: AppState,
    access: ops::access::Access,
    policy: OriginPolicy,
) -> Router {
    ops::access::protect(router_at(webroot, state), access, Arc::new(policy))
}

async fn health() -> &'static str {
    "ok"
}

/// Every route but the UI's entry page, which depends on the prefix.
fn routes(state: AppState) -> Router {
    Router::new()
        .merge(mailpit::routes(&state.options))
        .merge(mailhog::routes())
        .route("/api/v1/about", get(ops::about::about))
        .route("/api/v1/webhooks", get(ops::webhooks::list))
        .nest_service("/mcp", mcp::service(state.clone()))
        .route("/metrics", get(ops::metrics::metrics))
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    include_str!("openapi.json"),
                )
            }),
        )
        .route("/ui/{*path}", get(ops::web::file))
        .route("/livez", get(health))
        .route("/readyz", get(health))
        .layer(axum::middleware::map_response(error::json_rejections))
        .with_state(state)
}

#[cfg(test)]
mod tests;
