//! The I/O loop of one POP3 connection, the only POP3 code that touches a socket: it feeds the
//! session, checks logins and opens maildrops, writes messages out in chunks, marks them read,
//! applies deletions at QUIT, upgrades to TLS on STLS, and applies the idle timeout and shutdown.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::watch;

use super::Pop3Context;
use super::maildrop::Maildrop;
use super::session::{LoginFailure, Output, Session};
use crate::login::LoginError;
use crate::smtp::conn::auth_failure_delay;
use crate::store::Store;

/// Bytes read per syscall.
const READ_BUFFER: usize = 8 * 1024;
/// What is gathered before a write: replies, and a message body in pieces of about this size,
/// so a large RETR never needs a second copy of the message.
const WRITE_CHUNK: usize = 64 * 1024;
/// A maildrop of more octets than this is scanned (for its CRLF sizes) on the blocking pool.
const INLINE_MAILDROP_BYTES: usize = 1024 * 1024;

/// How one run of the loop over a stream ended.
enum End<S> {
    Closed,
    /// The client asked for TLS: the stream back, with nothing unread that matters.
    StartTls(S),
}

/// The loop's per-connection state that survives a TLS upgrade.
struct Conn<'a> {
    ctx: &'a Pop3Context,
    session: Session,
    shutdown: watch::Receiver<bool>,
    /// The store the login reads, once logged in.
    store: Option<Store>,
}

/// Runs one POP3 session over `stream` until QUIT, the client leaves, a timeout, or shutdown.
/// `implicit_tls`: the stream is already encrypted (the POP3S listener).
pub async fn serve<S>(
    stream: S,
    ctx: &Pop3Context,
    shutdown: watch::Receiver<bool>,
    implicit_tls: bool,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session::new(if implicit_tls {
        Arc::clone(&ctx.session_tls)
    } else {
        Arc::clone(&ctx.session)
    });
    if implicit_tls {
        session.set_tls();
    }
    let greeting = session.greeting();
    let mut conn = Conn {
        ctx,
        session,
        shutdown,
        store: None,
    };
    let stream = match conn.run(stream, Some(greeting)).await? {
        End::Closed => return Ok(()),
        End::StartTls(stream) => stream,
    };
    let Some(acceptor) = &ctx.tls else {
        return Ok(());
    };
    // Boxed: inline, the TLS states would make every plain connection's task as big as a TLS one.
    let tls = match Box::pin(crate::tls::handshake(acceptor, stream)).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!("STLS handshake: {e}");
            return Ok(());
        }
    };
    conn.session.tls_started();
    // The session refuses a second STLS, so this run can only end by closing.
    match Box::pin(conn.run(tls, None)).await? {
        End::Closed | End::StartTls(_) => Ok(()),
    }
}

impl Conn<'_> {
    async fn run<S>(&mut self, stream: S, greeting: Option<Vec<u8>>) -> io::Result<End<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let idle_timeout = self.ctx.config.idle_timeout;
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut wire = Vec::with_capacity(512);
        if let Some(greeting) = greeting {
            wire.extend_from_slice(&greeting);
            self.write(&mut writer, &mut wire).await?;
        }
        let mut buf = vec![0u8; READ_BUFFER];
        let mut outputs = Vec::new();
        loop {
            let read = tokio::select! {
                read = tokio::time::timeout(idle_timeout, reader.read(&mut buf)) => read,
                // A closed channel means the server is gone: shutdown too. Every command has been
                // answered here, so the session is between commands.
                _ = self.shutdown.changed() => {
                    wire.extend_from_slice(&self.session.shutdown_reply());
                    self.finish(&mut writer, &mut wire).await?;
                    return Ok(End::Closed);
                }
            };
            let n = match read {
                Ok(Ok(0)) => {
                    if self.session.in_transaction() {
                        tracing::debug!("client left without QUIT; no deletion applied");
                    }
                    return Ok(End::Closed);
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
                Err(_elapsed) => {
                    wire.extend_from_slice(&self.session.timeout_reply());
                    self.finish(&mut writer, &mut wire).await?;
                    return Ok(End::Closed);
                }
            };

            let mut input = &buf[..n];
            let mut close = false;
            let mut starttls = false;
            loop {
                let used = self.session.feed(input, &mut outputs);
                input = &input[used..];
                while !outputs.is_empty() {
                    for output in std::mem::take(&mut outputs) {
                        match output {
                            Output::Reply(reply) => wire.extend_from_slice(&reply),
                            Output::Body(body) => {
                                let mut encoder = body.encoder();
                                while !encoder.fill(&mut wire, WRITE_CHUNK) {
                                    self.write(&mut writer, &mut wire).await?;
                                }
                            }
                            Output::Login(login) => {
                                // What came before goes out now: the check may take a while.
                                self.write(&mut writer, &mut wire).await?;
                                let result = self.login(&login.user, &login.password).await;
                                self.session.logged_in(result, &mut outputs);
                            }
                            Output::Seen(id) => {
                                if let Some(store) = &self.store {
                                    let unread = store.get(&id).is_some_and(|m| !m.is_read());
                                    if unread {
                                        store.set_read(vec![id], true).await;
                                    }
                                }
                            }
                            Output::Update(ids) => {
                                let deleted = match &self.store {
                                    Some(store) => store.delete(ids).await,
                                    None => 0,
                                };
                                tracing::debug!(deleted, "POP3 UPDATE applied");
                                self.session.updated(deleted, &mut outputs);
                            }
                            Output::StartTls => starttls = true,
                            Output::Close => close = true,
                        }
                    }
                }
                if input.is_empty() || self.session.is_closed() || starttls {
                    break;
                }
            }
            if close {
                self.finish(&mut writer, &mut wire).await?;
                return Ok(End::Closed);
            }
            // Everything answered from one read goes out in one write (RFC 2449 PIPELINING).
            self.write(&mut writer, &mut wire).await?;
            if starttls {
                // Whatever the client pipelined after STLS is dropped with `buf`: plaintext
                // injected before the handshake must never be read as encrypted commands.
                writer.flush().await?;
                return Ok(End::StartTls(reader.unsplit(writer)));
            }
        }
    }

    /// Checks a login, waits after a failure, and opens the maildrop of a good one.
    async fn login(&mut self, user: &str, password: &str) -> Result<Maildrop, LoginFailure> {
        match self.ctx.logins.login(user, password).await {
            Ok(account) => {
                let maildrop = maildrop_of(&account.store).await;
                tracing::debug!(
                    user,
                    mailbox = account.mailbox.as_ref().map(|m| m.as_str()),
                    messages = maildrop.len(),
                    "POP3 login"
                );
                self.store = Some(account.store);
                Ok(maildrop)
            }
            Err(LoginError::Refused) => {
                tracing::info!(user, "POP3 login failed");
                // As for SMTP AUTH: each failure waits longer, so guessing is slow.
                let delay = auth_failure_delay(self.session.login_failures() + 1);
                tokio::time::sleep(delay).await;
                Err(LoginFailure::Refused)
            }
            Err(LoginError::Mailbox(e)) => {
                tracing::warn!(user, "POP3 login cannot open its mailbox: {e}");
                Err(LoginFailure::Unavailable(e.to_string()))
            }
        }
    }

    /// Writes `wire` out (if anything is in it) and empties it. A client that does not read
    /// for the idle timeout is given up on, as one that does not write is.
    async fn write<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut W,
        wire: &mut Vec<u8>,
    ) -> io::Result<()> {
        if wire.is_empty() {
            return Ok(());
        }
        within(self.ctx.config.idle_timeout, writer.write_all(wire)).await?;
        wire.clear();
        Ok(())
    }

    async fn finish<S: AsyncWrite>(
        &self,
        writer: &mut WriteHalf<S>,
        wire: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.write(writer, wire).await?;
        within(self.ctx.config.idle_timeout, writer.shutdown()).await
    }
}

async fn within(
    limit: Duration,
    io: impl std::future::Future<Output = io::Result<()>>,
) -> io::Result<()> {
    tokio::time::timeout(limit, io)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))?
}

/// The maildrop of what `store` holds now, oldest first; a large one is scanned off the async
/// workers.
async fn maildrop_of(store: &Store) -> Maildrop {
    let snapshot = store.snapshot();
    let bytes: usize = snapshot.messages().iter().map(|m| m.size()).sum();
    if bytes <= INLINE_MAILDROP_BYTES {
        return Maildrop::of_snapshot(snapshot.messages());
    }
    match tokio::task::spawn_blocking(move || Maildrop::of_snapshot(snapshot.messages())).await {
        Ok(maildrop) => maildrop,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
