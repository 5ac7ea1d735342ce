//! The SMTP accept loops (plain and implicit TLS): bound concurrent connections with a shared
//! semaphore, give each its own task and tracing span, and drain them on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::conn::{self, SHUTDOWN_GRACE, SmtpContext};
use crate::stats::Stats;
use crate::tls::protocol_name;

/// Accepts connections until `shutdown` turns true, then waits for open sessions to finish.
/// With `implicit_tls`, every connection starts with a TLS handshake (SMTPS).
pub async fn run(
    listener: TcpListener,
    ctx: Arc<SmtpContext>,
    permits: Arc<Semaphore>,
    max_connections: u32,
    shutdown: watch::Receiver<bool>,
    implicit_tls: Option<TlsAcceptor>,
) {
    let mut stop = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("SMTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Replies are small and already batched per read; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, "SMTP connection limit of {max_connections} reached; refusing");
            if implicit_tls.is_none() {
                tokio::spawn(async move {
                    let reply = b"421 4.7.0 Too many connections, try again later\r\n";
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), stream.write_all(reply)).await;
                });
            }
            continue;
        };
        let ctx = Arc::clone(&ctx);
        let shutdown = shutdown.clone();
        let implicit_tls = implicit_tls.clone();
        let span = tracing::info_span!("smtp", %peer);
        Stats::add(&ctx.stats.smtp_open, 1);
        let fut = async move {
            let result = match implicit_tls {
                None => conn::serve(stream, peer, &ctx, shutdown, None).await,
                Some(acceptor) => {
                    // Boxed so plain connections' tasks stay small (see conn::serve).
                    match Box::pin(crate::tls::handshake(&acceptor, stream)).await {
                        Ok(tls) => {
                            let protocol = protocol_name(&tls);
                            Box::pin(conn::serve(tls, peer, &ctx, shutdown, Some(protocol))).await
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
            ctx.stats
                .smtp_open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
        }
        .instrument(span);
        tokio::spawn(fut);
    }
    // Refuse new connections at once rather than leave them in the backlog while sessions drain.
    drop(listener);
    // Every session answers shutdown within its grace period; wait a little longer than that.
    let drained = tokio::time::timeout(
        SHUTDOWN_GRACE + Duration::from_secs(2),
        permits.acquire_many(max_connections),
    )
    .await;
    if drained.is_err() {
        tracing::warn!("some SMTP sessions did not finish before shutdown");
    }
}
