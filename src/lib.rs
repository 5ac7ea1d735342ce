//! mailsnare: a mail-capture test server. Real SMTP in, nothing ever relayed, every message kept in
//! memory and served over an HTTP/JSON API.
//!
//! Module map:
//! - [`chaos`]: fault injection (Mailpit chaos triggers, MailHog's Jim) for the SMTP layer.
//! - [`config`]: command line and environment, resolved into one [`Config`].
//! - [`smtp`]: the sans-I/O SMTP session and the I/O loop around it.
//! - [`message`]: a captured message, its envelope and its summary parsed once at ingest.
//! - [`search`]: the search query language and case-insensitive matching.
//! - [`store`]: the bounded in-memory store and its change events.
//! - [`stats`]: runtime counters for `/api/v1/info`.
//! - [`http`]: the HTTP router (Mailpit-compatible API) over the store.
//!
//! [`Server`] ties them together; the binary only parses flags and calls it, and tests bind it on
//! port 0.
#![forbid(unsafe_code)]

pub mod chaos;
pub mod config;
pub mod http;
pub mod message;
pub mod search;
pub mod smtp;
pub mod stats;
pub mod store;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
use smtp::conn::SmtpContext;
use store::Store;

/// A server whose listeners are bound but not yet serving.
#[derive(Debug)]
pub struct Server {
    config: Config,
    smtp: TcpListener,
    http: TcpListener,
    store: Store,
}

async fn bind(what: &str, addr: &str) -> io::Result<TcpListener> {
    TcpListener::bind(config::bind_address(addr))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen for {what} on {addr}: {e}")))
}

impl Server {
    /// Binds both listeners (port 0 picks a free port) and creates the store.
    pub async fn bind(config: Config) -> io::Result<Server> {
        let smtp = bind("SMTP", &config.smtp_addr).await?;
        let http = bind("HTTP", &config.http_addr).await?;
        let store = Store::new(config.store);
        Ok(Server {
            config,
            smtp,
            http,
            store,
        })
    }

    pub fn smtp_addr(&self) -> io::Result<SocketAddr> {
        self.smtp.local_addr()
    }

    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// The store this server fills; a handle, cheap to clone.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves SMTP and HTTP until `shutdown` completes, then stops accepting, lets open SMTP
    /// transactions finish (within a grace period) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let stop_tx = Arc::new(watch::channel(false).0);
        let stop_rx = stop_tx.subscribe();
        let ctx = Arc::new(SmtpContext {
            session: Arc::new(self.config.session.clone()),
            store: self.store.clone(),
            idle_timeout: self.config.idle_timeout,
        });
        let smtp = tokio::spawn(smtp::listener::run(
            self.smtp,
            ctx,
            self.config.max_connections,
            stop_rx.clone(),
        ));
        let options = http::ApiOptions {
            mailhog_v1_list: self.config.mailhog_v1_list,
        };
        let state = http::AppState::with_options(
            self.store.clone(),
            options,
            Arc::clone(&self.config.session.chaos),
            Arc::clone(&stop_tx),
        );
        let app = http::router_at(&self.config.webroot, state);
        let mut http_stop = stop_rx;
        let http = tokio::spawn(
            axum::serve(self.http, app)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|stop| *stop).await;
                })
                .into_future(),
        );
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let (smtp, http) = tokio::join!(smtp, http);
        smtp.map_err(io::Error::other)?;
        http.map_err(io::Error::other)??;
        Ok(())
    }
}
