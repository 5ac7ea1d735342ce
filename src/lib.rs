//! mailsnare: a mail-capture test server. Real SMTP in, nothing ever relayed, every message kept in
//! memory and served over an HTTP/JSON API.
//!
//! Module map:
//! - [`chaos`]: fault injection (Mailpit chaos triggers, MailHog's Jim) for the SMTP layer.
//! - [`config`]: command line and environment, resolved into one [`Config`].
//! - [`descriptors`]: the open-file limit raised, and connection bounds fitted inside it.
//! - [`smtp`]: the sans-I/O SMTP session and the I/O loop around it.
//! - [`mime`]: stored bytes taken apart: parsed views, header blocks, parts, decodings.
//! - [`message`]: a captured message, its envelope and its summary parsed once at ingest.
//! - [`search`]: the search query language and case-insensitive matching.
//! - [`tags`]: what a tag may be, and the tags a message gets on arrival.
//! - [`thumbnail`]: 180x120 JPEG thumbnails of image parts, bounded against bombs.
//! - [`checks`]: checks of a message's content (the HTML check against caniemail's data).
//! - [`extraction`]: a message's links and likely one-time codes, for tests and agents.
//! - [`store`]: the bounded store, its change events, its blocking policy and optional Maildir
//!   persistence.
//! - [`stats`]: runtime counters for `/api/v1/info`.
//! - [`passwords`]: htpasswd-style password files for SMTP AUTH and HTTP Basic auth.
//! - [`tls`]: certificates (PEM files or self-signed) and TLS acceptors.
//! - [`http`]: the HTTP router (Mailpit-compatible API) over the store.
//! - [`pop3`], [`imap`]: the mail-reading protocols, each a sans-I/O session and its I/O loop;
//!   [`login`] says which store a login reads, [`listen`] is their accept loop.
//! - [`checks`]: message checks that look outside the message: links, spamd.
//! - [`webhooks`]: signed, retried POSTs of each new message's summary to configured receivers.
//!
//! [`Server`] ties them together; the binary only parses flags and calls it, and tests bind it on
//! port 0.
#![forbid(unsafe_code)]

pub mod chaos;
pub mod checks;
pub mod config;
pub mod descriptors;
pub mod extraction;
pub mod http;
pub mod imap;
pub mod listen;
pub mod login;
pub mod mailbox;
pub mod message;
pub mod mime;
pub mod passwords;
pub mod pop3;
pub mod search;
pub mod smtp;
pub mod stats;
pub mod store;
pub mod tags;
pub mod thumbnail;
pub mod tls;
pub mod webhooks;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

pub use config::Config;
use smtp::conn::SmtpContext;
use stats::Stats;
use store::Store;

/// A server whose listeners are bound but not yet serving.
pub struct Server {
    config: Config,
    smtp: TcpListener,
    smtps: Option<TcpListener>,
    http: TcpListener,
    smtp_tls: Option<TlsAcceptor>,
    http_tls: Option<TlsAcceptor>,
    store: Store,
    mailboxes: mailbox::Mailboxes,
    pop3: Readers,
    imap: Readers,
}

/// The running reader accept loops, and the IMAP context to finish at shutdown.
type RunningReaders = (
    Vec<tokio::task::JoinHandle<()>>,
    Option<Arc<imap::ImapContext>>,
);

/// One mail-reading protocol's bound listeners (plain, implicit TLS) and its TLS acceptor.
#[derive(Default)]
struct Readers {
    plain: Option<TcpListener>,
    tls: Option<TcpListener>,
    acceptor: Option<TlsAcceptor>,
}

impl Readers {
    async fn bind(what: &str, config: &config::ReaderConfig) -> io::Result<Readers> {
        if !config.enabled() {
            return Ok(Readers::default());
        }
        let plain = match &config.addr {
            Some(addr) => Some(bind(what, addr).await?),
            None => None,
        };
        let tls = match &config.tls_addr {
            Some(addr) => Some(bind(&format!("{what}S"), addr).await?),
            None => None,
        };
        Ok(Readers {
            plain,
            tls,
            acceptor: acceptor(config.tls.as_ref())?,
        })
    }

    fn addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let addr = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        (addr(&self.plain), addr(&self.tls))
    }

    /// Spawns the accept loops, sharing one connection bound.
    fn spawn<F, Fut>(
        self,
        kind: listen::Listener,
        max: u32,
        shutdown: &watch::Receiver<bool>,
        serve: F,
    ) -> Vec<tokio::task::JoinHandle<()>>
    where
        F: Fn(listen::Accepted, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(max as usize));
        let mut tasks = Vec::new();
        if let Some(listener) = self.plain {
            tasks.push(tokio::spawn(listen::run(
                kind,
                listener,
                Arc::clone(&permits),
                max,
                shutdown.clone(),
                None,
                serve.clone(),
            )));
        }
        if let Some(listener) = self.tls {
            tasks.push(tokio::spawn(listen::run(
                kind,
                listener,
                permits,
                max,
                shutdown.clone(),
                self.acceptor,
                serve,
            )));
        }
        tasks
    }
}

async fn bind(what: &str, addr: &str) -> io::Result<TcpListener> {
    TcpListener::bind(config::bind_address(addr))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen for {what} on {addr}: {e}")))
}

fn acceptor(source: Option<&tls::CertSource>) -> io::Result<Option<TlsAcceptor>> {
    source
        .map(|s| {
            s.acceptor()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        })
        .transpose()
}

impl Server {
    /// Loads certificates, binds the listeners (port 0 picks a free port) and creates the store.
    /// Raises the open-file limit and fits the connection bounds inside it.
    pub async fn bind(mut config: Config) -> io::Result<Server> {
        let fitted = descriptors::fit(config.max_connections, config.http.max_connections);
        config.max_connections = fitted.smtp;
        config.http.max_connections = fitted.http;
        let smtp_tls = acceptor(config.smtp_tls.as_ref())?;
        let http_tls = acceptor(config.http_tls.as_ref())?;
        let smtp = bind("SMTP", &config.smtp_addr).await?;
        let smtps = match &config.smtps_addr {
            Some(addr) => Some(bind("SMTPS", addr).await?),
            None => None,
        };
        let http = bind("HTTP", &config.http_addr).await?;
        let pop3 = Readers::bind("POP3", &config.pop3).await?;
        let imap = Readers::bind("IMAP", &config.imap).await?;
        let store = match &config.storage {
            None => {
                let store = Store::new(config.store);
                store.set_auto_tags(Arc::clone(&config.auto_tags));
                store
            }
            Some(dir) => {
                let started = std::time::Instant::now();
                let maildir = store::maildir::Maildir::open(dir).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot use storage {}: {e}", dir.display()),
                    )
                })?;
                let (store, report) =
                    Store::persistent(config.store, maildir, Arc::clone(&config.auto_tags))
                        .map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!("cannot load storage {}: {e}", dir.display()),
                            )
                        })?;
                tracing::info!(
                    "loaded {} messages from {} in {:.2} s ({} leftover files cleaned)",
                    report.loaded,
                    dir.display(),
                    started.elapsed().as_secs_f64(),
                    report.skipped
                );
                store
            }
        };
        let mailboxes = mailbox::Mailboxes::new(
            store.clone(),
            config.mailboxes.rules.clone(),
            config.mailboxes.limits,
        );
        if store.is_persistent() {
            let restored = mailboxes.restore_blocking();
            if restored > 0 {
                tracing::info!(
                    "restored {restored} messages into {} mailboxes",
                    mailboxes.list().len()
                );
            }
        }
        Ok(Server {
            pop3,
            imap,
            mailboxes,
            config,
            smtp,
            smtps,
            http,
            smtp_tls,
            http_tls,
            store,
        })
    }

    pub fn smtp_addr(&self) -> io::Result<SocketAddr> {
        self.smtp.local_addr()
    }

    /// The implicit-TLS SMTP address, when `--smtps` is configured.
    pub fn smtps_addr(&self) -> Option<io::Result<SocketAddr>> {
        self.smtps.as_ref().map(TcpListener::local_addr)
    }

    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// The POP3 addresses (plain, implicit TLS), where configured.
    pub fn pop3_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.pop3.addrs()
    }

    /// The IMAP addresses (plain, implicit TLS), where configured.
    pub fn imap_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.imap.addrs()
    }

    /// The path prefix of the UI and API (`/mail`), empty for none.
    pub fn webroot(&self) -> &str {
        &self.config.webroot
    }

    /// True when the HTTP listener speaks HTTPS.
    pub fn http_is_tls(&self) -> bool {
        self.http_tls.is_some()
    }

    /// The store this server fills; a handle, cheap to clone.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// The mailboxes of this server (the root view's store is [`Server::store`]).
    pub fn mailboxes(&self) -> mailbox::Mailboxes {
        self.mailboxes.clone()
    }

    /// What `/api/v1/about` says about this server.
    fn about(&self) -> http::ops::about::About {
        let addr = |l: &TcpListener| l.local_addr().ok().map(|a| a.to_string());
        let c = &self.config;
        http::ops::about::About {
            hostname: c.session.hostname.clone(),
            listeners: http::ops::about::Listeners {
                smtp: addr(&self.smtp),
                smtps: self.smtps.as_ref().and_then(addr),
                http: addr(&self.http),
                https: self.http_tls.is_some(),
                starttls: self.smtp_tls.is_some(),
                pop3: self.pop3.plain.as_ref().and_then(addr),
                pop3s: self.pop3.tls.as_ref().and_then(addr),
                imap: self.imap.plain.as_ref().and_then(addr),
                imaps: self.imap.tls.as_ref().and_then(addr),
            },
            limits: http::ops::about::Limits {
                max_message_size: c.session.max_message_size as u64,
                max_recipients: c.session.max_recipients as u64,
                max_messages: c.store.max_messages as u64,
                max_bytes: c.store.max_bytes,
                max_connections: u64::from(c.max_connections),
                idle_timeout_seconds: c.idle_timeout.as_secs(),
                smtp_auth_required: c.session.require_auth,
                smtp_tls_required: c.session.require_tls,
            },
            checks: http::ops::about::ChecksAbout {
                spam_assassin: c.checks.spamassassin.as_ref().map(|s| s.spamd.to_string()),
                link_check_internal: c.checks.links.allow_internal,
                link_check_untrusted_tls: c.checks.links.allow_untrusted_tls,
            },
            ..http::ops::about::About::new()
        }
    }

    /// Starts the POP3 and IMAP accept loops that are configured.
    fn spawn_readers(&mut self, shutdown: &watch::Receiver<bool>) -> io::Result<RunningReaders> {
        let checks = Arc::new(Semaphore::new(self.config.max_auth_checks));
        let logins = |c: &config::ReaderConfig| {
            login::Logins::new(
                c.passwords.clone(),
                self.mailboxes.clone(),
                Arc::clone(&checks),
            )
        };
        let hostname = self.config.session.hostname.clone();
        let storage = self.config.storage.as_deref();
        let mut tasks = Vec::new();
        let pop3 = std::mem::take(&mut self.pop3);
        if pop3.plain.is_some() || pop3.tls.is_some() {
            let c = &self.config.pop3;
            let ctx = Arc::new(pop3::Pop3Context::new(
                c.clone(),
                logins(c),
                pop3.acceptor.clone(),
                hostname.clone(),
                storage,
            )?);
            let stop = shutdown.clone();
            let kind = listen::Listener {
                protocol: "pop3",
                refusal: pop3::REFUSAL,
                grace: smtp::conn::SHUTDOWN_GRACE,
            };
            tasks.extend(
                pop3.spawn(kind, c.max_connections, shutdown, move |s, peer| {
                    pop3::serve(s, peer, Arc::clone(&ctx), stop.clone())
                }),
            );
        }
        let imap = std::mem::take(&mut self.imap);
        let mut imap_ctx = None;
        if imap.plain.is_some() || imap.tls.is_some() {
            let c = &self.config.imap;
            let ctx = Arc::new(imap::ImapContext::new(
                c.clone(),
                logins(c),
                imap.acceptor.clone(),
                hostname,
                storage,
            )?);
            imap_ctx = Some(Arc::clone(&ctx));
            let stop = shutdown.clone();
            let kind = listen::Listener {
                protocol: "imap",
                refusal: imap::REFUSAL,
                grace: smtp::conn::SHUTDOWN_GRACE,
            };
            tasks.extend(
                imap.spawn(kind, c.max_connections, shutdown, move |s, peer| {
                    imap::serve(s, peer, Arc::clone(&ctx), stop.clone())
                }),
            );
        }
        Ok((tasks, imap_ctx))
    }

    /// Serves SMTP and HTTP until `shutdown` completes, then stops accepting, lets open SMTP
    /// transactions finish (within a grace period) and returns. Creates the parts every listener
    /// shares (counters, chaos engine, live hub, shutdown signal) and hands them down.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let about = Arc::new(self.about());
        if let Some(spam) = self.config.checks.spamassassin.clone() {
            // Mailpit pings at startup too: a wrong address shows before anyone opens a check.
            tokio::spawn(async move {
                match checks::spam::ping(&spam).await {
                    Ok(()) => tracing::info!("spam check: spamd at {} answers", spam.spamd),
                    Err(e) => tracing::warn!("spam check: spamd at {}: {e}", spam.spamd),
                }
            });
        }
        let stats = Arc::new(Stats::default());
        let chaos = Arc::new(self.config.chaos.engine());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (readers, imap_ctx) = self.spawn_readers(&stop_rx)?;
        let webhooks = webhooks::Webhooks::start(
            &self.config.webhooks.hooks,
            self.config.webhooks.limits,
            &self.mailboxes,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let hub = http::live::Hub::new(self.config.live);
        let hub_task = tokio::spawn(hub.clone().run(self.store.clone(), self.store.subscribe()));

        let ctx = Arc::new(SmtpContext {
            session: Arc::new(self.config.session.clone()),
            chaos: Arc::clone(&chaos),
            stats: Arc::clone(&stats),
            mailboxes: self.mailboxes.clone(),
            idle_timeout: self.config.idle_timeout,
            tls: self.smtp_tls.clone(),
            passwords: self.config.smtp_passwords.clone(),
            auth_checks: Arc::new(Semaphore::new(self.config.max_auth_checks)),
            buffers: smtp::conn::BufferPool::default(),
            store_exact: self.config.smtp_store_exact,
        });
        // One bound for both SMTP listeners.
        let permits = Arc::new(Semaphore::new(self.config.max_connections as usize));
        let max = self.config.max_connections;
        let smtp = tokio::spawn(smtp::listener::run(
            self.smtp,
            Arc::clone(&ctx),
            Arc::clone(&permits),
            max,
            stop_rx.clone(),
            None,
        ));
        let smtps = self.smtps.map(|listener| {
            tokio::spawn(smtp::listener::run(
                listener,
                ctx,
                permits,
                max,
                stop_rx.clone(),
                self.smtp_tls,
            ))
        });
        let state = http::AppState {
            store: self.store.clone(),
            stats,
            hub,
            chaos,
            shutdown: stop_rx.clone(),
            about,
            options: Arc::new(http::ApiOptions {
                mailhog_v1_list: self.config.mailhog,
                max_message_size: self.config.session.max_message_size,
                max_sends: self.config.max_sends,
                search: self.config.search,
                store_exact: self.config.smtp_store_exact,
            }),
            waiting: Arc::default(),
            mailhog_renders: Arc::default(),
            checks: checks::Checks::new(&self.config.checks),
            mailboxes: self.mailboxes.clone(),
            webhooks,
        };
        let sweeper = tokio::spawn(self.mailboxes.clone().sweep_forever());
        let policy = http::ops::origin::OriginPolicy::new(
            self.config.allowed_hosts.as_deref(),
            self.config.cors_origin.as_deref(),
            &self.config.webroot,
        );
        let access = http::ops::access::Access {
            ui: self.config.http_passwords.clone(),
            send: self.config.send_auth.clone(),
        };
        let app = http::app(&self.config.webroot, state, access, policy);
        let http = tokio::spawn(http::serve::serve(
            self.http,
            self.http_tls,
            app,
            self.config.http,
            stop_rx,
        ));
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let (smtp, http) = tokio::join!(smtp, http);
        if let Some(smtps) = smtps {
            smtps.await.map_err(io::Error::other)?;
        }
        for reader in readers {
            reader.await.map_err(io::Error::other)?;
        }
        // Every UID handed out is on disk before the process ends.
        if let Some(imap) = imap_ctx {
            imap.finish().await;
        }
        hub_task.abort();
        sweeper.abort();
        smtp.map_err(io::Error::other)?;
        http.map_err(io::Error::other)?;
        Ok(())
    }
}
