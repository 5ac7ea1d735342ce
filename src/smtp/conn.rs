//! The I/O loop of one SMTP connection, the only SMTP code that touches a socket: it feeds the
//! session, stores finished messages before acknowledging them, and applies the idle timeout and
//! shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

use super::session::{Output, Received, Session, SessionConfig};
use crate::chaos::Rng;
use crate::message::StoredMessage;
use crate::stats::Stats;
use crate::store::Store;

/// Bytes read per syscall. Small enough that thousands of idle connections stay cheap.
const READ_BUFFER: usize = 16 * 1024;
/// Messages larger than this are parsed on the blocking pool so they never stall other sessions.
const INLINE_PARSE_LIMIT: usize = 1024 * 1024;
/// How long a session mid-transaction may go on after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every connection shares.
#[derive(Debug)]
pub struct SmtpContext {
    pub session: Arc<SessionConfig>,
    pub store: Store,
    pub idle_timeout: Duration,
}

/// Runs one SMTP session over `stream` until QUIT, the client leaves, a timeout, or shutdown.
pub async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    ctx: &SmtpContext,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let nonce = Uuid::now_v7().simple().to_string();
    let mut dice = Rng::new(
        nonce
            .bytes()
            .fold(7, |h, b| h.rotate_left(5) ^ u64::from(b)),
    );
    let chaos = ctx.session.chaos.connection(&mut dice);
    if chaos.refuse {
        tracing::debug!("chaos: connection refused before the greeting");
        return Ok(());
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut session = Session::new(Arc::clone(&ctx.session), Some(peer), nonce);
    let mut wire = Vec::with_capacity(512);
    session.greeting().write_to(&mut wire);
    writer.write_all(&wire).await?;
    wire.clear();

    let mut buf = vec![0u8; READ_BUFFER];
    let mut outputs = Vec::new();
    let mut grace_until: Option<Instant> = None;
    loop {
        let idle_deadline = Instant::now() + ctx.idle_timeout;
        let deadline = grace_until.map_or(idle_deadline, |g| g.min(idle_deadline));
        let read = tokio::select! {
            read = timeout_at(deadline, reader.read(&mut buf)) => read,
            changed = shutdown.changed(), if grace_until.is_none() => {
                // A closed channel means the server is gone: treat it as shutdown too.
                let _ = changed;
                if !session.in_transaction() {
                    session.shutdown_reply().write_to(&mut wire);
                    return finish(&mut writer, &wire).await;
                }
                grace_until = Some(Instant::now() + SHUTDOWN_GRACE);
                continue;
            }
        };
        let n = match read {
            Ok(Ok(0)) => {
                if session.in_transaction() {
                    tracing::debug!(
                        "client left mid-transaction; the partial message is discarded"
                    );
                }
                return Ok(());
            }
            Ok(Ok(n)) => {
                if dice.chance(chaos.disconnect_chance) {
                    tracing::debug!("chaos: dropping the connection");
                    return Ok(());
                }
                if let Some(speed) = chaos.link_speed {
                    // A slow link: hold each read back as long as its bytes would take.
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / speed)).await;
                }
                n
            }
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => {
                let reply = if grace_until.is_some() {
                    session.shutdown_reply()
                } else {
                    session.timeout_reply()
                };
                reply.write_to(&mut wire);
                return finish(&mut writer, &wire).await;
            }
        };

        let mut input = &buf[..n];
        let mut close = false;
        loop {
            let used = session.feed(input, &mut outputs);
            input = &input[used..];
            for output in outputs.drain(..) {
                match output {
                    Output::Reply(reply) => reply.write_to(&mut wire),
                    Output::Message(received) => {
                        let id = store(ctx, received).await;
                        session
                            .delivered(id.as_deref().map_err(String::as_str))
                            .write_to(&mut wire);
                    }
                    Output::Close => close = true,
                }
            }
            if input.is_empty() || session.is_closed() {
                break;
            }
        }
        if close {
            return finish(&mut writer, &wire).await;
        }
        if !wire.is_empty() {
            // Everything answered from one read goes out in one write (RFC 2920 allows batching).
            writer.write_all(&wire).await?;
            wire.clear();
        }
        if grace_until.is_some() && !session.in_transaction() {
            session.shutdown_reply().write_to(&mut wire);
            return finish(&mut writer, &wire).await;
        }
    }
}

/// Parses and stores a message; the session acknowledges only after this returns `Ok`.
async fn store(ctx: &SmtpContext, received: Received) -> Result<String, String> {
    let Received { envelope, data } = received;
    let message = if data.len() > INLINE_PARSE_LIMIT {
        tokio::task::spawn_blocking(move || StoredMessage::new(envelope, data))
            .await
            .map_err(|e| format!("parser failed: {e}"))?
    } else {
        StoredMessage::new(envelope, data)
    };
    let stats = ctx.store.stats();
    match ctx.store.insert(message) {
        Ok(stored) => {
            Stats::add(&stats.smtp_accepted, 1);
            Stats::add(&stats.smtp_accepted_size, stored.size() as u64);
            tracing::debug!(id = %stored.id, size = stored.size(), "message stored");
            Ok(stored.id.to_string())
        }
        Err(e) => {
            Stats::add(&stats.smtp_rejected, 1);
            tracing::warn!("message refused: {e}");
            Err(e.to_string())
        }
    }
}

async fn finish<W: AsyncWrite + Unpin>(writer: &mut W, wire: &[u8]) -> io::Result<()> {
    writer.write_all(wire).await?;
    writer.shutdown().await
}
