//! Webhooks: an HTTP POST of the new message's summary (Mailpit's `MessageSummary` JSON) to each
//! configured receiver, signed, retried and logged, never holding up SMTP.
//!
//! Each hook has its own task that follows its store's events (the root view, or one mailbox),
//! keeps the messages its filter matches in a bounded queue (the oldest is dropped when it is
//! full), and sends them one at a time: a 2xx delivers, a timeout, a 408/429 or a 5xx is retried
//! with a doubling pause for a bounded time, any other answer fails at once. The last deliveries
//! and their attempts are kept for `GET /api/v1/webhooks`. Connections go through the link
//! check's [`AddressPolicy`]: internal addresses only with `--allow-internal-http-requests`, and
//! redirects are not followed.
//!
//! `--webhook-url` is Mailpit's hook: at most one request per `--webhook-limit` seconds (the
//! messages in between are skipped, as Mailpit does), each after `--webhook-delay` seconds.

pub mod spec;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::checks::address_policy::{AddressPolicy, SystemResolver, Vetting, ip_literal};
use crate::mailbox::Mailboxes;
use crate::message::StoredMessage;
use crate::search::Query;
use crate::store::{Event, Store};
pub use spec::{HookSpec, SpecError};

/// The signature header: `sha256=` and the hex HMAC-SHA256 of the body under the hook's secret.
pub const SIGNATURE_HEADER: &str = "x-mailsnare-signature";
/// A delivery's id, the same on each of its attempts (receivers can drop repeats).
pub const DELIVERY_HEADER: &str = "x-mailsnare-delivery";
/// The attempt's number, from 1.
pub const ATTEMPT_HEADER: &str = "x-mailsnare-attempt";
/// Deliveries remembered per hook for the API, newest last.
pub const LOG_LENGTH: usize = 100;
/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Bounds shared by every hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookLimits {
    /// Messages waiting per hook; past it the oldest waiting one is dropped.
    pub queue: usize,
    /// How long a delivery is retried before it is given up.
    pub retry_for: Duration,
    /// One attempt, connect to last byte.
    pub timeout: Duration,
    /// Let the link check's internal addresses be reached (a receiver on this machine).
    pub allow_internal: bool,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        WebhookLimits {
            queue: crate::config::DEFAULT_WEBHOOK_QUEUE,
            retry_for: crate::config::DEFAULT_WEBHOOK_RETRY_FOR,
            timeout: crate::config::DEFAULT_WEBHOOK_TIMEOUT,
            allow_internal: false,
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attempt {
    /// When it started (RFC 3339).
    pub at: String,
    /// The receiver's status code; 0 when none came (the error says why).
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Delivered,
    Failed,
    /// Pushed out of a full queue before it was sent.
    Dropped,
}

/// One message's delivery to one hook.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Delivery {
    #[serde(rename = "ID")]
    pub id: Uuid,
    #[serde(rename = "MessageID")]
    pub message_id: Uuid,
    pub state: State,
    pub attempts: Vec<Attempt>,
}

/// What the API says of one hook (its secret never).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HookReport {
    #[serde(rename = "URL")]
    pub url: String,
    pub mailbox: Option<String>,
    pub query: Option<String>,
    pub signed: bool,
    pub queued: usize,
    pub delivered: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Messages a Mailpit-style hook skipped inside its `--webhook-limit` interval.
    pub skipped: u64,
    pub deliveries: Vec<Delivery>,
}

struct Job {
    delivery: Uuid,
    message: Arc<StoredMessage>,
    /// The summary JSON, made at the first attempt (not at arrival: a hook that never answers
    /// must not cost ingest anything but a queue push) and sent the same on every retry.
    body: Option<Bytes>,
    /// When it may first be sent (after `--webhook-delay`).
    due: Instant,
    /// Until when it is retried.
    until: Instant,
}

#[derive(Default)]
struct HookState {
    queue: VecDeque<Job>,
    log: VecDeque<Delivery>,
    delivered: u64,
    failed: u64,
    dropped: u64,
    skipped: u64,
    /// When the last message was taken, for the Mailpit-style rate limit.
    last_taken: Option<Instant>,
}

impl HookState {
    fn log_mut(&mut self, id: Uuid) -> Option<&mut Delivery> {
        self.log.iter_mut().rev().find(|d| d.id == id)
    }
}

struct Hook {
    spec: HookSpec,
    query: Option<Query>,
    store: Store,
    state: Mutex<HookState>,
    wake: Notify,
}

fn lock(m: &Mutex<HookState>) -> MutexGuard<'_, HookState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The configured hooks and their tasks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Webhooks {
    hooks: Arc<Vec<Arc<Hook>>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

/// Why the hooks could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("webhook {url}: its mailbox: {error}")]
    Mailbox {
        url: String,
        error: crate::mailbox::MailboxError,
    },
    #[error("webhook {url}: its query: {error}")]
    Query { url: String, error: String },
    #[error("webhooks: cannot build the HTTP client: {0}")]
    Client(String),
}

impl Webhooks {
    /// Starts a task per hook (call inside the runtime). Hooks scoped to a mailbox make it.
    pub fn start(
        specs: &[HookSpec],
        limits: WebhookLimits,
        mailboxes: &Mailboxes,
    ) -> Result<Webhooks, StartError> {
        if specs.is_empty() {
            return Ok(Webhooks::default());
        }
        let policy = AddressPolicy::new(limits.allow_internal);
        let client = reqwest::Client::builder()
            .user_agent(concat!("mailsnare/", env!("CARGO_PKG_VERSION")))
            // A redirect would go somewhere the policy has not seen.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Vetting::new(
                policy.clone(),
                Arc::new(SystemResolver),
            )))
            .connect_timeout(limits.timeout)
            .timeout(limits.timeout)
            .build()
            .map_err(|e| StartError::Client(e.to_string()))?;
        let mut hooks = Vec::with_capacity(specs.len());
        for spec in specs {
            let store = match &spec.mailbox {
                None => mailboxes.root().clone(),
                Some(name) => {
                    mailboxes
                        .get_or_create(name)
                        .map_err(|error| StartError::Mailbox {
                            url: spec.url.to_string(),
                            error,
                        })?
                        .store
                }
            };
            let query = spec
                .query
                .as_deref()
                .map(Query::parse)
                .transpose()
                .map_err(|e| StartError::Query {
                    url: spec.url.to_string(),
                    error: e.0,
                })?;
            let hook = Arc::new(Hook {
                spec: spec.clone(),
                query,
                store,
                state: Mutex::default(),
                wake: Notify::new(),
            });
            tokio::spawn(follow(Arc::clone(&hook), limits));
            tokio::spawn(send_forever(
                Arc::clone(&hook),
                client.clone(),
                policy.clone(),
            ));
            hooks.push(hook);
        }
        Ok(Webhooks {
            hooks: Arc::new(hooks),
        })
    }

    /// What each hook following `store` has done (every hook for the root view's store).
    pub fn report(&self, store: &Store) -> Vec<HookReport> {
        self.hooks
            .iter()
            .filter(|h| !store.is_mailbox() || h.store.same(store))
            .map(|h| {
                let state = lock(&h.state);
                HookReport {
                    url: h.spec.url.to_string(),
                    mailbox: h.spec.mailbox.clone(),
                    query: h.spec.query.clone(),
                    signed: h.spec.secret.is_some(),
                    queued: state.queue.len(),
                    delivered: state.delivered,
                    failed: state.failed,
                    dropped: state.dropped,
                    skipped: state.skipped,
                    deliveries: state.log.iter().cloned().collect(),
                }
            })
            .collect()
    }
}

/// The signature of `body` under `secret`: `sha256=` and lower-case hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Follows the hook's store: each new message its filter matches is queued.
async fn follow(hook: Arc<Hook>, limits: WebhookLimits) {
    let mut events = hook.store.subscribe();
    loop {
        let message = match events.recv().await {
            Ok(Event::New(message)) => message,
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                // Too far behind to know which they were: counted, never waited for.
                lock(&hook.state).dropped += n;
                tracing::warn!("webhook {}: {n} messages missed", hook.spec.url);
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if hook.query.as_ref().is_some_and(|q| !q.matches(&message)) {
            continue;
        }
        enqueue(&hook, &message, limits);
    }
}

fn enqueue(hook: &Hook, message: &Arc<StoredMessage>, limits: WebhookLimits) {
    let now = Instant::now();
    let mut state = lock(&hook.state);
    if let Some(interval) = hook.spec.min_interval
        && state
            .last_taken
            .is_some_and(|t| now.duration_since(t) < interval)
    {
        state.skipped += 1;
        return;
    }
    state.last_taken = Some(now);
    if state.queue.len() >= limits.queue.max(1)
        && let Some(old) = state.queue.pop_front()
    {
        state.dropped += 1;
        if let Some(d) = state.log_mut(old.delivery) {
            d.state = State::Dropped;
        }
    }
    let delivery = Uuid::now_v7();
    let due = now + hook.spec.delay;
    state.queue.push_back(Job {
        delivery,
        message: Arc::clone(message),
        body: None,
        due,
        until: due + limits.retry_for,
    });
    if state.log.len() >= LOG_LENGTH {
        state.log.pop_front();
    }
    state.log.push_back(Delivery {
        id: delivery,
        message_id: message.id,
        state: State::Pending,
        attempts: Vec::new(),
    });
    drop(state);
    hook.wake.notify_one();
}

/// The body of every request: Mailpit's `MessageSummary` of the message.
fn summary_json(message: &StoredMessage) -> Bytes {
    match serde_json::to_vec(&crate::http::mailpit::model::MessageSummary::new(message)) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            // Plain data: this does not happen; an empty object still tells the receiver.
            tracing::error!("webhook: cannot serialize a summary: {e}");
            Bytes::from_static(b"{}")
        }
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    Retry,
    Fail,
}

async fn send_forever(hook: Arc<Hook>, client: reqwest::Client, policy: AddressPolicy) {
    let mut backoff = Duration::from_secs(1);
    loop {
        // The head of the queue, once it is due.
        let (delivery, body, due, until, attempt) = loop {
            let head = {
                let mut state = lock(&hook.state);
                let attempt = state.queue.front().map_or(0, |j| {
                    state
                        .log
                        .iter()
                        .rev()
                        .find(|d| d.id == j.delivery)
                        .map_or(0, |d| d.attempts.len())
                });
                state.queue.front_mut().map(|j| {
                    let body = j
                        .body
                        .get_or_insert_with(|| summary_json(&j.message))
                        .clone();
                    (j.delivery, body, j.due, j.until, attempt + 1)
                })
            };
            match head {
                Some(job) => break job,
                None => hook.wake.notified().await,
            }
        };
        let now = Instant::now();
        if due > now {
            // A newer message cannot be due earlier: wait for this one (or for a drop to change
            // the head, which a wake tells).
            tokio::select! {
                () = tokio::time::sleep(due - now) => {}
                () = hook.wake.notified() => {}
            }
            continue;
        }
        let started = Instant::now();
        let at = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let result = attempt_once(&hook, &client, &policy, delivery, &body, attempt).await;
        let (status_code, error, outcome) = match result {
            Ok(status) if (200..300).contains(&status) => (status, None, Outcome::Delivered),
            Ok(status) if status == 408 || status == 429 || status >= 500 => (
                status,
                Some(format!("the receiver answered {status}")),
                Outcome::Retry,
            ),
            Ok(status) => (
                status,
                Some(format!("the receiver answered {status}; not retried")),
                Outcome::Fail,
            ),
            Err((error, retry)) => (
                0,
                Some(error),
                if retry { Outcome::Retry } else { Outcome::Fail },
            ),
        };
        let outcome = match outcome {
            Outcome::Retry if Instant::now() + backoff > until => Outcome::Fail,
            other => other,
        };
        let mut state = lock(&hook.state);
        // The job may have been dropped from a full queue while it was being sent.
        let still_head = state.queue.front().is_some_and(|j| j.delivery == delivery);
        if let Some(d) = state.log_mut(delivery) {
            d.attempts.push(Attempt {
                at,
                status_code,
                error,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            d.state = match outcome {
                Outcome::Delivered => State::Delivered,
                Outcome::Fail => State::Failed,
                Outcome::Retry if still_head => State::Pending,
                Outcome::Retry => State::Dropped,
            };
        }
        match outcome {
            Outcome::Delivered => {
                state.delivered += 1;
                backoff = Duration::from_secs(1);
                if still_head {
                    state.queue.pop_front();
                }
            }
            Outcome::Fail => {
                state.failed += 1;
                backoff = Duration::from_secs(1);
                if still_head {
                    state.queue.pop_front();
                }
                tracing::warn!("webhook {}: a delivery failed for good", hook.spec.url);
            }
            Outcome::Retry => {
                if let Some(job) = state.queue.front_mut().filter(|_| still_head) {
                    job.due = Instant::now() + backoff;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One POST; the status code, or why there was none and whether trying again may help.
async fn attempt_once(
    hook: &Hook,
    client: &reqwest::Client,
    policy: &AddressPolicy,
    delivery: Uuid,
    body: &Bytes,
    attempt: usize,
) -> Result<u16, (String, bool)> {
    let url = &hook.spec.url;
    // IP literals never reach the resolver, which vets names.
    if let Some(host) = url.host_str()
        && let Some(ip) = ip_literal(host)
    {
        policy.check_ip(host, ip).map_err(|e| {
            (
                format!("{e} (--allow-internal-http-requests allows it)"),
                false,
            )
        })?;
    }
    let mut request = client
        .post(url.clone())
        .header("content-type", "application/json")
        .header(DELIVERY_HEADER, delivery.to_string())
        .header(ATTEMPT_HEADER, attempt.to_string())
        .body(body.clone());
    if let Some(secret) = &hook.spec.secret {
        request = request.header(SIGNATURE_HEADER, signature(secret, body));
    }
    match request.send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => {
            let blocked = std::error::Error::source(&e)
                .into_iter()
                .chain(std::iter::successors(std::error::Error::source(&e), |e| {
                    e.source()
                }))
                .any(|s| s.is::<crate::checks::address_policy::Refusal>());
            let what = if e.is_timeout() {
                "timed out".to_string()
            } else if blocked {
                "blocked: an internal address (--allow-internal-http-requests allows it)".into()
            } else {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text = format!("{text}: {s}");
                    source = s.source();
                }
                text
            };
            Err((what, !blocked))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
