//! POP3 (RFC 1939, CAPA and response codes RFC 2449, STLS RFC 2595, SASL PLAIN RFC 5034): a
//! sans-I/O session (`session`, with `command` for parsing and `maildrop` for the messages and
//! their encoding), the only code that does I/O for it (`conn`), and `drive`, which runs the
//! session over byte streams the way `conn` does, for tests and fuzzing.
//!
//! Two choices a reader may look for:
//! - No maildrop lock, so `[IN-USE]` is never sent. RFC 1939 4 asks for a lock "as necessary to
//!   prevent messages from being modified or removed" before UPDATE; here a session holds its
//!   own snapshot of immutable message bytes and a deletion of something already gone is fine,
//!   so two CI jobs reading one mailbox at once both work (Mailpit does not lock either).
//! - USER, PASS and AUTH PLAIN are accepted before STLS even when TLS is on offer: neither
//!   RFC 1939 nor RFC 2595 requires refusing them, Mailpit accepts them, and this is a test
//!   server.

pub mod command;
pub mod conn;
pub mod drive;
pub mod maildrop;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::ReaderConfig;
use crate::listen::Accepted;
use crate::login::Logins;

pub use maildrop::{Body, Maildrop};
pub use session::{Login, LoginFailure, Output, Session, SessionConfig};

/// How the accept loop refuses a connection over the bound.
pub const REFUSAL: &[u8] = b"-ERR [SYS/TEMP] too many connections, try again later\r\n";

/// What every connection shares.
pub struct Pop3Context {
    pub config: ReaderConfig,
    pub logins: Logins,
    /// For the in-session TLS upgrade, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// The name the greeting gives.
    pub hostname: String,
    /// The sessions of plain connections (STLS offered when `tls` is set)…
    session: Arc<SessionConfig>,
    /// …and of implicit-TLS ones.
    session_tls: Arc<SessionConfig>,
}

impl Pop3Context {
    pub fn new(
        config: ReaderConfig,
        logins: Logins,
        tls: Option<TlsAcceptor>,
        hostname: String,
        // Messages are read from the stores, which own the disk: nothing of POP3's own is kept.
        _storage: Option<&std::path::Path>,
    ) -> std::io::Result<Pop3Context> {
        let session = SessionConfig {
            hostname: hostname.clone(),
            stls: tls.is_some(),
            max_line: config.max_line,
            max_login_failures: config.max_login_failures,
        };
        let session_tls = SessionConfig {
            stls: false,
            ..session.clone()
        };
        Ok(Pop3Context {
            config,
            logins,
            tls,
            hostname,
            session: Arc::new(session),
            session_tls: Arc::new(session_tls),
        })
    }
}

/// Serves one connection until the client leaves, it idles out or shutdown is asked.
pub async fn serve(
    stream: Accepted,
    _peer: SocketAddr,
    ctx: Arc<Pop3Context>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    match stream {
        Accepted::Plain(stream) => conn::serve(stream, &ctx, shutdown, false).await,
        Accepted::Tls(stream) => conn::serve(*stream, &ctx, shutdown, true).await,
    }
}

#[cfg(test)]
mod transcripts;
