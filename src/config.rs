//! Configuration: the command line (every flag also an environment variable) turned into one
//! [`Config`] that is passed down; MailHog's and Mailpit's variables are honoured as fallbacks.

use std::time::Duration;

use clap::Parser;

use std::sync::Arc;

use crate::chaos::{Chaos, Jim, Triggers};
use crate::checks::ChecksConfig;
use crate::checks::links::LinkCheckConfig;
use crate::checks::spam::{SpamConfig, Spamd};
use crate::http::live::LiveLimits;
use crate::http::ops::access::SendAuth;
use crate::http::serve::HttpLimits;
use crate::mime::structure::Limits as MimeLimits;
use crate::passwords::Passwords;
use crate::search::SearchLimits;
use crate::smtp::SessionConfig;
use crate::store::StoreLimits;
use crate::tags::AutoTags;
use crate::tls::CertSource;

/// Everything the server needs, resolved from flags, environment and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// SMTP listen address (`host:port`, `:port` meaning all interfaces).
    pub smtp_addr: String,
    /// HTTP listen address.
    pub http_addr: String,
    pub session: SessionConfig,
    /// Chaos at startup (the chaos routes change it while running).
    pub chaos: ChaosStart,
    /// Most concurrent SMTP connections; more are answered 421 and closed.
    pub max_connections: u32,
    /// An SMTP client silent for this long is sent 421 and disconnected.
    pub idle_timeout: Duration,
    pub store: StoreLimits,
    /// MailHog's behaviour where it differs from Mailpit's (`--mailhog`): MailHog's array at
    /// `GET /api/v1/messages`, DATA without RCPT accepted.
    pub mailhog: bool,
    /// Store SMTP mail exactly as sent, without the Return-Path, Received and Bcc headers.
    pub smtp_store_exact: bool,
    /// Path prefix for the UI and API (e.g. `/mail`), empty for none.
    pub webroot: String,
    /// Certificate for STARTTLS and the implicit-TLS listener.
    pub smtp_tls: Option<CertSource>,
    /// Implicit-TLS (SMTPS) listen address.
    pub smtps_addr: Option<String>,
    /// Checked SMTP credentials; without them any credentials are accepted.
    pub smtp_passwords: Option<Arc<Passwords>>,
    /// Certificate for HTTPS on the HTTP listener.
    pub http_tls: Option<CertSource>,
    /// HTTP Basic auth for the UI and API (health checks stay open).
    pub http_passwords: Option<Arc<Passwords>>,
    /// Who may call `POST /api/v1/send`.
    pub send_auth: SendAuth,
    /// Origins allowed to make cross-origin requests (a list; `*` for any); CORS is off without it.
    pub cors_origin: Option<String>,
    /// Host names served besides IP literals, `localhost` and single-label names (`*` for any).
    pub allowed_hosts: Option<String>,
    /// Keep messages on disk in this Maildir-style directory; memory only without it.
    pub storage: Option<std::path::PathBuf>,
    /// Bounds of the HTTP listener.
    pub http: HttpLimits,
    /// Bounds of the live streams.
    pub live: LiveLimits,
    /// Bounds of one search.
    pub search: SearchLimits,
    /// Most `/api/v1/send` requests built at once.
    pub max_sends: usize,
    /// Most SMTP password checks running at once (bcrypt is slow on purpose).
    pub max_auth_checks: usize,
    /// Threads running connections (parsing large mail, disk work and searches have their own).
    pub worker_threads: usize,
    /// How arriving messages are tagged.
    pub auto_tags: Arc<AutoTags>,
    /// The message checks: link check bounds and policy, the spamd to ask.
    pub checks: ChecksConfig,
    /// How SMTP mail is routed to mailboxes, and their bounds.
    pub mailboxes: MailboxConfig,
    /// The POP3 listeners (off unless `--pop3` or `--pop3s` is given).
    pub pop3: ReaderConfig,
    /// The IMAP listeners (off unless `--imap` or `--imaps` is given).
    pub imap: ReaderConfig,
    /// The webhooks and their bounds.
    pub webhooks: WebhookConfig,
}

/// The configured webhooks (Mailpit's `--webhook-url` first) and their bounds.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    pub hooks: Vec<crate::webhooks::HookSpec>,
    pub limits: crate::webhooks::WebhookLimits,
}

/// One mail-reading protocol's listeners (POP3 or IMAP) and their bounds.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Plain listen address; STLS/STARTTLS is offered on it when `tls` is set.
    pub addr: Option<String>,
    /// Implicit-TLS listen address (POP3S, IMAPS); needs `tls`.
    pub tls_addr: Option<String>,
    pub tls: Option<CertSource>,
    /// Checked credentials; without them any user name and password are accepted.
    pub passwords: Option<Arc<Passwords>>,
    /// Most concurrent connections; more are refused with a short reply.
    pub max_connections: u32,
    /// A client silent for this long is disconnected.
    pub idle_timeout: Duration,
    /// Failed logins a connection may make before it is disconnected.
    pub max_login_failures: u32,
    /// Longest command line, in bytes (literals aside).
    pub max_line: usize,
    /// Largest literal (IMAP: APPEND's message, a long argument), in bytes.
    pub max_literal: usize,
}

impl ReaderConfig {
    /// True when some listener of this protocol is configured.
    pub fn enabled(&self) -> bool {
        self.addr.is_some() || self.tls_addr.is_some()
    }

    fn defaults(idle_timeout: Duration, max_connections: u32) -> ReaderConfig {
        ReaderConfig {
            addr: None,
            tls_addr: None,
            tls: None,
            passwords: None,
            max_connections,
            idle_timeout,
            max_login_failures: DEFAULT_MAX_LOGIN_FAILURES,
            max_line: DEFAULT_READER_MAX_LINE,
            max_literal: DEFAULT_MAX_MESSAGE_SIZE as usize,
        }
    }

    /// POP3's defaults: 10 minutes idle (RFC 1939 section 3).
    pub fn pop3_defaults() -> ReaderConfig {
        ReaderConfig::defaults(DEFAULT_POP3_IDLE_TIMEOUT, DEFAULT_POP3_MAX_CONNECTIONS)
    }

    /// IMAP's defaults: 30 minutes idle (RFC 3501 section 5.4), room for many idling clients.
    pub fn imap_defaults() -> ReaderConfig {
        ReaderConfig::defaults(DEFAULT_IMAP_IDLE_TIMEOUT, DEFAULT_IMAP_MAX_CONNECTIONS)
    }
}

/// Mailbox routing and bounds.
#[derive(Debug, Clone)]
pub struct MailboxConfig {
    pub rules: crate::mailbox::Rules,
    pub limits: crate::mailbox::MailboxLimits,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig {
            rules: crate::mailbox::Rules::by_auth_user(),
            limits: crate::mailbox::MailboxLimits::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            smtp_addr: DEFAULT_SMTP.into(),
            http_addr: DEFAULT_HTTP.into(),
            session: SessionConfig::default(),
            chaos: ChaosStart::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            store: StoreLimits::default(),
            mailhog: false,
            smtp_store_exact: false,
            webroot: String::new(),
            smtp_tls: None,
            smtps_addr: None,
            smtp_passwords: None,
            http_tls: None,
            http_passwords: None,
            send_auth: SendAuth::default(),
            cors_origin: None,
            allowed_hosts: None,
            storage: None,
            http: HttpLimits::default(),
            live: LiveLimits::default(),
            search: SearchLimits::default(),
            max_sends: DEFAULT_MAX_SENDS,
            max_auth_checks: DEFAULT_MAX_AUTH_CHECKS,
            worker_threads: DEFAULT_WORKER_THREADS,
            auto_tags: Arc::default(),
            checks: ChecksConfig::default(),
            mailboxes: MailboxConfig::default(),
            pop3: ReaderConfig::pop3_defaults(),
            imap: ReaderConfig::imap_defaults(),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// How chaos starts: Mailpit's triggers and whether MailHog's Jim is invited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChaosStart {
    pub triggers: Triggers,
    pub jim: Option<Jim>,
}

impl ChaosStart {
    /// The engine, as it starts.
    pub fn engine(&self) -> Chaos {
        Chaos::new(self.triggers, self.jim)
    }
}

impl Config {
    /// A configuration for tests: both listeners on 127.0.0.1 port 0.
    pub fn ephemeral() -> Config {
        Config {
            smtp_addr: "127.0.0.1:0".into(),
            http_addr: "127.0.0.1:0".into(),
            ..Config::default()
        }
    }
}

// Every default, once. Sizes and durations are also given as the text `--help` shows; a test
// checks that the two agree.
pub const DEFAULT_SMTP_PORT: u16 = 1025;
pub const DEFAULT_HTTP_PORT: u16 = 8025;
pub const DEFAULT_SMTP: &str = "127.0.0.1:1025";
pub const DEFAULT_HTTP: &str = "127.0.0.1:8025";
pub const DEFAULT_HOSTNAME: &str = "mailsnare";
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
pub const DEFAULT_MAX_RECIPIENTS: u32 = 1000;
pub const DEFAULT_MAX_MESSAGES: u64 = 50_000;
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 50 << 20;
const DEFAULT_MAX_MESSAGE_SIZE_TEXT: &str = "50MiB";
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;
const DEFAULT_MAX_BYTES_TEXT: &str = "512MiB";
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 512;
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_HTTP_HEADER_TIMEOUT_TEXT: &str = "10s";
pub const DEFAULT_HTTP_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_HTTP_WRITE_TIMEOUT_TEXT: &str = "30s";
pub const DEFAULT_MAX_LIVE_CLIENTS: usize = 256;
pub const DEFAULT_LIVE_CLIENT_QUEUE: u64 = 32 << 20;
const DEFAULT_LIVE_CLIENT_QUEUE_TEXT: &str = "32MiB";
pub const DEFAULT_MAX_SEARCH_LENGTH: usize = 4096;
pub const DEFAULT_MAX_SEARCH_TERMS: usize = 64;
pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SEARCH_TIMEOUT_TEXT: &str = "10s";
pub const DEFAULT_MAX_SENDS: usize = 8;
pub const DEFAULT_MAX_MAILBOXES: usize = 10_000;
pub const DEFAULT_MAX_AUTH_CHECKS: usize = 4;
/// POP3 and IMAP: failed logins per connection before it is closed.
pub const DEFAULT_MAX_LOGIN_FAILURES: u32 = 3;
/// POP3 and IMAP: longest command line (RFC 7162 asks IMAP servers to take at least 8 192).
pub const DEFAULT_READER_MAX_LINE: usize = 64 * 1024;
pub const DEFAULT_POP3_MAX_CONNECTIONS: u32 = 256;
pub const DEFAULT_IMAP_MAX_CONNECTIONS: u32 = 1024;
/// Webhooks: messages waiting per hook, how long a delivery is retried, one attempt's time.
pub const DEFAULT_WEBHOOK_QUEUE: usize = 1000;
pub const DEFAULT_WEBHOOK_RETRY_FOR: Duration = Duration::from_secs(300);
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_POP3_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_IMAP_IDLE_TIMEOUT: Duration = Duration::from_secs(1800);
/// One thread for all connections answers fastest (no hand-over between threads per reply);
/// everything heavy runs on the blocking pool, which uses every core.
pub const DEFAULT_WORKER_THREADS: usize = 1;
/// Real mail nests four or five levels (mixed, related, alternative, a forwarded message).
pub const DEFAULT_MAX_MIME_DEPTH: usize = 16;
/// Real mail has a handful of parts; a newsletter with many images some dozens.
pub const DEFAULT_MAX_MIME_PARTS: usize = 1000;
const DEFAULT_IDLE_TIMEOUT_TEXT: &str = "5m";
const DEFAULT_POP3_IDLE_TIMEOUT_TEXT: &str = "10m";
const DEFAULT_WEBHOOK_RETRY_FOR_TEXT: &str = "5m";
const DEFAULT_WEBHOOK_TIMEOUT_TEXT: &str = "5s";
const DEFAULT_IMAP_IDLE_TIMEOUT_TEXT: &str = "30m";
const DEFAULT_READER_MAX_LINE_TEXT: &str = "64KiB";
/// A link that has not answered in this long is reported as a timeout (Mailpit allows 10 s; a
/// link check is interactive).
pub const DEFAULT_LINK_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_LINK_CHECK_TIMEOUT_TEXT: &str = "5s";
/// Mailpit's cap on distinct links checked per message.
pub const DEFAULT_LINK_CHECK_MAX_LINKS: usize = 100;
pub const DEFAULT_LINK_CHECK_CONCURRENCY: usize = 10;
/// Mailpit's spamd timeout.
pub const DEFAULT_SPAMASSASSIN_TIMEOUT: Duration = Duration::from_secs(8);
const DEFAULT_SPAMASSASSIN_TIMEOUT_TEXT: &str = "8s";
pub const DEFAULT_SPAMASSASSIN_MAX_SIZE: u64 = 10 << 20;
const DEFAULT_SPAMASSASSIN_MAX_SIZE_TEXT: &str = "10MiB";

/// The environment variables that name the SMTP address, ours first, then Mailpit's and
/// MailHog's (the `sendmail` command reads them too).
pub const SMTP_ADDR_ENV: [&str; 3] = ["MAILSNARE_SMTP", "MP_SMTP_BIND_ADDR", "MH_SMTP_BIND_ADDR"];
/// Where `sendmail` finds the SMTP address without `--smtp-addr`, in order: its own variables,
/// then the server's, so a container's configuration reaches its sendmail too.
pub const SENDMAIL_SMTP_ADDR_ENV: [&str; 5] = [
    "MAILSNARE_SMTP",
    "MP_SENDMAIL_SMTP_ADDR",
    "MH_SENDMAIL_SMTP_ADDR",
    "MP_SMTP_BIND_ADDR",
    "MH_SMTP_BIND_ADDR",
];
/// The environment variables that name the HTTP address (the `healthcheck` command reads them).
pub const HTTP_ADDR_ENV: [&str; 4] = [
    "MAILSNARE_HTTP",
    "MP_UI_BIND_ADDR",
    "MH_UI_BIND_ADDR",
    "MH_API_BIND_ADDR",
];
/// The environment variables that turn HTTPS on.
pub const HTTP_TLS_ENV: [&str; 2] = ["MAILSNARE_HTTP_TLS_CERT", "MP_UI_TLS_CERT"];
/// The lowest-priority default host for both listeners (the container image sets 0.0.0.0).
pub const LISTEN_HOST_ENV: &str = "MAILSNARE_LISTEN_HOST";

/// The first of `names` that `env` has a non-empty value for.
pub fn first_env(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
}

/// On/off flags read their variables as 1/0, true/false, yes/no or on/off (clap's default takes
/// only true/false, and compose files write `MAILSNARE_MAILHOG=1`).
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

/// A mail-capture test server: real SMTP in, nothing ever relayed, every message browsable over HTTP.
#[derive(Debug, Parser)]
#[command(name = "mailsnare", version, about, long_about = None)]
pub struct Cli {
    /// SMTP listen address [default: 127.0.0.1:1025 (host from MAILSNARE_LISTEN_HOST); falls back to MP_SMTP_BIND_ADDR, MH_SMTP_BIND_ADDR]
    #[arg(long, env = "MAILSNARE_SMTP", value_name = "ADDR")]
    pub smtp: Option<String>,

    /// HTTP (API and UI) listen address [default: 127.0.0.1:8025; falls back to MP_UI_BIND_ADDR, MH_UI_BIND_ADDR]
    #[arg(long, env = "MAILSNARE_HTTP", value_name = "ADDR")]
    pub http: Option<String>,

    /// Name the SMTP server gives itself in its greeting [falls back to MH_HOSTNAME]
    #[arg(long, env = "MAILSNARE_HOSTNAME", value_name = "NAME")]
    pub hostname: Option<String>,

    /// Largest message accepted (advertised as SIZE); larger ones get 552. Accepts 10MiB, 500k, 1048576; 0 means no limit but the store's --max-bytes (advertised as SIZE 0)
    #[arg(long, env = "MAILSNARE_MAX_MESSAGE_SIZE", value_name = "BYTES", default_value = DEFAULT_MAX_MESSAGE_SIZE_TEXT, value_parser = parse_size)]
    pub max_message_size: u64,

    /// Most recipients per message; more get 452 (RFC 5321 asks servers to take at least 100; lower values are for testing clients)
    #[arg(long, env = "MAILSNARE_MAX_RECIPIENTS", value_name = "N", default_value_t = DEFAULT_MAX_RECIPIENTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_recipients: u32,

    /// Most messages kept; the oldest are evicted first
    #[arg(long, env = "MAILSNARE_MAX_MESSAGES", value_name = "N", default_value_t = DEFAULT_MAX_MESSAGES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_messages: u64,

    /// Most bytes of raw mail kept; the oldest messages are evicted first. Accepts 512MiB, 2G, 1073741824
    #[arg(long, env = "MAILSNARE_MAX_BYTES", value_name = "BYTES", default_value = DEFAULT_MAX_BYTES_TEXT, value_parser = parse_size)]
    pub max_bytes: u64,

    /// Deepest multipart nesting parsed; deeper multiparts are shown as one opaque part (the message is stored whole)
    #[arg(long, env = "MAILSNARE_MAX_MIME_DEPTH", value_name = "N", default_value_t = DEFAULT_MAX_MIME_DEPTH as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_mime_depth: u16,

    /// Most MIME parts parsed per message; the rest are shown as one opaque part (the message is stored whole)
    #[arg(long, env = "MAILSNARE_MAX_MIME_PARTS", value_name = "N", default_value_t = DEFAULT_MAX_MIME_PARTS as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_mime_parts: u16,

    /// Most concurrent SMTP connections; more are answered 421 and closed
    #[arg(long, env = "MAILSNARE_MAX_CONNECTIONS", value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Disconnect SMTP clients idle this long (421). Accepts 300, 300s, 5m
    #[arg(long, env = "MAILSNARE_IDLE_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_IDLE_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Behave like MailHog where it differs from Mailpit: MailHog's plain array at GET /api/v1/messages (old clients such as Codeception), and DATA without RCPT accepted with the To/Cc/Bcc addresses as recipients (BusyBox sendmail -S)
    #[arg(long, env = "MAILSNARE_MAILHOG", value_parser = boolish())]
    pub mailhog: bool,

    /// The same as --mailhog (its former name, when it only switched the list)
    #[arg(long, env = "MAILSNARE_MAILHOG_V1_LIST", value_parser = boolish())]
    pub mailhog_v1_list: bool,

    /// Chaos triggers at startup, Mailpit's form: Sender:451:50,Recipient:550:10,Authentication:535:100 (code:percent) [falls back to MP_CHAOS_TRIGGERS]
    #[arg(long, env = "MAILSNARE_CHAOS_TRIGGERS", value_name = "TRIGGERS")]
    pub chaos_triggers: Option<String>,

    /// Serve the UI and API under this path prefix, e.g. /mail behind a reverse proxy [falls back to MP_WEBROOT, MH_UI_WEB_PATH]
    #[arg(long, env = "MAILSNARE_WEBROOT", value_name = "PATH")]
    pub webroot: Option<String>,

    /// PEM certificate for SMTP STARTTLS and --smtps; `sans:localhost,127.0.0.1` generates a self-signed one [falls back to MP_SMTP_TLS_CERT]
    #[arg(long, env = "MAILSNARE_SMTP_TLS_CERT", value_name = "FILE|sans:NAMES")]
    pub smtp_tls_cert: Option<String>,

    /// PEM private key for --smtp-tls-cert [falls back to MP_SMTP_TLS_KEY]
    #[arg(long, env = "MAILSNARE_SMTP_TLS_KEY", value_name = "FILE")]
    pub smtp_tls_key: Option<String>,

    /// Also listen for implicit-TLS SMTP (SMTPS, like port 465) on this address; needs --smtp-tls-cert
    #[arg(long, env = "MAILSNARE_SMTPS", value_name = "ADDR")]
    pub smtps: Option<String>,

    /// Refuse every command but NOOP, EHLO, HELO, STARTTLS and QUIT (530) until the client has started TLS [falls back to MP_SMTP_REQUIRE_STARTTLS]
    #[arg(long, env = "MAILSNARE_SMTP_REQUIRE_TLS", value_parser = boolish())]
    pub smtp_require_tls: bool,

    /// Refuse MAIL, RCPT, DATA and BDAT (530) until the client has authenticated
    #[arg(long, env = "MAILSNARE_SMTP_REQUIRE_AUTH", value_parser = boolish())]
    pub smtp_require_auth: bool,

    /// Offer and accept PLAIN and LOGIN before STARTTLS even when TLS is configured (they send the password as it is) [falls back to MP_SMTP_AUTH_ALLOW_INSECURE]
    #[arg(long, env = "MAILSNARE_SMTP_AUTH_ALLOW_INSECURE", value_parser = boolish())]
    pub smtp_auth_allow_insecure: bool,

    /// Check SMTP AUTH against this htpasswd-style file (bcrypt, {SHA} or plain); without it any credentials are accepted [falls back to MP_SMTP_AUTH_FILE]
    #[arg(long, env = "MAILSNARE_SMTP_AUTH_FILE", value_name = "FILE")]
    pub smtp_auth_file: Option<String>,

    /// SMTP credentials inline, `user:pass user2:pass2` (separated by white space; each as a line of --smtp-auth-file) [falls back to MP_SMTP_AUTH]
    #[arg(
        long,
        env = "MAILSNARE_SMTP_AUTH",
        value_name = "CREDENTIALS",
        hide_env_values = true
    )]
    pub smtp_auth: Option<String>,

    /// Accept any SMTP credentials (the default without --smtp-auth-file or --smtp-auth; refused together with them) [falls back to MP_SMTP_AUTH_ACCEPT_ANY]
    #[arg(long, env = "MAILSNARE_SMTP_AUTH_ACCEPT_ANY", value_parser = boolish())]
    pub smtp_auth_accept_any: bool,

    /// Accept only recipients matching this regular expression (anywhere in the address; (?i) for any case); others get 550 [falls back to MP_SMTP_ALLOWED_RECIPIENTS]
    #[arg(long, env = "MAILSNARE_SMTP_ALLOWED_RECIPIENTS", value_name = "REGEX")]
    pub smtp_allowed_recipients: Option<String>,

    /// Answer 250 to recipients --smtp-allowed-recipients refuses, and drop them; a message left with none is not stored [falls back to MP_SMTP_IGNORE_REJECTED_RECIPIENTS]
    #[arg(long, env = "MAILSNARE_SMTP_IGNORE_REJECTED_RECIPIENTS", value_parser = boolish())]
    pub smtp_ignore_rejected_recipients: bool,

    /// Store SMTP mail byte for byte as sent: no Return-Path, Received or Bcc header is added
    #[arg(long, env = "MAILSNARE_SMTP_STORE_EXACT", value_parser = boolish())]
    pub smtp_store_exact: bool,

    /// PEM certificate for HTTPS on the HTTP listener; `sans:NAMES` generates a self-signed one [falls back to MP_UI_TLS_CERT]
    #[arg(long, env = "MAILSNARE_HTTP_TLS_CERT", value_name = "FILE|sans:NAMES")]
    pub http_tls_cert: Option<String>,

    /// PEM private key for --http-tls-cert [falls back to MP_UI_TLS_KEY]
    #[arg(long, env = "MAILSNARE_HTTP_TLS_KEY", value_name = "FILE")]
    pub http_tls_key: Option<String>,

    /// Protect the UI and API with HTTP Basic auth from this htpasswd-style file [falls back to MP_UI_AUTH_FILE, MH_AUTH_FILE]
    #[arg(long, env = "MAILSNARE_HTTP_AUTH_FILE", value_name = "FILE")]
    pub http_auth_file: Option<String>,

    /// HTTP Basic auth credentials inline, `user:pass user2:pass2` (separated by white space; each as a line of --http-auth-file) [falls back to MP_UI_AUTH]
    #[arg(
        long,
        env = "MAILSNARE_HTTP_AUTH",
        value_name = "CREDENTIALS",
        hide_env_values = true
    )]
    pub http_auth: Option<String>,

    /// Separate Basic-auth credentials for POST /api/v1/send (an htpasswd-style file); then only these open it [falls back to MP_SEND_API_AUTH_FILE]
    #[arg(long, env = "MAILSNARE_SEND_API_AUTH_FILE", value_name = "FILE")]
    pub send_api_auth_file: Option<String>,

    /// The send API's credentials inline, `user:pass …` [falls back to MP_SEND_API_AUTH]
    #[arg(
        long,
        env = "MAILSNARE_SEND_API_AUTH",
        value_name = "CREDENTIALS",
        hide_env_values = true
    )]
    pub send_api_auth: Option<String>,

    /// Let anyone call POST /api/v1/send, with any credentials or none, even when the UI needs a password [falls back to MP_SEND_API_AUTH_ACCEPT_ANY]
    #[arg(long, env = "MAILSNARE_SEND_API_AUTH_ACCEPT_ANY", value_parser = boolish())]
    pub send_api_auth_accept_any: bool,

    /// Allow cross-origin API requests from these origins or host names (comma- or space-separated; `*` for any); off by default [falls back to MH_CORS_ORIGIN, MP_API_CORS]
    #[arg(long, env = "MAILSNARE_CORS_ORIGIN", value_name = "ORIGINS")]
    pub cors_origin: Option<String>,

    /// Also serve HTTP requests for these host names (comma-separated; `*.example.com` patterns; `*` turns the DNS-rebinding check off). IP addresses, localhost, *.localhost and single-label names are always served
    #[arg(long, env = "MAILSNARE_ALLOWED_HOSTS", value_name = "HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Keep every message on disk in this directory (Maildir layout plus envelopes) so a restart loses nothing; 250 is sent only once a message is durably written [falls back to MH_MAILDIR_PATH when MH_STORAGE=maildir]
    #[arg(long, env = "MAILSNARE_STORAGE", value_name = "DIR")]
    pub storage: Option<String>,

    /// Start with MailHog's Jim enabled at its default chances (change them at /api/v2/jim) [falls back to MH_INVITE_JIM]
    #[arg(long, env = "MAILSNARE_INVITE_JIM", value_parser = boolish())]
    pub invite_jim: bool,

    /// Most concurrent HTTP connections (UI, API, live streams); more are answered 503
    #[arg(long, env = "MAILSNARE_HTTP_MAX_CONNECTIONS", value_name = "N", default_value_t = DEFAULT_HTTP_MAX_CONNECTIONS, value_parser = clap::value_parser!(usize))]
    pub http_max_connections: usize,

    /// An HTTP client must send a request's headers within this, also on an idle keep-alive connection
    #[arg(long, env = "MAILSNARE_HTTP_HEADER_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_HTTP_HEADER_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub http_header_timeout: Duration,

    /// An HTTP response (or live stream) whose client stops reading for this long is closed
    #[arg(long, env = "MAILSNARE_HTTP_WRITE_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_HTTP_WRITE_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub http_write_timeout: Duration,

    /// Most live-update clients at once (WebSocket and event streams, both APIs); more get 503
    #[arg(long, env = "MAILSNARE_MAX_LIVE_CLIENTS", value_name = "N", default_value_t = DEFAULT_MAX_LIVE_CLIENTS)]
    pub max_live_clients: usize,

    /// Bytes queued for one live-update client before it is dropped (a WebSocket gets close code 1013: reload)
    #[arg(long, env = "MAILSNARE_LIVE_CLIENT_QUEUE", value_name = "BYTES", default_value = DEFAULT_LIVE_CLIENT_QUEUE_TEXT, value_parser = parse_size)]
    pub live_client_queue: u64,

    /// Longest search query accepted, in bytes; longer ones get 400
    #[arg(long, env = "MAILSNARE_MAX_SEARCH_LENGTH", value_name = "BYTES", default_value_t = DEFAULT_MAX_SEARCH_LENGTH)]
    pub max_search_length: usize,

    /// Most terms in one search query; more get 400
    #[arg(long, env = "MAILSNARE_MAX_SEARCH_TERMS", value_name = "N", default_value_t = DEFAULT_MAX_SEARCH_TERMS)]
    pub max_search_terms: usize,

    /// A search that runs longer than this is stopped (503); it also stops when its client goes
    #[arg(long, env = "MAILSNARE_SEARCH_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_SEARCH_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub search_timeout: Duration,

    /// Most POST /api/v1/send requests built at once; more wait
    #[arg(long, env = "MAILSNARE_MAX_SENDS", value_name = "N", default_value_t = DEFAULT_MAX_SENDS, value_parser = clap::value_parser!(usize))]
    pub max_sends: usize,

    /// Threads that run connections; parsing large mail, disk work and searches run on a separate pool that uses every core
    #[arg(long, env = "MAILSNARE_WORKER_THREADS", value_name = "N", default_value_t = DEFAULT_WORKER_THREADS, value_parser = clap::value_parser!(usize))]
    pub worker_threads: usize,

    /// Most SMTP password checks at once (bcrypt is slow on purpose); more wait
    #[arg(long, env = "MAILSNARE_MAX_AUTH_CHECKS", value_name = "N", default_value_t = DEFAULT_MAX_AUTH_CHECKS, value_parser = clap::value_parser!(usize))]
    pub max_auth_checks: usize,

    /// Route SMTP recipients to a mailbox: `NAME=RULE`, first match wins, repeatable. RULE is auth, auth:USER, plus, to:GLOB, to:/REGEX/, header:FIELD or net:CIDR; NAME `*` takes the name from the mail (the AUTH user, the +tag, the header's value). Default `*=auth`; `none` routes everything to the default mailbox
    #[arg(long = "mailbox", env = "MAILSNARE_MAILBOX", value_name = "NAME=RULE")]
    pub mailbox: Vec<String>,

    /// Routing rules from a file, one NAME=RULE per line (# comments), before any --mailbox
    #[arg(long, env = "MAILSNARE_MAILBOX_FILE", value_name = "PATH")]
    pub mailbox_file: Option<std::path::PathBuf>,

    /// Mailpit's webhook: POST each new message's summary (JSON) to this URL [falls back to MP_WEBHOOK_URL]
    #[arg(long, env = "MAILSNARE_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,

    /// --webhook-url: at most one request per this many seconds, the messages in between skipped (Mailpit's); 0 sends every one [falls back to MP_WEBHOOK_LIMIT]
    #[arg(long, env = "MAILSNARE_WEBHOOK_LIMIT", value_name = "SECONDS")]
    pub webhook_limit: Option<u64>,

    /// --webhook-url: wait this many seconds before each request [falls back to MP_WEBHOOK_DELAY]
    #[arg(long, env = "MAILSNARE_WEBHOOK_DELAY", value_name = "SECONDS")]
    pub webhook_delay: Option<u64>,

    /// --webhook-url: sign each body with HMAC-SHA256 under this secret (header X-Mailsnare-Signature: sha256=HEX)
    #[arg(long, env = "MAILSNARE_WEBHOOK_SECRET", value_name = "SECRET")]
    pub webhook_secret: Option<String>,

    /// A webhook of ours, repeatable: 'URL [secret=S] [mailbox=NAME] [delay=DURATION] [query=SEARCH…]' (query= takes the rest); every message is queued (none skipped), signed when a secret is given
    #[arg(long = "webhook", env = "MAILSNARE_WEBHOOK", value_name = "SPEC")]
    pub webhook: Vec<String>,

    /// Messages waiting per webhook; when it is full the oldest waiting one is dropped (and logged as dropped)
    #[arg(long, env = "MAILSNARE_WEBHOOK_QUEUE", value_name = "N", default_value_t = DEFAULT_WEBHOOK_QUEUE, value_parser = clap::value_parser!(usize))]
    pub webhook_queue: usize,

    /// Retry a failed webhook delivery (timeouts, 408, 429, 5xx) for this long, the pause doubling from 1 s to 60 s
    #[arg(long, env = "MAILSNARE_WEBHOOK_RETRY_FOR", value_name = "DURATION", default_value = DEFAULT_WEBHOOK_RETRY_FOR_TEXT, value_parser = parse_duration)]
    pub webhook_retry_for: Duration,

    /// One webhook attempt, connect to last byte
    #[arg(long, env = "MAILSNARE_WEBHOOK_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_WEBHOOK_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// Serve POP3 on this address (e.g. 127.0.0.1:1110); off without it [falls back to MP_POP3_BIND_ADDR]
    #[arg(long, env = "MAILSNARE_POP3", value_name = "ADDR")]
    pub pop3: Option<String>,

    /// Also serve implicit-TLS POP3 (POP3S, like port 995) on this address; needs a certificate
    #[arg(long, env = "MAILSNARE_POP3S", value_name = "ADDR")]
    pub pop3s: Option<String>,

    /// PEM certificate for POP3 STLS and --pop3s (`sans:NAMES` for a self-signed one); default the SMTP certificate [falls back to MP_POP3_TLS_CERT]
    #[arg(long, env = "MAILSNARE_POP3_TLS_CERT", value_name = "FILE|sans:NAMES")]
    pub pop3_tls_cert: Option<String>,

    /// PEM private key for --pop3-tls-cert [falls back to MP_POP3_TLS_KEY]
    #[arg(long, env = "MAILSNARE_POP3_TLS_KEY", value_name = "FILE")]
    pub pop3_tls_key: Option<String>,

    /// Check POP3 logins against this htpasswd-style file (as --smtp-auth-file); without it any login is accepted [falls back to MP_POP3_AUTH_FILE]
    #[arg(long, env = "MAILSNARE_POP3_AUTH_FILE", value_name = "FILE")]
    pub pop3_auth_file: Option<String>,

    /// POP3 credentials inline, `user:pass user2:pass2` [falls back to MP_POP3_AUTH]
    #[arg(long, env = "MAILSNARE_POP3_AUTH", value_name = "CREDENTIALS")]
    pub pop3_auth: Option<String>,

    /// Most concurrent POP3 connections
    #[arg(long, env = "MAILSNARE_POP3_MAX_CONNECTIONS", value_name = "N", default_value_t = DEFAULT_POP3_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub pop3_max_connections: u32,

    /// Disconnect POP3 clients idle this long (RFC 1939 asks for at least 10 minutes)
    #[arg(long, env = "MAILSNARE_POP3_IDLE_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_POP3_IDLE_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub pop3_idle_timeout: Duration,

    /// Serve IMAP on this address (e.g. 127.0.0.1:1143); off without it
    #[arg(long, env = "MAILSNARE_IMAP", value_name = "ADDR")]
    pub imap: Option<String>,

    /// Also serve implicit-TLS IMAP (IMAPS, like port 993) on this address; needs a certificate
    #[arg(long, env = "MAILSNARE_IMAPS", value_name = "ADDR")]
    pub imaps: Option<String>,

    /// PEM certificate for IMAP STARTTLS and --imaps (`sans:NAMES` for a self-signed one); default the SMTP certificate
    #[arg(long, env = "MAILSNARE_IMAP_TLS_CERT", value_name = "FILE|sans:NAMES")]
    pub imap_tls_cert: Option<String>,

    /// PEM private key for --imap-tls-cert
    #[arg(long, env = "MAILSNARE_IMAP_TLS_KEY", value_name = "FILE")]
    pub imap_tls_key: Option<String>,

    /// Check IMAP logins against this htpasswd-style file (as --smtp-auth-file); without it any login is accepted
    #[arg(long, env = "MAILSNARE_IMAP_AUTH_FILE", value_name = "FILE")]
    pub imap_auth_file: Option<String>,

    /// IMAP credentials inline, `user:pass user2:pass2`
    #[arg(long, env = "MAILSNARE_IMAP_AUTH", value_name = "CREDENTIALS")]
    pub imap_auth: Option<String>,

    /// Most concurrent IMAP connections (each idling client holds one)
    #[arg(long, env = "MAILSNARE_IMAP_MAX_CONNECTIONS", value_name = "N", default_value_t = DEFAULT_IMAP_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub imap_max_connections: u32,

    /// Disconnect IMAP clients idle this long, IDLE included (RFC 3501 asks for at least 30 minutes)
    #[arg(long, env = "MAILSNARE_IMAP_IDLE_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_IMAP_IDLE_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub imap_idle_timeout: Duration,

    /// POP3 and IMAP: failed logins a connection may make before it is closed
    #[arg(long, env = "MAILSNARE_MAX_LOGIN_FAILURES", value_name = "N", default_value_t = DEFAULT_MAX_LOGIN_FAILURES, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_login_failures: u32,

    /// POP3 and IMAP: longest command line in bytes (an IMAP literal is bounded by --max-message-size)
    #[arg(long, env = "MAILSNARE_READER_MAX_LINE", value_name = "BYTES", default_value = DEFAULT_READER_MAX_LINE_TEXT, value_parser = parse_size)]
    pub reader_max_line: u64,

    /// Most mailboxes at once; mail for one more goes to the default mailbox, and a request for one more is answered 503
    #[arg(long, env = "MAILSNARE_MAX_MAILBOXES", value_name = "N", default_value_t = DEFAULT_MAX_MAILBOXES as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_mailboxes: u64,

    /// Delete a mailbox (and its mail) after it has had no mail and no request for this long (30m, 2h); kept forever without it
    #[arg(long, env = "MAILSNARE_MAILBOX_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub mailbox_ttl: Option<Duration>,

    /// Most messages each mailbox keeps (its oldest are evicted first); default --max-messages
    #[arg(long, env = "MAILSNARE_MAILBOX_MAX_MESSAGES", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub mailbox_max_messages: Option<u64>,

    /// Tag arriving messages that match a search: `TAGS=QUERY` (TAGS comma-separated; several items separated by spaces, double quotes around a query with spaces); repeatable [falls back to MP_TAG]
    #[arg(long = "tag", env = "MAILSNARE_TAG", value_name = "TAGS=QUERY")]
    pub tag: Vec<String>,

    /// Turn off auto-tagging from `x-tags` (the X-Tags header) and/or `plus-addresses` (user+tag@), comma-separated [falls back to MP_TAGS_DISABLE]
    #[arg(long, env = "MAILSNARE_TAGS_DISABLE", value_name = "LIST")]
    pub tags_disable: Option<String>,

    /// Tag arriving messages with the SMTP AUTH user name [falls back to MP_TAGS_USERNAME]
    #[arg(long, env = "MAILSNARE_TAGS_USERNAME")]
    pub tags_username: bool,

    /// Let the link check reach loopback, private, link-local, CGNAT and cloud-metadata addresses (refused by default: a mail's links are written by its sender) [falls back to MP_ALLOW_INTERNAL_HTTP_REQUESTS]
    #[arg(long, env = "MAILSNARE_ALLOW_INTERNAL_HTTP_REQUESTS", value_parser = boolish())]
    pub allow_internal_http_requests: bool,

    /// Do not verify HTTPS certificates in the link check [falls back to MP_ALLOW_UNTRUSTED_TLS]
    #[arg(long, env = "MAILSNARE_ALLOW_UNTRUSTED_TLS", value_parser = boolish())]
    pub allow_untrusted_tls: bool,

    /// Turn off the link check's per-site rate limit (100 requests, then 1 per second), its per-site concurrency (2) and its one-minute result cache [falls back to MP_DISABLE_LINK_CHECK_RATE_LIMIT]
    #[arg(long, env = "MAILSNARE_DISABLE_LINK_CHECK_RATE_LIMIT", value_parser = boolish())]
    pub disable_link_check_rate_limit: bool,

    /// The longest one link may take in the link check, redirects included; then it is reported as a timeout
    #[arg(long, env = "MAILSNARE_LINK_CHECK_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_LINK_CHECK_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub link_check_timeout: Duration,

    /// Most distinct links the link check tries per message (HTML first, then text)
    #[arg(long, env = "MAILSNARE_LINK_CHECK_MAX_LINKS", value_name = "N", default_value_t = DEFAULT_LINK_CHECK_MAX_LINKS, value_parser = clap::value_parser!(usize))]
    pub link_check_max_links: usize,

    /// Most link-check requests in flight at once, across all checks; more wait
    #[arg(long, env = "MAILSNARE_LINK_CHECK_CONCURRENCY", value_name = "N", default_value_t = DEFAULT_LINK_CHECK_CONCURRENCY, value_parser = clap::value_parser!(usize))]
    pub link_check_concurrency: usize,

    /// Check messages with this SpamAssassin spamd (`HOST:PORT`, or `unix:/path/to/socket`) at /api/v1/message/{ID}/sa-check [falls back to MP_ENABLE_SPAMASSASSIN]
    #[arg(
        long,
        env = "MAILSNARE_ENABLE_SPAMASSASSIN",
        value_name = "HOST:PORT|unix:PATH"
    )]
    pub enable_spamassassin: Option<String>,

    /// The longest a spam check may take, connect to last byte; then its Error says so
    #[arg(long, env = "MAILSNARE_SPAMASSASSIN_TIMEOUT", value_name = "DURATION", default_value = DEFAULT_SPAMASSASSIN_TIMEOUT_TEXT, value_parser = parse_duration)]
    pub spamassassin_timeout: Duration,

    /// Larger messages are not sent to spamd; their check's Error says so
    #[arg(long, env = "MAILSNARE_SPAMASSASSIN_MAX_SIZE", value_name = "BYTES", default_value = DEFAULT_SPAMASSASSIN_MAX_SIZE_TEXT, value_parser = parse_size)]
    pub spamassassin_max_size: u64,
}

/// Passwords from a file or inline (`flag`, or its Mailpit variable `env`), not both.
fn credentials(
    flag: &str,
    env: &str,
    file: Option<String>,
    inline: Option<String>,
) -> Result<Option<Arc<Passwords>>, String> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(format!("use one of {flag}-file and {flag} ({env})")),
        (None, None) => Ok(None),
        (Some(file), None) => {
            Passwords::load(std::path::Path::new(&file)).map(|p| Some(Arc::new(p)))
        }
        (None, Some(inline)) => Passwords::parse_inline(&inline)
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| format!("{flag}: {e}")),
    }
}

impl Cli {
    /// The routing rules (the file's, then the flags'; `*=auth` when none) and mailbox bounds.
    fn mailbox_config(&self) -> Result<MailboxConfig, String> {
        use crate::mailbox::{MailboxLimits, Rule, Rules};
        let mut rules = Vec::new();
        if let Some(path) = &self.mailbox_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--mailbox-file {}: {e}", path.display()))?;
            rules = Rules::parse_file(&text)
                .map_err(|(line, e)| format!("--mailbox-file {}:{line}: {e}", path.display()))?;
        }
        let off = self
            .mailbox
            .iter()
            .any(|m| m.trim().eq_ignore_ascii_case("none"));
        for line in self
            .mailbox
            .iter()
            .filter(|m| !m.trim().eq_ignore_ascii_case("none"))
        {
            rules.push(Rule::parse(line).map_err(|e| format!("--mailbox: {e}"))?);
        }
        let rules = match (off, rules.is_empty()) {
            (true, true) => Rules::default(),
            (true, false) => return Err("--mailbox none cannot be combined with rules".into()),
            (false, true) => Rules::by_auth_user(),
            (false, false) => Rules::new(rules),
        };
        let max_messages = self.mailbox_max_messages.unwrap_or(self.max_messages);
        Ok(MailboxConfig {
            rules,
            limits: MailboxLimits {
                max_mailboxes: usize::try_from(self.max_mailboxes).unwrap_or(usize::MAX),
                ttl: self.mailbox_ttl,
                store: StoreLimits {
                    max_messages: usize::try_from(max_messages).unwrap_or(usize::MAX),
                    max_bytes: self.max_bytes,
                    mime: MimeLimits {
                        depth: self.max_mime_depth as usize,
                        parts: self.max_mime_parts as usize,
                    },
                },
            },
        })
    }

    /// Resolves defaults and the MailHog/Mailpit fallback variables through `env`.
    pub fn into_config(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let fallback = |names: &[&str]| first_env(&env, names);
        let mailboxes = self.mailbox_config()?;
        // The container image sets MAILSNARE_LISTEN_HOST=0.0.0.0: the lowest-priority default, so
        // that MailHog's and Mailpit's variables in an existing compose file still win.
        let host = fallback(&[LISTEN_HOST_ENV]).unwrap_or_else(|| "127.0.0.1".into());
        let smtp_addr = self
            .smtp
            .or_else(|| fallback(&SMTP_ADDR_ENV[1..]))
            .unwrap_or_else(|| format!("{host}:{DEFAULT_SMTP_PORT}"));
        let http_addr = self
            .http
            .or_else(|| fallback(&HTTP_ADDR_ENV[1..]))
            .unwrap_or_else(|| format!("{host}:{DEFAULT_HTTP_PORT}"));
        let hostname = self
            .hostname
            .or_else(|| fallback(&["MH_HOSTNAME"]))
            .unwrap_or_else(|| DEFAULT_HOSTNAME.into());
        if hostname.is_empty()
            || hostname
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("invalid hostname {hostname:?}"));
        }
        // A message larger than the whole store could never be kept, so it is refused at SIZE.
        // 0 is Mailpit's "no limit": the store's bound is then the only one.
        let size_unlimited = self.max_message_size == 0;
        let max_message_size = if size_unlimited {
            self.max_bytes
        } else {
            self.max_message_size.min(self.max_bytes)
        };
        let max_message_size =
            usize::try_from(max_message_size).map_err(|_| "max-message-size too large")?;
        let triggers = match self
            .chaos_triggers
            .or_else(|| fallback(&["MP_CHAOS_TRIGGERS"]))
        {
            Some(text) => Triggers::parse(&text).map_err(|e| format!("--chaos-triggers: {e}"))?,
            None => Triggers::default(),
        };
        let truthy = |v: String| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            )
        };
        let invite_jim = self.invite_jim || fallback(&["MH_INVITE_JIM"]).is_some_and(truthy);
        let chaos = ChaosStart {
            triggers,
            jim: invite_jim.then(Jim::default),
        };
        let smtp_tls = CertSource::from_flags(
            "--smtp-tls-cert",
            self.smtp_tls_cert
                .or_else(|| fallback(&["MP_SMTP_TLS_CERT"])),
            self.smtp_tls_key.or_else(|| fallback(&["MP_SMTP_TLS_KEY"])),
        )?;
        let http_tls = CertSource::from_flags(
            "--http-tls-cert",
            self.http_tls_cert.or_else(|| fallback(&["MP_UI_TLS_CERT"])),
            self.http_tls_key.or_else(|| fallback(&["MP_UI_TLS_KEY"])),
        )?;
        let require_tls =
            self.smtp_require_tls || fallback(&["MP_SMTP_REQUIRE_STARTTLS"]).is_some_and(truthy);
        if require_tls && smtp_tls.is_none() {
            return Err("--smtp-require-tls needs --smtp-tls-cert".into());
        }
        if self.smtps.is_some() && smtp_tls.is_none() {
            return Err("--smtps needs --smtp-tls-cert".into());
        }
        let smtp_auth_file = self
            .smtp_auth_file
            .or_else(|| fallback(&["MP_SMTP_AUTH_FILE"]));
        let smtp_auth = self.smtp_auth.or_else(|| fallback(&["MP_SMTP_AUTH"]));
        let smtp_passwords = credentials("--smtp-auth", "MP_SMTP_AUTH", smtp_auth_file, smtp_auth)?;
        let accept_any =
            self.smtp_auth_accept_any || fallback(&["MP_SMTP_AUTH_ACCEPT_ANY"]).is_some_and(truthy);
        if accept_any && smtp_passwords.is_some() {
            return Err(
                "--smtp-auth-accept-any cannot be used with SMTP credentials (--smtp-auth-file, --smtp-auth)"
                    .into(),
            );
        }
        let allowed_recipients = self
            .smtp_allowed_recipients
            .or_else(|| fallback(&["MP_SMTP_ALLOWED_RECIPIENTS"]))
            .map(|pattern| {
                regex::Regex::new(&pattern)
                    .map_err(|e| format!("--smtp-allowed-recipients {pattern:?}: {e}"))
            })
            .transpose()?;
        let ignore_rejected_recipients = self.smtp_ignore_rejected_recipients
            || fallback(&["MP_SMTP_IGNORE_REJECTED_RECIPIENTS"]).is_some_and(truthy);
        let reader_tls = |what: &str, cert: Option<String>, key: Option<String>| {
            // Without their own certificate, POP3 and IMAP use the SMTP one.
            Ok::<_, String>(CertSource::from_flags(what, cert, key)?.or_else(|| smtp_tls.clone()))
        };
        let pop3 = ReaderConfig {
            addr: self.pop3.or_else(|| fallback(&["MP_POP3_BIND_ADDR"])),
            tls_addr: self.pop3s,
            tls: reader_tls(
                "--pop3-tls-cert",
                self.pop3_tls_cert
                    .or_else(|| fallback(&["MP_POP3_TLS_CERT"])),
                self.pop3_tls_key.or_else(|| fallback(&["MP_POP3_TLS_KEY"])),
            )?,
            passwords: credentials(
                "--pop3-auth",
                "MP_POP3_AUTH",
                self.pop3_auth_file
                    .or_else(|| fallback(&["MP_POP3_AUTH_FILE"])),
                self.pop3_auth.or_else(|| fallback(&["MP_POP3_AUTH"])),
            )?,
            max_connections: self.pop3_max_connections,
            idle_timeout: self.pop3_idle_timeout,
            max_login_failures: self.max_login_failures,
            max_line: usize::try_from(self.reader_max_line.max(1024)).unwrap_or(usize::MAX),
            max_literal: max_message_size,
        };
        if pop3.tls_addr.is_some() && pop3.tls.is_none() {
            return Err("--pop3s needs a certificate (--pop3-tls-cert or --smtp-tls-cert)".into());
        }
        let imap = ReaderConfig {
            addr: self.imap,
            tls_addr: self.imaps,
            tls: reader_tls("--imap-tls-cert", self.imap_tls_cert, self.imap_tls_key)?,
            passwords: credentials(
                "--imap-auth",
                "MAILSNARE_IMAP_AUTH",
                self.imap_auth_file,
                self.imap_auth,
            )?,
            max_connections: self.imap_max_connections,
            idle_timeout: self.imap_idle_timeout,
            max_login_failures: self.max_login_failures,
            max_line: usize::try_from(self.reader_max_line.max(1024)).unwrap_or(usize::MAX),
            max_literal: max_message_size,
        };
        if imap.tls_addr.is_some() && imap.tls.is_none() {
            return Err("--imaps needs a certificate (--imap-tls-cert or --smtp-tls-cert)".into());
        }
        let mailhog = self.mailhog || self.mailhog_v1_list;
        let http_auth_file = self
            .http_auth_file
            .or_else(|| fallback(&["MP_UI_AUTH_FILE", "MH_AUTH_FILE"]));
        let http_auth = self.http_auth.or_else(|| fallback(&["MP_UI_AUTH"]));
        let http_passwords = credentials("--http-auth", "MP_UI_AUTH", http_auth_file, http_auth)?;
        let send_passwords = credentials(
            "--send-api-auth",
            "MP_SEND_API_AUTH",
            self.send_api_auth_file
                .or_else(|| fallback(&["MP_SEND_API_AUTH_FILE"])),
            self.send_api_auth
                .or_else(|| fallback(&["MP_SEND_API_AUTH"])),
        )?;
        let send_accept_any = self.send_api_auth_accept_any
            || fallback(&["MP_SEND_API_AUTH_ACCEPT_ANY"]).is_some_and(truthy);
        let send_auth = match (send_passwords, send_accept_any) {
            (Some(_), true) => {
                return Err(
                    "--send-api-auth-accept-any cannot be used with send API credentials".into(),
                );
            }
            (Some(passwords), false) => SendAuth::Credentials(passwords),
            (None, true) => SendAuth::AcceptAny,
            (None, false) => SendAuth::AsUi,
        };
        let search = SearchLimits {
            max_length: self.max_search_length,
            max_terms: self.max_search_terms,
            timeout: self.search_timeout,
        };
        let mut auto_tags = AutoTags {
            username: self.tags_username || fallback(&["MP_TAGS_USERNAME"]).is_some_and(truthy),
            ..AutoTags::default()
        };
        if let Some(list) = self.tags_disable.or_else(|| fallback(&["MP_TAGS_DISABLE"])) {
            auto_tags.disable(&list)?;
        }
        let filters = if self.tag.is_empty() {
            fallback(&["MP_TAG"]).into_iter().collect()
        } else {
            self.tag
        };
        for value in &filters {
            auto_tags.add_filters(value, &search)?;
        }
        let spamassassin = self
            .enable_spamassassin
            .or_else(|| fallback(&["MP_ENABLE_SPAMASSASSIN"]))
            .map(|target| {
                let spamd: Spamd = target
                    .parse()
                    .map_err(|e| format!("--enable-spamassassin: {e}"))?;
                Ok::<_, String>(SpamConfig {
                    spamd,
                    timeout: self.spamassassin_timeout,
                    max_size: usize::try_from(self.spamassassin_max_size).unwrap_or(usize::MAX),
                })
            })
            .transpose()?;
        let allow_internal = self.allow_internal_http_requests
            || fallback(&["MP_ALLOW_INTERNAL_HTTP_REQUESTS"]).is_some_and(truthy);
        let webhooks = {
            use crate::webhooks::HookSpec;
            let mut hooks = Vec::new();
            let number = |name: &str, flag: Option<u64>, env: &str| -> Result<u64, String> {
                match flag {
                    Some(n) => Ok(n),
                    None => match fallback(&[env]) {
                        Some(v) => v.trim().parse().map_err(|_| {
                            format!("{name}: expected a number of seconds, got {v:?}")
                        }),
                        None => Ok(if name == "--webhook-limit" { 1 } else { 0 }),
                    },
                }
            };
            if let Some(url) = self.webhook_url.or_else(|| fallback(&["MP_WEBHOOK_URL"])) {
                let limit = number("--webhook-limit", self.webhook_limit, "MP_WEBHOOK_LIMIT")?;
                let delay = number("--webhook-delay", self.webhook_delay, "MP_WEBHOOK_DELAY")?;
                hooks.push(
                    HookSpec::mailpit(&url, limit, delay, self.webhook_secret)
                        .map_err(|e| format!("--webhook-url: {e}"))?,
                );
            }
            for line in &self.webhook {
                hooks.push(HookSpec::parse(line).map_err(|e| format!("--webhook: {e}"))?);
            }
            WebhookConfig {
                hooks,
                limits: crate::webhooks::WebhookLimits {
                    queue: self.webhook_queue.max(1),
                    retry_for: self.webhook_retry_for,
                    timeout: self.webhook_timeout,
                    allow_internal,
                },
            }
        };
        let checks = ChecksConfig {
            links: LinkCheckConfig {
                allow_internal,
                allow_untrusted_tls: self.allow_untrusted_tls
                    || fallback(&["MP_ALLOW_UNTRUSTED_TLS"]).is_some_and(truthy),
                rate_limit: !(self.disable_link_check_rate_limit
                    || fallback(&["MP_DISABLE_LINK_CHECK_RATE_LIMIT"]).is_some_and(truthy)),
                timeout: self.link_check_timeout,
                max_links: self.link_check_max_links,
                concurrency: self.link_check_concurrency.max(1),
            },
            spamassassin,
        };
        Ok(Config {
            smtp_addr,
            http_addr,
            session: SessionConfig {
                hostname,
                max_message_size,
                size_unlimited,
                max_recipients: self.max_recipients as usize,
                starttls: smtp_tls.is_some(),
                require_tls,
                require_auth: self.smtp_require_auth,
                check_auth: smtp_passwords.is_some(),
                auth_allow_insecure: self.smtp_auth_allow_insecure
                    || fallback(&["MP_SMTP_AUTH_ALLOW_INSECURE"]).is_some_and(truthy),
                mailhog,
                allowed_recipients,
                ignore_rejected_recipients,
            },
            chaos,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            store: StoreLimits {
                max_messages: usize::try_from(self.max_messages).unwrap_or(usize::MAX),
                max_bytes: self.max_bytes,
                mime: MimeLimits {
                    depth: self.max_mime_depth as usize,
                    parts: self.max_mime_parts as usize,
                },
            },
            mailhog,
            smtp_store_exact: self.smtp_store_exact,
            smtp_tls,
            smtps_addr: self.smtps,
            smtp_passwords,
            http_tls,
            http_passwords,
            send_auth,
            cors_origin: self
                .cors_origin
                .or_else(|| fallback(&["MH_CORS_ORIGIN", "MP_API_CORS"])),
            allowed_hosts: self.allowed_hosts,
            http: HttpLimits {
                max_connections: self.http_max_connections.max(1),
                header_timeout: self.http_header_timeout,
                write_timeout: self.http_write_timeout,
                ..HttpLimits::default()
            },
            live: LiveLimits {
                client_queue: usize::try_from(self.live_client_queue).unwrap_or(usize::MAX),
                max_clients: self.max_live_clients,
            },
            search,
            checks,
            mailboxes,
            pop3,
            imap,
            webhooks,
            auto_tags: Arc::new(auto_tags),
            max_sends: self.max_sends.max(1),
            max_auth_checks: self.max_auth_checks.max(1),
            worker_threads: self.worker_threads.max(1),
            storage: self
                .storage
                .or_else(|| {
                    fallback(&["MH_STORAGE"])
                        .filter(|s| s.eq_ignore_ascii_case("maildir"))
                        .and_then(|_| fallback(&["MH_MAILDIR_PATH"]))
                })
                .map(std::path::PathBuf::from),
            webroot: normalize_webroot(
                &self
                    .webroot
                    .or_else(|| fallback(&["MP_WEBROOT", "MH_UI_WEB_PATH"]))
                    .unwrap_or_default(),
            )?,
        })
    }
}

/// Parses a byte size: a plain integer, or a number with a K, M or G suffix (binary multiples;
/// `KB`, `KiB` and `k` all mean 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 1048576, 500k or 10MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown size unit in {s:?}: use K, M or G")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Parses a duration: seconds as a plain integer, or with an `s`, `m` or `h` suffix.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 300, 30s or 5m"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        _ => return Err(format!("unknown duration unit in {s:?}: use s, m or h")),
    };
    if seconds == 0 {
        return Err("duration must be at least one second".into());
    }
    Ok(Duration::from_secs(seconds))
}

/// `mail`, `/mail/` and `/mail` all become `/mail`; `/` and empty become empty (no prefix).
pub fn normalize_webroot(path: &str) -> Result<String, String> {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '{' | '}' | '*' | ':'))
    {
        return Err(format!(
            "invalid webroot {path:?}: use a plain path like /mail"
        ));
    }
    Ok(format!("/{trimmed}"))
}

/// Turns Go-style `:1025` into an address the OS can bind.
pub fn bind_address(addr: &str) -> String {
    match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["mailsnare"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn pop3_and_imap_are_off_unless_asked_and_take_the_smtp_certificate() {
        let none = |_: &str| None;
        let c = cli(&[]).into_config(none).unwrap();
        assert!(!c.pop3.enabled() && !c.imap.enabled());
        let c = cli(&[
            "--smtp-tls-cert",
            "sans:localhost",
            "--imaps",
            "127.0.0.1:0",
        ])
        .into_config(none)
        .unwrap();
        assert!(c.imap.enabled());
        assert_eq!(
            c.imap.tls, c.smtp_tls,
            "IMAP falls back to the SMTP certificate"
        );
        assert_eq!(c.imap.idle_timeout, DEFAULT_IMAP_IDLE_TIMEOUT);
        assert_eq!(c.pop3.idle_timeout, DEFAULT_POP3_IDLE_TIMEOUT);
        let err = cli(&["--pop3s", "127.0.0.1:0"])
            .into_config(none)
            .unwrap_err();
        assert!(err.contains("--pop3s needs a certificate"), "{err}");
        let err = cli(&["--imaps", "127.0.0.1:0"])
            .into_config(none)
            .unwrap_err();
        assert!(err.contains("--imaps needs a certificate"), "{err}");
        // Mailpit's variables.
        let mailpit = |name: &str| match name {
            "MP_POP3_BIND_ADDR" => Some("127.0.0.1:1110".to_string()),
            "MP_POP3_AUTH" => Some("reader:secret".to_string()),
            _ => None,
        };
        let c = cli(&["--reader-max-line", "8k"])
            .into_config(mailpit)
            .unwrap();
        assert_eq!(c.pop3.addr.as_deref(), Some("127.0.0.1:1110"));
        assert!(
            c.pop3
                .passwords
                .as_ref()
                .is_some_and(|p| p.verify("reader", "secret"))
        );
        assert!(c.imap.passwords.is_none(), "POP3's credentials are POP3's");
        assert_eq!(c.pop3.max_line, 8192);
        assert_eq!(c.imap.max_literal, c.session.max_message_size);
    }

    #[test]
    fn default_texts_match_default_values() {
        assert_eq!(
            parse_size(DEFAULT_MAX_MESSAGE_SIZE_TEXT),
            Ok(DEFAULT_MAX_MESSAGE_SIZE)
        );
        assert_eq!(parse_size(DEFAULT_MAX_BYTES_TEXT), Ok(DEFAULT_MAX_BYTES));
        assert_eq!(
            parse_duration(DEFAULT_IDLE_TIMEOUT_TEXT),
            Ok(DEFAULT_IDLE_TIMEOUT)
        );
        assert_eq!(
            parse_duration(DEFAULT_POP3_IDLE_TIMEOUT_TEXT),
            Ok(DEFAULT_POP3_IDLE_TIMEOUT)
        );
        assert_eq!(
            parse_duration(DEFAULT_IMAP_IDLE_TIMEOUT_TEXT),
            Ok(DEFAULT_IMAP_IDLE_TIMEOUT)
        );
        assert_eq!(
            parse_duration(DEFAULT_WEBHOOK_RETRY_FOR_TEXT),
            Ok(DEFAULT_WEBHOOK_RETRY_FOR)
        );
        assert_eq!(
            parse_duration(DEFAULT_WEBHOOK_TIMEOUT_TEXT),
            Ok(DEFAULT_WEBHOOK_TIMEOUT)
        );
        assert_eq!(
            parse_size(DEFAULT_READER_MAX_LINE_TEXT),
            Ok(DEFAULT_READER_MAX_LINE as u64)
        );
        assert_eq!(DEFAULT_SMTP, format!("127.0.0.1:{DEFAULT_SMTP_PORT}"));
        assert_eq!(
            parse_duration(DEFAULT_LINK_CHECK_TIMEOUT_TEXT),
            Ok(DEFAULT_LINK_CHECK_TIMEOUT)
        );
        assert_eq!(
            parse_duration(DEFAULT_SPAMASSASSIN_TIMEOUT_TEXT),
            Ok(DEFAULT_SPAMASSASSIN_TIMEOUT)
        );
        assert_eq!(
            parse_size(DEFAULT_SPAMASSASSIN_MAX_SIZE_TEXT),
            Ok(DEFAULT_SPAMASSASSIN_MAX_SIZE)
        );
        assert_eq!(DEFAULT_HTTP, format!("127.0.0.1:{DEFAULT_HTTP_PORT}"));
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("500k"), Ok(500 << 10));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5T").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("42"), Ok(Duration::from_secs(42)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("1d").is_err());
    }

    #[test]
    fn defaults_and_mailhog_mailpit_fallbacks() {
        let none = |_: &str| None;
        let config = cli(&[]).into_config(none).expect("valid config");
        assert_eq!(config.smtp_addr, "127.0.0.1:1025");
        assert_eq!(config.http_addr, "127.0.0.1:8025");
        assert_eq!(config.session.max_message_size, 50 << 20);
        assert_eq!(config.store.max_messages, 50_000);

        let mailhog = |name: &str| match name {
            "MH_SMTP_BIND_ADDR" => Some("0.0.0.0:1025".to_string()),
            "MH_UI_BIND_ADDR" => Some("0.0.0.0:8025".to_string()),
            "MH_HOSTNAME" => Some("mailhog.example".to_string()),
            _ => None,
        };
        let config = cli(&[]).into_config(mailhog).expect("valid config");
        assert_eq!(
            (config.smtp_addr.as_str(), config.http_addr.as_str()),
            ("0.0.0.0:1025", "0.0.0.0:8025")
        );
        assert_eq!(config.session.hostname, "mailhog.example");
        // Mailpit's variables win over MailHog's; our own flags win over both.
        let both = |name: &str| match name {
            "MP_SMTP_BIND_ADDR" => Some("[::]:2525".to_string()),
            other => mailhog(other),
        };
        assert_eq!(
            cli(&[]).into_config(both).expect("valid config").smtp_addr,
            "[::]:2525"
        );
        let config = cli(&["--smtp", "127.0.0.1:0"])
            .into_config(both)
            .expect("valid config");
        assert_eq!(config.smtp_addr, "127.0.0.1:0");
    }

    #[test]
    fn limits_from_flags() {
        let config = cli(&[
            "--max-bytes",
            "1M",
            "--max-message-size",
            "5M",
            "--max-messages",
            "7",
        ])
        .into_config(|_| None)
        .expect("valid config");
        assert_eq!(
            config.session.max_message_size,
            1 << 20,
            "clamped to the store's size"
        );
        assert_eq!(config.store.max_messages, 7);
        assert_eq!(
            cli(&["--max-recipients", "3"])
                .into_config(|_| None)
                .expect("valid config")
                .session
                .max_recipients,
            3,
            "any value from 1, so tests can see 452"
        );
        assert!(Cli::try_parse_from(["mailsnare", "--max-recipients", "0"]).is_err());
        let unlimited = cli(&["--max-message-size", "0", "--max-bytes", "2M"])
            .into_config(|_| None)
            .expect("valid config");
        assert!(unlimited.session.size_unlimited);
        assert_eq!(
            unlimited.session.max_message_size,
            2 << 20,
            "bounded by the store only"
        );
        assert!(!config.session.size_unlimited);
        assert!(Cli::try_parse_from(["mailsnare", "--max-messages", "0"]).is_err());
        assert!(
            cli(&["--hostname", "bad name"])
                .into_config(|_| None)
                .is_err()
        );
    }

    #[test]
    fn chaos_and_compat_switches() {
        let config = cli(&["--chaos-triggers", "Sender:451:100", "--mailhog-v1-list"])
            .into_config(|_| None)
            .expect("valid config");
        assert_eq!(config.chaos.engine().triggers().sender.probability, 100);
        assert!(config.mailhog, "--mailhog-v1-list is an alias of --mailhog");
        assert!(config.session.mailhog);
        let config = cli(&["--mailhog"]).into_config(|_| None).expect("valid");
        assert!(config.mailhog && config.session.mailhog);
        assert!(!cli(&[]).into_config(|_| None).expect("valid").mailhog);
        assert!(config.chaos.engine().jim().is_none());
        let jim = |name: &str| (name == "MH_INVITE_JIM").then(|| "1".to_string());
        assert!(
            cli(&[])
                .into_config(jim)
                .expect("valid config")
                .chaos
                .jim
                .is_some()
        );
        assert!(
            cli(&["--chaos-triggers", "Sender:200:5"])
                .into_config(|_| None)
                .is_err()
        );
    }

    #[test]
    fn smtp_recipient_and_auth_flags_with_mailpit_fallbacks() {
        let config = cli(&["--smtp-allowed-recipients", "@example\\.com$"])
            .into_config(|_| None)
            .expect("valid config");
        let pattern = config.session.allowed_recipients.expect("set");
        assert!(pattern.is_match("a@example.com") && !pattern.is_match("a@example.org"));
        assert!(!config.session.ignore_rejected_recipients);
        let mailpit = |name: &str| match name {
            "MP_SMTP_ALLOWED_RECIPIENTS" => Some("^ok@".to_string()),
            "MP_SMTP_IGNORE_REJECTED_RECIPIENTS" => Some("true".to_string()),
            "MP_SMTP_AUTH" => Some("alice:pw1 bob:pw2".to_string()),
            _ => None,
        };
        let config = cli(&[]).into_config(mailpit).expect("valid config");
        assert!(config.session.ignore_rejected_recipients);
        assert!(config.session.allowed_recipients.is_some());
        let passwords = config.smtp_passwords.expect("inline credentials");
        assert!(passwords.verify("bob", "pw2"));
        assert!(config.session.check_auth);
        assert!(
            cli(&["--smtp-allowed-recipients", "("])
                .into_config(|_| None)
                .is_err()
        );
        let config = cli(&["--smtp-auth", "carol:pw"])
            .into_config(|_| None)
            .expect("valid config");
        assert!(
            config
                .smtp_passwords
                .is_some_and(|p| p.verify("carol", "pw"))
        );
        assert!(
            cli(&["--smtp-auth", "carol:pw", "--smtp-auth-accept-any"])
                .into_config(|_| None)
                .is_err(),
            "credentials and accept-any contradict each other (Mailpit refuses too)"
        );
        let ui = |name: &str| (name == "MP_UI_AUTH").then(|| "team:s3cret ops:pw".to_string());
        let config = cli(&[]).into_config(ui).expect("valid config");
        assert!(
            config
                .http_passwords
                .is_some_and(|p| p.verify("team", "s3cret") && !p.verify("team", "pw"))
        );
        assert!(
            cli(&["--http-auth", "a:b", "--http-auth-file", "/nonexistent"])
                .into_config(|_| None)
                .is_err()
        );
        let accept_any = |name: &str| (name == "MP_SMTP_AUTH_ACCEPT_ANY").then(|| "1".to_string());
        let config = cli(&[]).into_config(accept_any).expect("valid config");
        assert!(!config.session.check_auth, "any credentials, as without it");
        assert!(
            cli(&[
                "--smtp-auth",
                "carol:pw",
                "--smtp-auth-file",
                "/nonexistent"
            ])
            .into_config(|_| None)
            .is_err()
        );
        assert!(
            cli(&["--smtp-store-exact"])
                .into_config(|_| None)
                .expect("valid")
                .smtp_store_exact
        );
    }

    #[test]
    fn container_listen_host_is_the_weakest_default() {
        let container =
            |name: &str| (name == "MAILSNARE_LISTEN_HOST").then(|| "0.0.0.0".to_string());
        let config = cli(&[]).into_config(container).expect("valid config");
        assert_eq!(
            (config.smtp_addr.as_str(), config.http_addr.as_str()),
            ("0.0.0.0:1025", "0.0.0.0:8025")
        );
        let compose = |name: &str| match name {
            "MAILSNARE_LISTEN_HOST" => Some("0.0.0.0".to_string()),
            "MH_SMTP_BIND_ADDR" => Some("0.0.0.0:2525".to_string()),
            _ => None,
        };
        assert_eq!(
            cli(&[])
                .into_config(compose)
                .expect("valid config")
                .smtp_addr,
            "0.0.0.0:2525"
        );
    }

    #[test]
    fn check_flags_with_mailpit_fallbacks() {
        let config = cli(&[]).into_config(|_| None).expect("valid config");
        assert_eq!(
            config.checks,
            ChecksConfig::default(),
            "defaults written once"
        );
        assert!(
            !config.checks.links.allow_internal,
            "the SSRF guard is on by default"
        );
        let mailpit = |name: &str| match name {
            "MP_ALLOW_INTERNAL_HTTP_REQUESTS" | "MP_ALLOW_UNTRUSTED_TLS" => Some("true".into()),
            "MP_DISABLE_LINK_CHECK_RATE_LIMIT" => Some("1".into()),
            "MP_ENABLE_SPAMASSASSIN" => Some("spamd:783".into()),
            _ => None,
        };
        let config = cli(&[]).into_config(mailpit).expect("valid config");
        let links = config.checks.links;
        assert!(links.allow_internal && links.allow_untrusted_tls && !links.rate_limit);
        let spam = config.checks.spamassassin.expect("enabled");
        assert_eq!(spam.spamd, Spamd::Tcp("spamd:783".into()));
        assert_eq!(spam.timeout, DEFAULT_SPAMASSASSIN_TIMEOUT);
        let config = cli(&[
            "--enable-spamassassin",
            "unix:/run/spamd.sock",
            "--spamassassin-timeout",
            "2s",
            "--link-check-timeout",
            "1s",
            "--link-check-max-links",
            "7",
        ])
        .into_config(|_| None)
        .expect("valid config");
        let spam = config.checks.spamassassin.expect("enabled");
        assert_eq!(spam.spamd, Spamd::Unix("/run/spamd.sock".into()));
        assert_eq!(spam.timeout, Duration::from_secs(2));
        assert_eq!(config.checks.links.timeout, Duration::from_secs(1));
        assert_eq!(config.checks.links.max_links, 7);
        for bad in ["postmark", "spamd"] {
            assert!(
                cli(&["--enable-spamassassin", bad])
                    .into_config(|_| None)
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn webroots() {
        assert_eq!(normalize_webroot("mail/"), Ok("/mail".into()));
        assert_eq!(normalize_webroot("/a/b"), Ok("/a/b".into()));
        assert_eq!(normalize_webroot("/"), Ok(String::new()));
        assert!(normalize_webroot("/{x}").is_err());
        let mh = |name: &str| (name == "MH_UI_WEB_PATH").then(|| "mailhog".to_string());
        assert_eq!(
            cli(&[]).into_config(mh).expect("valid config").webroot,
            "/mailhog"
        );
    }

    #[test]
    fn go_style_addresses() {
        assert_eq!(bind_address(":1025"), "0.0.0.0:1025");
        assert_eq!(bind_address("[::1]:25"), "[::1]:25");
    }
}
