//! The I/O loop of one IMAP connection, the only IMAP code that touches a socket: it feeds the
//! session bytes and store events, carries out what the session asks (password checks, store
//! changes, rendering FETCH and SEARCH off the async workers when the mail is large), upgrades
//! to TLS on STARTTLS, and applies the idle timeout (IDLE included) and shutdown.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::ImapContext;
use super::fetch::{FetchJob, INLINE_RENDER};
use super::search::SearchJob;
use super::session::{Output, Session};
use super::uids::FlagChange;
use crate::message::Envelope;
use crate::smtp::conn::auth_failure_delay;
use crate::store::Event;

/// Bytes read per syscall.
const READ_BUFFER: usize = 16 * 1024;
/// FETCH rows rendered per write, so a `FETCH 1:* BODY[]` never sits whole in memory.
const ROWS_PER_WRITE: usize = 64;

/// How one run of the loop over a stream ended.
enum End<S> {
    Closed,
    StartTls(S),
}

/// Serves one connection; `tls` is true when it is already encrypted (IMAPS).
pub async fn serve<S>(
    stream: S,
    ctx: &ImapContext,
    shutdown: watch::Receiver<bool>,
    tls: bool,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut session = Session::new(Arc::clone(&ctx.session), Arc::clone(&ctx.registry), tls);
    let greeting = session.greeting();
    let mut conn = Conn {
        ctx,
        shutdown,
        events: None,
        flags: None,
    };
    let stream = match conn.run(&mut session, stream, Some(greeting)).await? {
        End::Closed => return Ok(()),
        End::StartTls(stream) => stream,
    };
    let Some(acceptor) = &ctx.tls else {
        return Ok(());
    };
    let tls = match Box::pin(crate::tls::handshake(acceptor, stream)).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!("IMAP STARTTLS handshake: {e}");
            return Ok(());
        }
    };
    let mut outputs = Vec::new();
    session.tls_started(&mut outputs);
    // The session refuses a second STARTTLS, so this run can only end by closing.
    match Box::pin(conn.run(&mut session, tls, None)).await? {
        End::Closed | End::StartTls(_) => Ok(()),
    }
}

struct Conn<'a> {
    ctx: &'a ImapContext,
    shutdown: watch::Receiver<bool>,
    /// The logged-in store's changes.
    events: Option<broadcast::Receiver<Event>>,
    /// Other sessions' flag changes in the selected folder.
    flags: Option<broadcast::Receiver<FlagChange>>,
}

/// What woke the loop.
enum Wake {
    Read(io::Result<usize>),
    Event(Result<Event, broadcast::error::RecvError>),
    Flags(Result<FlagChange, broadcast::error::RecvError>),
    Idle,
    Shutdown,
}

impl Conn<'_> {
    async fn run<S>(
        &mut self,
        session: &mut Session,
        stream: S,
        greeting: Option<Vec<u8>>,
    ) -> io::Result<End<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        if let Some(greeting) = greeting {
            writer.write_all(&greeting).await?;
        }
        let mut buf = vec![0u8; READ_BUFFER];
        let mut outputs = Vec::new();
        let idle_timeout = self.ctx.config.idle_timeout;
        let idle = tokio::time::sleep(idle_timeout);
        tokio::pin!(idle);
        loop {
            let wake = {
                let events = self.events.as_mut();
                let flags = self.flags.as_mut();
                tokio::select! {
                    read = reader.read(&mut buf) => Wake::Read(read),
                    event = recv(events) => Wake::Event(event),
                    change = recv(flags) => Wake::Flags(change),
                    () = &mut idle => Wake::Idle,
                    _ = self.shutdown.changed() => Wake::Shutdown,
                }
            };
            match wake {
                Wake::Read(Ok(0)) => return Ok(End::Closed),
                Wake::Read(Ok(n)) => {
                    // Only the client's bytes count as activity (RFC 3501 5.4); IDLE included.
                    idle.as_mut().reset(Instant::now() + idle_timeout);
                    session.feed(&buf[..n]);
                    session.advance(&mut outputs);
                }
                Wake::Read(Err(e)) => return Err(e),
                Wake::Event(Ok(event)) => session.store_event(event, &mut outputs),
                Wake::Event(Err(broadcast::error::RecvError::Lagged(_))) => {
                    session.lagged(&mut outputs)
                }
                Wake::Event(Err(broadcast::error::RecvError::Closed)) => self.events = None,
                Wake::Flags(Ok(change)) => session.flag_change(change, &mut outputs),
                Wake::Flags(Err(broadcast::error::RecvError::Lagged(_))) => {
                    session.flags_lagged(&mut outputs)
                }
                Wake::Flags(Err(broadcast::error::RecvError::Closed)) => self.flags = None,
                Wake::Idle => {
                    writer.write_all(&session.timeout_reply()).await?;
                    let _ = writer.shutdown().await;
                    return Ok(End::Closed);
                }
                Wake::Shutdown => {
                    writer.write_all(&session.shutdown_reply()).await?;
                    let _ = writer.shutdown().await;
                    return Ok(End::Closed);
                }
            }
            match self.carry_out(session, &mut outputs, &mut writer).await? {
                Step::Go => {}
                Step::Close => {
                    let _ = writer.shutdown().await;
                    return Ok(End::Closed);
                }
                Step::StartTls => {
                    writer.flush().await?;
                    return Ok(End::StartTls(reader.unsplit(writer)));
                }
            }
        }
    }

    /// Does what the session asked, in order, until it asks nothing more.
    async fn carry_out<W>(
        &mut self,
        session: &mut Session,
        outputs: &mut Vec<Output>,
        writer: &mut W,
    ) -> io::Result<Step>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut wire = Vec::new();
        while !outputs.is_empty() {
            let batch: Vec<Output> = std::mem::take(outputs);
            for output in batch {
                match output {
                    Output::Write(bytes) => wire.extend_from_slice(&bytes),
                    Output::Login { user, password } => {
                        let result = self.ctx.logins.login(&user, &password).await;
                        match &result {
                            Ok(_) => tracing::debug!(user = %user, "IMAP login"),
                            Err(e) => {
                                tracing::info!(user = %user, "IMAP login failed: {e}");
                                let delay = auth_failure_delay(session.login_failures() + 1);
                                tokio::time::sleep(delay).await;
                            }
                        }
                        session.logged_in(result, outputs);
                    }
                    Output::Subscribe(store) => self.events = Some(store.subscribe()),
                    Output::WatchFlags(changes) => self.flags = Some(changes),
                    Output::StartTls => {
                        self.ctx.registry.durable().await;
                        writer.write_all(&wire).await?;
                        return Ok(Step::StartTls);
                    }
                    Output::SetRead { store, ids, read } => {
                        store.set_read(ids, read).await;
                        session.stored(outputs);
                    }
                    Output::Delete { store, ids } => {
                        store.delete(ids).await;
                        session.stored(outputs);
                    }
                    Output::Retag { store, changes } => {
                        for (id, tags) in changes {
                            store.set_tags(vec![id], tags).await;
                        }
                        session.stored(outputs);
                    }
                    Output::Append {
                        store,
                        user,
                        data,
                        seen,
                    } => {
                        let envelope = envelope_of(&data, user);
                        let result = store.receive(envelope, data).await;
                        if seen && let Ok(message) = &result {
                            store.set_read(vec![message.id], true).await;
                        }
                        session.appended(result, outputs);
                    }
                    Output::Fetch(job) => {
                        self.ctx.registry.durable().await;
                        writer.write_all(&wire).await?;
                        wire.clear();
                        render_fetch(job, writer).await?;
                    }
                    Output::Search(job) => wire.extend_from_slice(&render_search(job).await),
                    Output::Close => {
                        self.ctx.registry.durable().await;
                        writer.write_all(&wire).await?;
                        return Ok(Step::Close);
                    }
                }
            }
        }
        if !wire.is_empty() {
            // A UID in these bytes must be on disk before the client sees it.
            self.ctx.registry.durable().await;
            writer.write_all(&wire).await?;
        }
        Ok(Step::Go)
    }
}

enum Step {
    Go,
    Close,
    StartTls,
}

/// The next event of a channel, or never when there is none (not logged in, nothing selected).
async fn recv<T: Clone>(
    events: Option<&mut broadcast::Receiver<T>>,
) -> Result<T, broadcast::error::RecvError> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes a FETCH's rows a few at a time; large mail is parsed on the blocking pool.
async fn render_fetch<W: AsyncWrite + Unpin>(job: FetchJob, writer: &mut W) -> io::Result<()> {
    let job = Arc::new(job);
    let mut start = 0;
    while start < job.rows.len() {
        let end = (start + ROWS_PER_WRITE).min(job.rows.len());
        let weight: usize = job.rows[start..end].iter().map(|r| r.message.size()).sum();
        let bytes = if weight <= INLINE_RENDER {
            let mut out = Vec::new();
            job.render_rows(start..end, &mut out);
            out
        } else {
            let job = Arc::clone(&job);
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                job.render_rows(start..end, &mut out);
                out
            })
            .await
            .map_err(io::Error::other)?
        };
        writer.write_all(&bytes).await?;
        start = end;
    }
    Ok(())
}

async fn render_search(job: SearchJob) -> Vec<u8> {
    if job.weight() <= INLINE_RENDER {
        return job.render();
    }
    match tokio::task::spawn_blocking(move || job.render()).await {
        Ok(bytes) => bytes,
        // A panic in the search is a bug; the client gets an empty result rather than a hang.
        Err(_) => b"* SEARCH\r\n".to_vec(),
    }
}

/// The envelope an APPENDed message is stored with: its From and recipients from its headers,
/// the user who appended it as the authenticated sender.
fn envelope_of(data: &[u8], user: String) -> Envelope {
    let addressing = crate::mime::headers::addressing(data);
    let from = mail_parser::MessageParser::default()
        .parse_headers(data)
        .and_then(|m| {
            m.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address.as_deref().map(str::to_string))
        })
        .unwrap_or_default();
    Envelope {
        helo: "imap-append".into(),
        mail_from: from,
        rcpt_to: addressing.recipients,
        auth_user: Some(user),
        ..Envelope::default()
    }
}
