//! `GET /api/v1/info`: version, counts and runtime counters, in Mailpit's shape.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::stats::Stats;

pub async fn info(State(state): State<AppState>) -> Json<Value> {
    let counts = state.store.counts();
    let stats = state.store.stats();
    Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "LatestVersion": "",
        "Database": "",
        "DatabaseSize": counts.bytes,
        "Messages": counts.total,
        "Unread": counts.unread,
        "Tags": {},
        "RuntimeStats": {
            "Uptime": stats.started.elapsed().as_secs(),
            "Memory": resident_bytes(),
            "MessagesDeleted": Stats::get(&stats.messages_deleted),
            "MessagesEvicted": Stats::get(&stats.messages_evicted),
            "SMTPAccepted": Stats::get(&stats.smtp_accepted),
            "SMTPAcceptedSize": Stats::get(&stats.smtp_accepted_size),
            "SMTPRejected": Stats::get(&stats.smtp_rejected),
            "SMTPIgnored": 0,
        },
    }))
}

/// Resident memory of this process, from /proc (0 where there is none).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|pages| pages.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
