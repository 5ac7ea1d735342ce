//! The HTTP I/O loop, the only HTTP code that touches sockets: accepts connections within a bound,
//! runs TLS handshakes within a time limit, serves HTTP/1.1 (and HTTP/2 over TLS) with a header
//! read timeout that also ends idle keep-alive connections, stops any write that stalls, and
//! drains on shutdown. A slowloris client, an idle flood or a reader that never reads costs a
//! bounded number of connections for a bounded time, and never takes descriptors from SMTP.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::ops::origin::ClientAddr;

/// Bounds of the HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Concurrent connections (TLS handshakes included); more are answered 503 and closed.
    pub max_connections: usize,
    /// A request's headers must arrive within this, also on an idle keep-alive connection.
    pub header_timeout: Duration,
    /// A write that makes no progress for this long ends the connection (a client that stopped
    /// reading a response, a live stream or a download).
    pub write_timeout: Duration,
    /// A TLS handshake must finish within this.
    pub handshake_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: crate::config::DEFAULT_HTTP_MAX_CONNECTIONS,
            header_timeout: crate::config::DEFAULT_HTTP_HEADER_TIMEOUT,
            write_timeout: crate::config::DEFAULT_HTTP_WRITE_TIMEOUT,
            handshake_timeout: crate::tls::HANDSHAKE_TIMEOUT,
        }
    }
}

/// How long open connections may take to finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` turns true, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .max_concurrent_streams(64);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, "HTTP connection limit of {} reached; refusing", limits.max_connections);
            tokio::spawn(refuse(stream, tls.is_some()));
            continue;
        };
        let app = app.clone();
        let builder = Arc::clone(&builder);
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut request| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo(ClientAddr(peer)));
                app.clone().oneshot(request)
            });
            let result = match tls {
                None => {
                    let io = WriteDeadline::new(stream, limits.write_timeout)
                        .first_byte_within(limits.header_timeout);
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                    watcher.watch(connection.into_owned()).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            let io = TokioIo::new(
                                WriteDeadline::new(stream, limits.write_timeout)
                                    .first_byte_within(limits.header_timeout),
                            );
                            let connection = builder.serve_connection_with_upgrades(io, service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
            drop(permit);
        });
    }
    // Refuse new connections at once, then give the open ones a moment.
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections did not finish before shutdown");
    }
}

/// Tells a client over the connection limit so (plain HTTP only: a TLS client would not read it).
async fn refuse(mut stream: tokio::net::TcpStream, tls: bool) {
    if tls {
        return;
    }
    let reply = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
        Content-Length: 45\r\nConnection: close\r\n\r\n{\"Error\":\"too many HTTP connections; retry\"}\n";
    let linger = async {
        stream.write_all(reply).await?;
        stream.shutdown().await?;
        // Read what the client sent before closing: closing with unread bytes makes the kernel
        // answer with a reset, and the client would lose the 503 it has not read yet.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), linger).await;
}

/// A stream whose writes fail once they have made no progress for `timeout`, and, when set, whose
/// first read fails if no byte arrives in time.
pub struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    /// Until the first byte: hyper's protocol detection waits for it with no timer of its own,
    /// so a client that sends nothing would hold its connection slot for ever.
    first_byte: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> WriteDeadline<S> {
        WriteDeadline {
            inner,
            timeout,
            stalled: None,
            first_byte: None,
        }
    }

    /// Fails the first read when no byte has come within `timeout`.
    pub fn first_byte_within(mut self, timeout: Duration) -> WriteDeadline<S> {
        self.first_byte = Some(Box::pin(tokio::time::sleep(timeout)));
        self
    }

    /// Runs one write-side poll: a pending result starts (or continues) the stall timer; the
    /// timer running out turns the pending write into a timeout error.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>>
    where
        S: Unpin,
    {
        match poll(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(sleep.as_mut().poll(cx));
                self.stalled = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                )))
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let Some(deadline) = self.first_byte.as_mut() else {
            return result;
        };
        match result {
            Poll::Ready(Ok(())) if buf.filled().len() == filled => Poll::Ready(Ok(())),
            Poll::Ready(result) => {
                self.first_byte = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                ready!(deadline.as_mut().poll(cx));
                self.first_byte = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing",
                )))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |inner, cx| inner.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_that_stalls_times_out() {
        // A pipe with room for 64 bytes, whose other end never reads.
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(ours, Duration::from_millis(100));
        let started = tokio::time::Instant::now();
        let result = stream.write_all(&[0u8; 4096]).await;
        let err = result.expect_err("the reader never reads");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_is_never_timed_out() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(ours, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            let mut buf = [0u8; 16];
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                match theirs.read(&mut buf).await {
                    Ok(0) | Err(_) => return all.len(),
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        });
        // 4 KiB through a 64-byte pipe read slowly takes far longer than the timeout in all, but
        // every stall is short.
        stream.write_all(&[1u8; 4096]).await.expect("no timeout");
        drop(stream);
        assert_eq!(reader.await.expect("reader"), 4096);
    }

    #[tokio::test]
    async fn a_client_that_sends_nothing_times_out_and_one_that_speaks_does_not() {
        let (ours, _silent) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(ours, Duration::from_secs(5))
            .first_byte_within(Duration::from_millis(100));
        let mut buf = [0u8; 8];
        let err = stream.read(&mut buf).await.expect_err("nothing came");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);

        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(ours, Duration::from_secs(5))
            .first_byte_within(Duration::from_millis(100));
        theirs.write_all(b"G").await.unwrap();
        assert_eq!(stream.read(&mut buf).await.unwrap(), 1);
        // After the first byte the deadline is gone: later silence is the header timeout's.
        let later = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
        assert!(later.is_err(), "no error after the first byte");
    }
}
