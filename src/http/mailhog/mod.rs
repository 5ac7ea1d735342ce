//! MailHog's API (v1/v2) as existing clients parse it: see ../shared/spec/mailhog-api.md.

use axum::Router;

use super::AppState;

/// MailHog's routes, merged into the main router.
pub fn routes() -> Router<AppState> {
    Router::new()
}
