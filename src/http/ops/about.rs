//! `GET /api/v1/about` (EXT): what this server is and how it is set up: version, the listening
//! addresses (so the UI can say where to send mail) and the limits in force. Mailpit's `info`
//! keeps exactly Mailpit's keys; this is where our own facts go.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::http::AppState;

/// Fixed at startup.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct About {
    pub version: &'static str,
    /// The name in the SMTP greeting.
    pub hostname: String,
    pub listeners: Listeners,
    pub limits: Limits,
    pub checks: ChecksAbout,
}

/// Where each protocol listens (`host:port`); `None` when it is off.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listeners {
    #[serde(rename = "SMTP")]
    pub smtp: Option<String>,
    #[serde(rename = "SMTPS")]
    pub smtps: Option<String>,
    #[serde(rename = "HTTP")]
    pub http: Option<String>,
    /// The HTTP listener speaks HTTPS.
    #[serde(rename = "HTTPS")]
    pub https: bool,
    #[serde(rename = "STARTTLS")]
    pub starttls: bool,
    #[serde(rename = "POP3")]
    pub pop3: Option<String>,
    #[serde(rename = "POP3S")]
    pub pop3s: Option<String>,
    #[serde(rename = "IMAP")]
    pub imap: Option<String>,
    #[serde(rename = "IMAPS")]
    pub imaps: Option<String>,
}

/// The bounds in force (0 means unlimited where a limit allows it).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Limits {
    pub max_message_size: u64,
    pub max_recipients: u64,
    pub max_messages: u64,
    pub max_bytes: u64,
    pub max_connections: u64,
    pub idle_timeout_seconds: u64,
    #[serde(rename = "SMTPAuthRequired")]
    pub smtp_auth_required: bool,
    #[serde(rename = "SMTPTLSRequired")]
    pub smtp_tls_required: bool,
}

/// The message checks and how they are set up.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChecksAbout {
    /// The spamd `/sa-check` asks; `None` when the check is off.
    pub spam_assassin: Option<String>,
    /// The link check may reach internal addresses (`--allow-internal-http-requests`).
    pub link_check_internal: bool,
    /// The link check accepts any certificate (`--allow-untrusted-tls`).
    #[serde(rename = "LinkCheckUntrustedTLS")]
    pub link_check_untrusted_tls: bool,
}

impl About {
    pub fn new() -> About {
        About {
            version: env!("CARGO_PKG_VERSION"),
            hostname: crate::config::DEFAULT_HOSTNAME.to_string(),
            ..About::default()
        }
    }
}

/// What happened since startup that Mailpit's `info` has no key for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Activity {
    /// Messages the store's limits pushed out.
    pub messages_evicted: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AboutNow {
    #[serde(flatten)]
    pub about: About,
    pub activity: Activity,
}

/// GET /api/v1/about
pub async fn about(State(state): State<AppState>) -> Json<AboutNow> {
    Json(AboutNow {
        about: (*state.about).clone(),
        activity: Activity {
            messages_evicted: state.store.activity().evicted,
        },
    })
}
