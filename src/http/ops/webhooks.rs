//! EXT `GET /api/v1/webhooks`: each configured webhook (its secret never), its counts and its
//! last deliveries with every attempt's status. Under `/mailbox/{name}/`, that mailbox's hooks.

use axum::Json;
use axum::extract::State;

use crate::http::AppState;
use crate::webhooks::HookReport;

pub async fn list(State(state): State<AppState>) -> Json<Vec<HookReport>> {
    Json(state.webhooks.report(&state.store))
}
