//! `GET /api/v1/info`: version, counts and runtime counters, in Mailpit's shape and with exactly
//! Mailpit's keys (clients compare it with deep equality); our own facts are in `/api/v1/about`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::stats::{Stats, resident_bytes};

pub async fn info(State(state): State<AppState>) -> Json<Value> {
    let counts = state.store.counts();
    let activity = state.store.activity();
    let stats = &state.stats;
    Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "LatestVersion": "",
        "Database": "",
        "DatabaseSize": counts.bytes,
        "Messages": counts.total,
        "Unread": counts.unread,
        "Tags": state.store.tag_counts(),
        "RuntimeStats": {
            "Uptime": stats.started.elapsed().as_secs(),
            "Memory": resident_bytes(),
            "MessagesDeleted": activity.deleted,
            "MessagesEvicted": activity.evicted,
            "SMTPAccepted": Stats::get(&stats.smtp_accepted),
            "SMTPAcceptedSize": Stats::get(&stats.smtp_accepted_size),
            "SMTPRejected": Stats::get(&stats.smtp_rejected),
            "SMTPIgnored": Stats::get(&stats.smtp_ignored),
        },
    }))
}
