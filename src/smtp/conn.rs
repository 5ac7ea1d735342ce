//! The I/O loop of one SMTP connection, the only SMTP code that touches a socket: it feeds the
//! session, stores finished messages before acknowledging them, checks credentials, upgrades to
//! TLS on STARTTLS, and applies the idle timeout, chaos and shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use uuid::Uuid;

use super::auth::{Credentials, Secret};
use super::session::{Output, Received, Session, SessionConfig};
use crate::chaos::{Chaos, ConnectionChaos, Rng};
use crate::passwords::Passwords;
use crate::stats::Stats;
use crate::tls::protocol_name;

/// Bytes read per syscall.
const READ_BUFFER: usize = 16 * 1024;
/// Read buffers kept for reuse. A connection takes one when it starts and gives it back when it
/// ends: allocating one per connection left the allocator's heap fragmented between the stored
/// messages, and RSS at 3 to 4 times the stored bytes when every message came on its own
/// connection.
const POOLED_BUFFERS: usize = 256;

/// The reusable read buffers.
#[derive(Debug, Default)]
pub struct BufferPool(std::sync::Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    fn take(&self) -> Vec<u8> {
        let pooled = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| vec![0u8; READ_BUFFER])
    }

    fn give(&self, buffer: Vec<u8>) {
        let mut pool = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < POOLED_BUFFERS {
            pool.push(buffer);
        }
    }
}
/// How long a session mid-transaction may go on after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct SmtpContext {
    pub session: Arc<SessionConfig>,
    /// Fault injection, changed at runtime by the chaos routes.
    pub chaos: Arc<Chaos>,
    pub stats: Arc<Stats>,
    /// Where mail goes: the mailboxes its recipients route to, and the root view.
    pub mailboxes: crate::mailbox::Mailboxes,
    pub idle_timeout: Duration,
    /// For STARTTLS, when TLS is configured.
    pub tls: Option<TlsAcceptor>,
    /// Checked credentials for AUTH, when a password file is configured.
    pub passwords: Option<Arc<Passwords>>,
    /// Bounds the password checks running at once (bcrypt is slow on purpose).
    pub auth_checks: Arc<tokio::sync::Semaphore>,
    /// Read buffers shared by all connections.
    pub buffers: BufferPool,
    /// Store the client's bytes as they are, without the trace headers (`--smtp-store-exact`).
    pub store_exact: bool,
}

/// The pause before answering a failed AUTH: 250 ms, doubling with each failure in the session,
/// at most 5 s. With the error limit, a session gets about 20 guesses a minute and a half.
pub fn auth_failure_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    (Duration::from_millis(250) * (1u32 << doublings)).min(Duration::from_secs(5))
}

/// A buffer borrowed from the pool for as long as it lives.
struct Pooled<'a> {
    pool: &'a BufferPool,
    buffer: Vec<u8>,
}

impl<'a> Pooled<'a> {
    fn new(pool: &'a BufferPool) -> Pooled<'a> {
        Pooled {
            pool,
            buffer: pool.take(),
        }
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buffer
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buffer
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buffer));
    }
}

/// How one run of the loop over a stream ended.
enum End<S> {
    Closed,
    /// The client asked for TLS: here is the stream back, with nothing unread that matters.
    StartTls(S),
}

/// The loop's per-connection state that survives a TLS upgrade.
struct Conn<'a> {
    ctx: &'a SmtpContext,
    session: Session,
    shutdown: watch::Receiver<bool>,
    grace_until: Option<Instant>,
    dice: Rng,
    chaos: ConnectionChaos,
}

/// Runs one SMTP session over `stream` until QUIT, the client leaves, a timeout, or shutdown.
/// `implicit_tls` names the protocol when the stream is already encrypted (an SMTPS listener).
pub async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    ctx: &SmtpContext,
    shutdown: watch::Receiver<bool>,
    implicit_tls: Option<String>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let nonce = Uuid::now_v7().simple().to_string();
    let mut dice = Rng::new(
        nonce
            .bytes()
            .fold(7, |h, b| h.rotate_left(5) ^ u64::from(b)),
    );
    let chaos = ctx.chaos.connection(&mut dice);
    if chaos.refuse {
        tracing::debug!("chaos: connection refused before the greeting");
        return Ok(());
    }
    let stats = &ctx.stats;
    Stats::add(&stats.smtp_sessions, 1);
    let mut session = Session::new(
        Arc::clone(&ctx.session),
        Arc::clone(&ctx.chaos),
        Some(peer),
        nonce,
    );
    if let Some(protocol) = implicit_tls {
        Stats::add(&stats.smtp_tls_sessions, 1);
        session.set_tls(protocol);
    }
    let greeting = session.greeting();
    let mut conn = Conn {
        ctx,
        session,
        shutdown,
        grace_until: None,
        dice,
        chaos,
    };
    let stream = match conn.run(stream, Some(greeting)).await? {
        End::Closed => return Ok(()),
        End::StartTls(stream) => stream,
    };
    let Some(acceptor) = &ctx.tls else {
        return Ok(());
    };
    // The TLS states are boxed: inline they would make every plain connection's task as big as
    // a TLS one, and those per-connection allocations fragmented the heap between messages.
    let tls = match Box::pin(crate::tls::handshake(acceptor, stream)).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!("STARTTLS handshake: {e}");
            return Ok(());
        }
    };
    Stats::add(&ctx.stats.smtp_tls_sessions, 1);
    conn.session.tls_started(protocol_name(&tls));
    // The session refuses a second STARTTLS, so this run can only end by closing.
    match Box::pin(conn.run(tls, None)).await? {
        End::Closed | End::StartTls(_) => Ok(()),
    }
}

impl Conn<'_> {
    async fn run<S>(&mut self, stream: S, greeting: Option<super::Reply>) -> io::Result<End<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut wire = Vec::with_capacity(512);
        if let Some(greeting) = greeting {
            greeting.write_to(&mut wire);
            writer.write_all(&wire).await?;
            wire.clear();
        }
        let mut buf = Pooled::new(&self.ctx.buffers);
        let mut outputs = Vec::new();
        // One timer for the whole connection, moved on each read: cheaper than a new one per read
        // (profiling showed timer registration on the ingest path).
        let idle = tokio::time::sleep(self.ctx.idle_timeout);
        tokio::pin!(idle);
        loop {
            let idle_deadline = Instant::now() + self.ctx.idle_timeout;
            let deadline = self
                .grace_until
                .map_or(idle_deadline, |g| g.min(idle_deadline));
            idle.as_mut().reset(deadline);
            let read = tokio::select! {
                read = reader.read(&mut buf) => Ok(read),
                () = &mut idle => Err(()),
                _ = self.shutdown.changed(), if self.grace_until.is_none() => {
                    // A closed channel means the server is gone: treat it as shutdown too.
                    if !self.session.in_transaction() {
                        self.session.shutdown_reply().write_to(&mut wire);
                        finish(&mut writer, &wire).await?;
                        return Ok(End::Closed);
                    }
                    self.grace_until = Some(Instant::now() + SHUTDOWN_GRACE);
                    continue;
                }
            };
            let n = match read {
                Ok(Ok(0)) => {
                    if self.session.in_transaction() {
                        tracing::debug!(
                            "client left mid-transaction; the partial message is discarded"
                        );
                    }
                    return Ok(End::Closed);
                }
                Ok(Ok(n)) => {
                    if self.dice.chance(self.chaos.disconnect_chance) {
                        tracing::debug!("chaos: dropping the connection");
                        return Ok(End::Closed);
                    }
                    if let Some(speed) = self.chaos.link_speed {
                        // A slow link: hold each read back as long as its bytes would take.
                        tokio::time::sleep(Duration::from_secs_f64(n as f64 / speed)).await;
                    }
                    n
                }
                Ok(Err(e)) => return Err(e),
                Err(_elapsed) => {
                    let reply = if self.grace_until.is_some() {
                        self.session.shutdown_reply()
                    } else {
                        self.session.timeout_reply()
                    };
                    reply.write_to(&mut wire);
                    finish(&mut writer, &wire).await?;
                    return Ok(End::Closed);
                }
            };

            let mut input = &buf[..n];
            let mut close = false;
            let mut starttls = false;
            loop {
                let used = self.session.feed(input, &mut outputs);
                input = &input[used..];
                for output in outputs.drain(..) {
                    match output {
                        Output::Reply(reply) => reply.write_to(&mut wire),
                        Output::Message(received) => {
                            let id = store(self.ctx, received).await;
                            self.session
                                .delivered(id.as_deref().map_err(String::as_str))
                                .write_to(&mut wire);
                        }
                        Output::Authenticate(credentials) => {
                            let user = check(self.ctx, credentials).await;
                            if user.is_none() {
                                let delay = auth_failure_delay(self.session.auth_failures() + 1);
                                tokio::time::sleep(delay).await;
                            }
                            let mut answer = Vec::new();
                            self.session.authenticated(user, &mut answer);
                            for output in answer {
                                match output {
                                    Output::Reply(reply) => reply.write_to(&mut wire),
                                    Output::Close => close = true,
                                    _ => {}
                                }
                            }
                        }
                        Output::StartTls => starttls = true,
                        Output::Close => close = true,
                        Output::Rejected => Stats::add(&self.ctx.stats.smtp_rejected, 1),
                    }
                }
                if input.is_empty() || self.session.is_closed() || starttls {
                    break;
                }
            }
            if close {
                finish(&mut writer, &wire).await?;
                return Ok(End::Closed);
            }
            if !wire.is_empty() {
                // Everything answered from one read goes out in one write (RFC 2920 allows batching).
                writer.write_all(&wire).await?;
                wire.clear();
            }
            if starttls {
                // Whatever the client pipelined after STARTTLS is dropped with `buf`: plaintext
                // injected before the handshake must never be read as encrypted commands.
                writer.flush().await?;
                return Ok(End::StartTls(reader.unsplit(writer)));
            }
            if self.grace_until.is_some() && !self.session.in_transaction() {
                self.session.shutdown_reply().write_to(&mut wire);
                finish(&mut writer, &wire).await?;
                return Ok(End::Closed);
            }
        }
    }
}

/// Checks AUTH credentials against the password file, off the async workers (bcrypt is slow on
/// purpose). Returns the user name when they are right.
async fn check(ctx: &SmtpContext, credentials: Credentials) -> Option<String> {
    let passwords = Arc::clone(ctx.passwords.as_ref()?);
    let _permit = Arc::clone(&ctx.auth_checks).acquire_owned().await.ok()?;
    let Credentials { user, secret } = credentials;
    tokio::task::spawn_blocking(move || {
        let ok = match &secret {
            Secret::Password(password) => passwords.verify(&user, password),
            Secret::CramMd5 { challenge, digest } => {
                passwords.verify_cram_md5(&user, challenge, digest)
            }
        };
        if !ok {
            tracing::info!(user = %user, "SMTP authentication failed");
        }
        ok.then_some(user)
    })
    .await
    .ok()
    .flatten()
}

/// Stores a message, with the trace headers on top unless `store_exact`: the one place SMTP mail
/// enters the store. The session acknowledges only after this returns `Ok`.
async fn store(ctx: &SmtpContext, received: Received) -> Result<String, String> {
    let Received { envelope, data } = received;
    let stats = &ctx.stats;
    let id = Uuid::now_v7();
    let data = if ctx.store_exact {
        data
    } else {
        let stamp = super::trace::Stamp {
            hostname: &ctx.session.hostname,
            id: &id.to_string(),
            now: time::OffsetDateTime::now_utc(),
            received: true,
        };
        super::trace::stamp(&envelope, data, &stamp)
    };
    match ctx.mailboxes.deliver(id, envelope, data).await {
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
