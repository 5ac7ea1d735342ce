//! IMAP4rev1 (RFC 3501) with IDLE, UIDPLUS, MOVE (between tag folders), ENABLE, LITERAL+,
//! SASL-IR, NAMESPACE, ID, UNSELECT and STARTTLS: one INBOX per login (the store the login
//! reads) and a virtual folder per tag.
//!
//! - [`framer`]: client bytes into whole messages (lines and literals, bounded), decoded by
//!   imap-codec;
//! - [`session`]: the pure state machine over those commands;
//! - [`view`]: the selected folder (sequence numbers, UIDs, flags, changes not yet told);
//! - [`uids`]: UID assignment and UIDVALIDITY, persisted with `--storage`;
//! - [`fetch`], [`parts`], [`search`]: FETCH rendering over the MIME tree, SEARCH;
//! - [`wire`]: response syntax;
//! - [`conn`]: the I/O loop (sockets, TLS, timeouts, store events, shutdown);
//! - [`drive`]: the same loop without I/O, for transcripts, property tests and fuzzing.

pub mod conn;
pub mod drive;
pub mod fetch;
pub mod framer;
pub mod parts;
pub mod search;
pub mod session;
pub mod uids;
pub mod view;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::ReaderConfig;
use crate::listen::Accepted;
use crate::login::Logins;

/// How the accept loop refuses a connection over the bound.
pub const REFUSAL: &[u8] = b"* BYE too many connections, try again later\r\n";

/// What every connection shares.
pub struct ImapContext {
    pub config: ReaderConfig,
    pub logins: Logins,
    /// For the in-session TLS upgrade, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// The name the greeting gives.
    pub hostname: String,
    pub session: Arc<session::SessionConfig>,
    /// Every store's UIDs.
    pub registry: Arc<uids::Registry>,
}

impl ImapContext {
    /// Reads the persisted UID maps when `storage` is set (blocking: called at startup).
    pub fn new(
        config: ReaderConfig,
        logins: Logins,
        tls: Option<TlsAcceptor>,
        hostname: String,
        storage: Option<&std::path::Path>,
    ) -> std::io::Result<ImapContext> {
        let registry = match storage {
            Some(dir) => uids::Registry::persistent(dir)?,
            None => uids::Registry::in_memory(),
        };
        let session = session::SessionConfig {
            hostname: hostname.clone(),
            starttls: tls.is_some(),
            max_login_failures: config.max_login_failures.max(1),
            max_line: config.max_line,
            max_literal: config.max_literal,
        };
        Ok(ImapContext {
            config,
            logins,
            tls,
            hostname,
            session: Arc::new(session),
            registry: Arc::new(registry),
        })
    }

    /// Returns once every UID given so far is on disk (with `--storage`). A session already
    /// awaits this before showing a UID; call it when the server stops, after the accept loops
    /// and connections ended, so that UIDs given but not yet shown are kept too.
    pub async fn finish(&self) {
        self.registry.durable().await;
    }
}

/// Serves one connection until the client leaves, it idles out or shutdown is asked.
pub async fn serve(
    stream: Accepted,
    peer: SocketAddr,
    ctx: Arc<ImapContext>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use tracing::Instrument as _;
    let span = tracing::debug_span!("imap", %peer);
    match stream {
        Accepted::Plain(tcp) => {
            conn::serve(tcp, &ctx, shutdown, false)
                .instrument(span)
                .await
        }
        Accepted::Tls(tls) => {
            conn::serve(tls, &ctx, shutdown, true)
                .instrument(span)
                .await
        }
    }
}
