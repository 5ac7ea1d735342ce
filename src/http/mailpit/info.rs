//! `GET /api/v1/info` and `GET /api/v1/webui`: version, counts, runtime counters and the UI's
//! settings, in Mailpit's shapes and with exactly Mailpit's keys (clients compare them with deep
//! equality); our own facts are in `/api/v1/about`.

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
            "SMTPAccepted": Stats::get(&stats.smtp_accepted),
            "SMTPAcceptedSize": Stats::get(&stats.smtp_accepted_size),
            "SMTPRejected": Stats::get(&stats.smtp_rejected),
            "SMTPIgnored": Stats::get(&stats.smtp_ignored),
        },
    }))
}

/// GET /api/v1/webui: what Mailpit's UI reads first (npm `mailpit-api` does too). Release is
/// never enabled: mailsnare never relays.
pub async fn webui(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "Label": "",
        "MessageRelay": {
            "Enabled": false,
            "SMTPServer": "",
            "ReturnPath": "",
            "AllowedRecipients": "",
            "BlockedRecipients": "",
            "OverrideFrom": "",
            "PreserveMessageIDs": false,
            "RecipientAllowlist": "",
        },
        "SpamAssassin": state.checks.spamassassin.is_some(),
        // The chaos triggers are always there to set.
        "ChaosEnabled": true,
        "DuplicatesIgnored": false,
        "HideDeleteAllButton": false,
    }))
}

/// Release (`POST /api/v1/message/{ID}/release`, MailHog's `/api/v1/messages/{id}/release`):
/// mailsnare never sends mail on, so it is refused with a reason.
pub async fn release() -> crate::http::error::AppError {
    crate::http::error::AppError::Forbidden("mailsnare never relays mail: release is not available")
}
