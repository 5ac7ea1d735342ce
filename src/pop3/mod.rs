//! POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, SASL PLAIN): a sans-I/O session and the I/O loop around it. Placeholder until the session lands.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::ReaderConfig;
use crate::listen::Accepted;
use crate::login::Logins;

/// How the accept loop refuses a connection over the bound.
pub const REFUSAL: &[u8] = b"-ERR too many connections, try again later\r\n";

/// What every connection shares.
pub struct Pop3Context {
    pub config: ReaderConfig,
    pub logins: Logins,
    /// For the in-session TLS upgrade, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// The name the greeting gives.
    pub hostname: String,
}

impl Pop3Context {
    pub fn new(
        config: ReaderConfig,
        logins: Logins,
        tls: Option<TlsAcceptor>,
        hostname: String,
        _storage: Option<&std::path::Path>,
    ) -> std::io::Result<Pop3Context> {
        Ok(Pop3Context {
            config,
            logins,
            tls,
            hostname,
        })
    }
}

/// Serves one connection until the client leaves, it idles out or shutdown is asked.
pub async fn serve(
    stream: Accepted,
    _peer: SocketAddr,
    _ctx: Arc<Pop3Context>,
    _shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    drop(stream);
    Ok(())
}
