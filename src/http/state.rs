//! What every handler can reach: the shared parts that [`crate::Server::run`] creates and hands
//! down (store, counters, live hub, chaos engine, shutdown signal), plus what is fixed at startup.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use super::live::{Hub, LiveLimits};
use super::mailhog::shared::Renders;
use super::ops::about::About;
use crate::chaos::Chaos;
use crate::stats::Stats;
use crate::store::Store;

/// The handlers' view of the server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// SMTP and HTTP counters since startup.
    pub stats: Arc<Stats>,
    pub hub: Hub,
    /// The chaos engine the SMTP layer consults; the chaos routes change it.
    pub chaos: Arc<Chaos>,
    /// Turns true when the server shuts down; long-lived streams (SSE, WebSockets) end then.
    pub shutdown: watch::Receiver<bool>,
    /// What `/api/v1/about` reports.
    pub about: Arc<About>,
    pub options: Arc<ApiOptions>,
    /// Long polls (`wait=`) waiting for a message right now.
    pub waiting: Arc<AtomicUsize>,
    /// MailHog JSON renders that responses are still sending.
    pub mailhog_renders: Arc<Renders>,
    /// The message checks' clients, limits and caches.
    pub checks: Arc<crate::checks::Checks>,
    /// Every mailbox; `store` is the root view's store, or one mailbox's under `/mailbox/{name}/`.
    pub mailboxes: crate::mailbox::Mailboxes,
    /// The webhooks and what they delivered.
    pub webhooks: crate::webhooks::Webhooks,
}

/// Counts one waiting request while it lives.
#[derive(Debug)]
pub struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    pub fn new(count: &Arc<AtomicUsize>) -> Waiting {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(Arc::clone(count))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Switches and bounds that change what the API answers.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Serve MailHog's plain array at `GET /api/v1/messages` instead of Mailpit's list.
    pub mailhog_v1_list: bool,
    /// Largest message `/api/v1/send` builds (the SMTP limit, `--max-message-size`).
    pub max_message_size: usize,
    /// Most `/api/v1/send` requests handled at once.
    pub max_sends: usize,
    /// Bounds of one search.
    pub search: crate::search::SearchLimits,
    /// Store sent messages without the trace headers ingest adds (`--smtp-store-exact`).
    pub store_exact: bool,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            mailhog_v1_list: false,
            max_message_size: crate::config::DEFAULT_MAX_MESSAGE_SIZE as usize,
            max_sends: crate::config::DEFAULT_MAX_SENDS,
            search: crate::search::SearchLimits::default(),
            store_exact: false,
        }
    }
}

impl AppState {
    /// State over `store` for tests and embedding: default options, fresh counters, chaos off,
    /// no shutdown, and a live hub running on the current runtime (call it inside one).
    pub fn for_store(store: Store) -> AppState {
        let hub = Hub::new(LiveLimits::default());
        tokio::spawn(hub.clone().run(store.clone(), store.subscribe()));
        // No sender: this state never shuts down, and streams end only with their clients.
        let (_, shutdown) = watch::channel(false);
        let mailboxes = crate::mailbox::Mailboxes::new(
            store.clone(),
            crate::mailbox::Rules::by_auth_user(),
            crate::mailbox::MailboxLimits::default(),
        );
        AppState {
            mailboxes,
            store,
            stats: Arc::new(Stats::default()),
            hub,
            chaos: Arc::new(Chaos::default()),
            shutdown,
            about: Arc::new(About::new()),
            options: Arc::new(ApiOptions::default()),
            waiting: Arc::default(),
            mailhog_renders: Arc::default(),
            checks: Arc::default(),
            webhooks: crate::webhooks::Webhooks::default(),
        }
    }

    /// Completes when the server begins shutting down.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.shutdown.clone();
        async move {
            // A dropped sender is not a shutdown: the streams then end with their clients.
            if stop.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
