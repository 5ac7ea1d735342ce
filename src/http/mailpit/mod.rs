//! Mailpit's API v1, our native API (../shared/spec/mailpit-api.md): the wire model and its
//! handlers.
//!
//! - [`model`]: the JSON shapes (summaries, lists, the full message, headers).
//! - [`messages`]: list, search, read, mark, delete, the long poll, raw, headers, parts.
//! - [`view`]: the bodies alone, `/view/{ID}.html` and `.txt`.
//! - [`html_check`]: the HTML check against caniemail's data, `/api/v1/message/{ID}/html-check`.
//! - [`send`]: building and storing a message, `POST /api/v1/send`.
//! - [`tags`]: tags of messages, `/api/v1/tags`.
//! - [`chaos`]: the chaos triggers, `/api/v1/chaos`.
//! - [`info`]: counts and runtime counters, `/api/v1/info`.
//! - [`checks`]: the link and spam checks of a message.

pub mod chaos;
pub mod checks;
pub mod html_check;
pub mod info;
pub mod messages;
pub mod model;
pub mod send;
pub mod tags;
pub mod view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::live;
use super::{ApiOptions, AppState};

/// Mailpit's routes. `GET /api/v1/messages` is MailHog's array instead with `mailhog_v1_list`.
pub fn routes(options: &ApiOptions) -> Router<AppState> {
    let list = if options.mailhog_v1_list {
        get(super::mailhog::v1_list)
    } else {
        get(messages::list)
    };
    Router::new()
        .route(
            "/api/v1/messages",
            list.delete(messages::delete).put(messages::set_read),
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
        .route(
            "/api/v1/message/{id}/part/{part}/thumb",
            get(messages::thumbnail),
        )
        .route(
            "/api/v1/message/{id}/html-check",
            get(html_check::html_check),
        )
        .route("/api/v1/message/{id}/release", post(info::release))
        .route("/api/v1/message/{id}/link-check", get(checks::link_check))
        .route("/api/v1/message/{id}/extract", get(messages::extract))
        .route("/api/v1/message/{id}/sa-check", get(checks::sa_check))
        .route("/api/v1/tags", get(tags::list).put(tags::set))
        .route(
            "/api/v1/tags/{tag}",
            axum::routing::put(tags::rename).delete(tags::delete),
        )
        .route("/api/v1/info", get(info::info))
        .route("/api/v1/webui", get(info::webui))
        .route(
            "/api/v1/chaos",
            get(chaos::get_triggers).put(chaos::set_triggers),
        )
        .route(
            "/api/v1/send",
            post(send::send)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(send::body_limit(
                    options.max_message_size,
                )))
                // Outside the body limit: waiting requests have not read their bodies yet.
                .layer::<_, std::convert::Infallible>(tower::limit::ConcurrencyLimitLayer::new(
                    options.max_sends,
                )),
        )
        .route("/api/events", get(live::mailpit_socket))
        .route("/view/{file}", get(view::view))
}
