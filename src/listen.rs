//! The accept loop of the mail-reading listeners (POP3, IMAP, plain or implicit TLS): bounds
//! concurrent connections with a shared semaphore, refuses the one too many with a short reply,
//! gives each connection its own task and span, and waits for them to end on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::Instrument;

/// A connection as the accept loop hands it over: plain (a later STLS/STARTTLS may upgrade it)
/// or already inside TLS (the implicit-TLS listener).
pub enum Accepted {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What one listener is: its protocol's name for logs, the line that refuses a connection over
/// the bound, and how long open sessions get to finish after shutdown starts.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    pub protocol: &'static str,
    pub refusal: &'static [u8],
    pub grace: Duration,
}

/// Accepts connections until `shutdown` turns true, then waits (within the grace period) for the
/// open ones to end. `serve` runs one connection; it is told of shutdown through its own handle.
pub async fn run<F, Fut>(
    kind: Listener,
    listener: TcpListener,
    permits: Arc<Semaphore>,
    max_connections: u32,
    shutdown: watch::Receiver<bool>,
    implicit_tls: Option<TlsAcceptor>,
    serve: F,
) where
    F: Fn(Accepted, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let serve = Arc::new(serve);
    let mut stop = shutdown;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("{} accept failed: {e}", kind.protocol);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, "{} connection limit of {max_connections} reached; refusing", kind.protocol);
            if implicit_tls.is_none() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        stream.write_all(kind.refusal),
                    )
                    .await;
                });
            }
            continue;
        };
        let span = tracing::info_span!("conn", protocol = kind.protocol, %peer);
        let serve = Arc::clone(&serve);
        let implicit_tls = implicit_tls.clone();
        let task = async move {
            let accepted = match implicit_tls {
                None => Ok(Accepted::Plain(stream)),
                Some(acceptor) => crate::tls::handshake(&acceptor, stream)
                    .await
                    .map(|tls| Accepted::Tls(Box::new(tls))),
            };
            let result = match accepted {
                Ok(stream) => serve(stream, peer).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
            drop(permit);
        };
        tokio::spawn(task.instrument(span));
    }
    // Refuse new connections at once rather than leave them in the backlog while sessions end.
    drop(listener);
    let drained = tokio::time::timeout(
        kind.grace + Duration::from_secs(2),
        permits.acquire_many(max_connections),
    )
    .await;
    if drained.is_err() {
        tracing::warn!(
            "some {} sessions did not end before shutdown",
            kind.protocol
        );
    }
}
