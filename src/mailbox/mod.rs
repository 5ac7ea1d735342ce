//! Mailboxes: named, isolated parts of the store, each with its own messages, counts, read flags,
//! tags, limits and live events, for parallel test runs and for teams. The registry owns them and
//! the root view's store, which holds every message (the bytes are shared with the mailboxes'
//! copies): SMTP routes each recipient by the [`rules`], and every HTTP route served under
//! `/mailbox/{name}/` sees that mailbox's store alone.
//!
//! Consistency between the root view and the mailboxes is the registry's job, told by each store
//! ([`crate::store::family::Family`]): a message leaves the root view when no mailbox holds it any
//! more, and leaves every mailbox when the root view deletes it.

pub mod name;
pub mod rules;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use uuid::Uuid;

use crate::message::{Envelope, StoredMessage};
use crate::store::family::Family;
use crate::store::{Counts, Store, StoreError, StoreLimits};
pub use name::MailboxName;
pub use rules::{Rule, Rules};

/// Bounds of the mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxLimits {
    /// Mailboxes at once; a delivery or request for one more goes to the default mailbox (or is
    /// refused, over HTTP).
    pub max_mailboxes: usize,
    /// A mailbox with no delivery and no request for this long is deleted; `None` keeps them.
    pub ttl: Option<Duration>,
    /// What each mailbox keeps (the root view's limits bound everything together).
    pub store: StoreLimits,
}

impl Default for MailboxLimits {
    fn default() -> Self {
        MailboxLimits {
            max_mailboxes: crate::config::DEFAULT_MAX_MAILBOXES,
            ttl: None,
            store: StoreLimits::default(),
        }
    }
}

/// Why a mailbox could not be had.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailboxError {
    #[error("invalid mailbox name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-'")]
    Name(String),
    #[error("too many mailboxes (the limit is {0}, --max-mailboxes)")]
    Full(usize),
    #[error("mailbox not found: {0}")]
    NotFound(String),
}

/// One mailbox: its store, and when it was last used. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub name: MailboxName,
    pub store: Store,
    used: Arc<AtomicU64>,
    /// What the HTTP layer keeps for this mailbox (its router and live hub), made on first use
    /// and dropped with the mailbox.
    pub attachment: Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>,
}

impl Mailbox {
    fn touch(&self, now: u64) {
        self.used.store(now, Ordering::Relaxed);
    }
}

/// A mailbox and its counts, as the EXT list route reports them.
#[derive(Debug, Clone)]
pub struct MailboxInfo {
    pub name: MailboxName,
    pub counts: Counts,
    pub idle: Duration,
}

/// The registry of mailboxes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Mailboxes {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: Store,
    rules: Rules,
    limits: MailboxLimits,
    boxes: Mutex<HashMap<MailboxName, Mailbox>>,
    /// For each message some mailbox holds, the mailboxes that hold it.
    holders: Mutex<HashMap<Uuid, Vec<MailboxName>>>,
    started: std::time::Instant,
    /// True while [`Mailboxes::restore_blocking`] reads memberships back: nothing to record.
    restoring: std::sync::atomic::AtomicBool,
    /// Team views, by their mailboxes' names joined with `,`.
    views: Mutex<HashMap<String, View>>,
}

/// A store's report line to the registry: which store it is.
#[derive(Debug)]
struct Link {
    inner: Weak<Inner>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Root,
    Mailbox(MailboxName),
    /// A team's view of several mailboxes.
    View(Arc<[MailboxName]>),
}

/// The root view of a team user with several mailboxes: every message those mailboxes hold, once,
/// kept in step with them as the root is with all. Cheap to clone.
#[derive(Debug, Clone)]
pub struct View {
    pub names: Arc<[MailboxName]>,
    pub store: Store,
    /// What the HTTP layer keeps for this view, as for a mailbox.
    pub attachment: Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>,
}

/// Most team views at once (one per distinct set of mailboxes in the HTTP auth file).
pub const MAX_VIEWS: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Mailboxes {
    /// The registry over the root view's `root` store.
    pub fn new(root: Store, rules: Rules, limits: MailboxLimits) -> Mailboxes {
        let inner = Arc::new(Inner {
            root: root.clone(),
            rules,
            limits,
            boxes: Mutex::default(),
            holders: Mutex::default(),
            started: std::time::Instant::now(),
            restoring: std::sync::atomic::AtomicBool::new(false),
            views: Mutex::default(),
        });
        root.join(Arc::new(Link {
            inner: Arc::downgrade(&inner),
            kind: Kind::Root,
        }));
        Mailboxes { inner }
    }

    /// The root view's store: every message of every mailbox, and what no rule routed.
    pub fn root(&self) -> &Store {
        &self.inner.root
    }

    fn now(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    /// The mailbox named `name`, made if it does not exist yet (a client may wait on it before
    /// its first message).
    pub fn get_or_create(&self, name: &str) -> Result<Mailbox, MailboxError> {
        let name = MailboxName::new(name).ok_or_else(|| MailboxError::Name(name.to_string()))?;
        self.open(name)
    }

    fn open(&self, name: MailboxName) -> Result<Mailbox, MailboxError> {
        let now = self.now();
        let mut boxes = lock(&self.inner.boxes);
        if let Some(mailbox) = boxes.get(&name) {
            mailbox.touch(now);
            return Ok(mailbox.clone());
        }
        if boxes.len() >= self.inner.limits.max_mailboxes {
            return Err(MailboxError::Full(self.inner.limits.max_mailboxes));
        }
        let store = Store::mailbox(self.inner.limits.store, self.inner.root.clone());
        store.join(Arc::new(Link {
            inner: Arc::downgrade(&self.inner),
            kind: Kind::Mailbox(name.clone()),
        }));
        let mailbox = Mailbox {
            name: name.clone(),
            store,
            used: Arc::new(AtomicU64::new(now)),
            attachment: Arc::default(),
        };
        boxes.insert(name, mailbox.clone());
        Ok(mailbox)
    }

    /// The mailbox named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Mailbox> {
        let name = MailboxName::new(name)?;
        lock(&self.inner.boxes).get(&name).cloned()
    }

    /// Every mailbox with its counts, by name.
    pub fn list(&self) -> Vec<MailboxInfo> {
        let now = self.now();
        let mut all: Vec<MailboxInfo> = lock(&self.inner.boxes)
            .values()
            .map(|m| MailboxInfo {
                name: m.name.clone(),
                counts: m.store.counts(),
                idle: Duration::from_secs(now.saturating_sub(m.used.load(Ordering::Relaxed))),
            })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Stores a message that arrived over SMTP where its recipients route: in each of their
    /// mailboxes (one copy each, the bytes shared) and in the root view. When this returns `Ok`
    /// the message is visible in all of them.
    pub async fn deliver(
        &self,
        id: Uuid,
        envelope: Envelope,
        data: Vec<u8>,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        let names = self.inner.rules.mailboxes_for(&envelope, &data);
        let mut targets = Vec::with_capacity(names.len());
        for name in names {
            match self.open(name) {
                Ok(mailbox) => targets.push(mailbox),
                // Over the limit: the message still reaches the root view, and the log says why.
                Err(e) => tracing::warn!("message routed to the default mailbox: {e}"),
            }
        }
        let Some((first, rest)) = targets.split_first() else {
            return self.inner.root.receive_as(id, envelope, data).await;
        };
        let stored = first.store.receive_as(id, envelope, data).await?;
        for other in rest {
            if let Err(e) = other.store.receive_copy(&stored).await {
                tracing::warn!("message not copied to mailbox {}: {e}", other.name);
            }
        }
        Ok(stored)
    }

    /// The view of the mailboxes `names`, if it has been made.
    pub fn view(&self, names: &[MailboxName]) -> Option<View> {
        let (key, _) = view_key(names);
        lock(&self.inner.views).get(&key).cloned()
    }

    /// The view of the mailboxes `names` (a team user's root view), made on first use from what
    /// they hold, oldest first. Blocking for a moment when it is made: call it off the workers.
    pub fn view_blocking(&self, names: &[MailboxName]) -> Result<View, MailboxError> {
        let (key, sorted) = view_key(names);
        let mut views = lock(&self.inner.views);
        if let Some(view) = views.get(&key) {
            return Ok(view.clone());
        }
        if views.len() >= MAX_VIEWS {
            return Err(MailboxError::Full(MAX_VIEWS));
        }
        let names: Arc<[MailboxName]> = sorted.into();
        let store = Store::mailbox(self.inner.root.limits(), self.inner.root.clone());
        // Filled before it joins: nothing to report while it is.
        let holders = lock(&self.inner.holders);
        let snapshot = self.inner.root.snapshot();
        for message in snapshot.messages().iter().rev() {
            let held = holders
                .get(&message.id)
                .is_some_and(|h| h.iter().any(|n| names.contains(n)));
            if held && let Err(e) = store.insert_copy(message) {
                tracing::warn!("a message was left out of a team view: {e}");
            }
        }
        drop(holders);
        store.join(Arc::new(Link {
            inner: Arc::downgrade(&self.inner),
            kind: Kind::View(Arc::clone(&names)),
        }));
        let view = View {
            names,
            store,
            attachment: Arc::default(),
        };
        views.insert(key, view.clone());
        Ok(view)
    }

    /// Puts the mailboxes back as `--storage` recorded them: each message, oldest first, into
    /// the mailboxes that held it. Their read flags start unread; their tags are the root's.
    /// Returns how many copies were restored. Blocking (reads the disk): call it at startup.
    pub fn restore_blocking(&self) -> usize {
        let recorded: HashMap<Uuid, Vec<String>> =
            self.inner.root.recorded_mailboxes().into_iter().collect();
        if recorded.is_empty() {
            return 0;
        }
        self.inner.restoring.store(true, Ordering::Relaxed);
        let mut restored = 0;
        let snapshot = self.inner.root.snapshot();
        for message in snapshot.messages().iter().rev() {
            for name in recorded.get(&message.id).into_iter().flatten() {
                let Some(name) = MailboxName::new(name) else {
                    continue;
                };
                match self.open(name) {
                    Ok(mailbox) if mailbox.store.insert_copy(message).is_ok() => restored += 1,
                    Ok(_) => {}
                    Err(e) => tracing::warn!("storage: a mailbox was not restored: {e}"),
                }
            }
        }
        self.inner.restoring.store(false, Ordering::Relaxed);
        restored
    }

    /// Deletes mailbox `name` and its messages (those no other mailbox holds leave the root view
    /// too). Blocking with `--storage`.
    pub fn remove_blocking(&self, name: &str) -> Result<usize, MailboxError> {
        let key = MailboxName::new(name).ok_or_else(|| MailboxError::Name(name.to_string()))?;
        let mailbox = lock(&self.inner.boxes)
            .remove(&key)
            .ok_or_else(|| MailboxError::NotFound(key.to_string()))?;
        Ok(mailbox.store.clear_blocking())
    }

    /// [`Mailboxes::remove_blocking`] off the async workers.
    pub async fn remove(&self, name: String) -> Result<usize, MailboxError> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.remove_blocking(&name)).await {
            Ok(result) => result,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Deletes the mailboxes idle for longer than the TTL; returns their names.
    pub fn sweep_blocking(&self) -> Vec<MailboxName> {
        let Some(ttl) = self.inner.limits.ttl else {
            return Vec::new();
        };
        let now = self.now();
        let idle: Vec<MailboxName> = lock(&self.inner.boxes)
            .values()
            .filter(|m| now.saturating_sub(m.used.load(Ordering::Relaxed)) >= ttl.as_secs())
            .map(|m| m.name.clone())
            .collect();
        for name in &idle {
            if self.remove_blocking(name.as_str()).is_ok() {
                tracing::info!("mailbox {name} deleted after {} s idle", ttl.as_secs());
            }
        }
        idle
    }

    /// Runs [`Mailboxes::sweep_blocking`] every so often, for as long as the server runs.
    pub async fn sweep_forever(self) {
        let Some(ttl) = self.inner.limits.ttl else {
            return;
        };
        let every = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let this = self.clone();
            let _ = tokio::task::spawn_blocking(move || this.sweep_blocking()).await;
        }
    }
}

/// A set of mailboxes as one key (the names sorted, joined with `,`), and the names sorted: the
/// same set in any order is one view.
fn view_key(names: &[MailboxName]) -> (String, Vec<MailboxName>) {
    let mut sorted = names.to_vec();
    sorted.sort();
    sorted.dedup();
    let key = sorted
        .iter()
        .map(MailboxName::as_str)
        .collect::<Vec<_>>()
        .join(",");
    (key, sorted)
}

impl Inner {
    fn mailbox(&self, name: &MailboxName) -> Option<Mailbox> {
        lock(&self.boxes).get(name).cloned()
    }

    /// The team views that show mailbox `name`.
    fn views_of(&self, name: &MailboxName) -> Vec<View> {
        lock(&self.views)
            .values()
            .filter(|v| v.names.contains(name))
            .cloned()
            .collect()
    }

    fn all_views(&self) -> Vec<View> {
        lock(&self.views).values().cloned().collect()
    }

    /// Writes (with `--storage`) who holds message `id` now.
    fn record(&self, id: &Uuid, held: &[MailboxName]) {
        if self.root.is_persistent() && !self.restoring.load(Ordering::Relaxed) {
            let names: Vec<&str> = held.iter().map(MailboxName::as_str).collect();
            self.root.record_mailboxes(id, &names);
        }
    }
}

impl Family for Link {
    fn inserted(&self, _store: &Store, message: &Arc<StoredMessage>) {
        let (Some(inner), Kind::Mailbox(name)) = (self.inner.upgrade(), &self.kind) else {
            return;
        };
        let persist = inner.root.is_persistent() && !inner.restoring.load(Ordering::Relaxed);
        let held = {
            let mut holders = lock(&inner.holders);
            let held = holders.entry(message.id).or_default();
            if held.contains(name) {
                return;
            }
            held.push(name.clone());
            // Copied only to be written down.
            persist.then(|| held.clone())
        };
        if let Some(held) = held {
            inner.record(&message.id, &held);
        }
        for view in inner.views_of(name) {
            if let Err(e) = view.store.insert_copy(message) {
                tracing::warn!("a message was left out of a team view: {e}");
            }
        }
    }

    fn removed(&self, _store: &Store, ids: &[Uuid]) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        match &self.kind {
            // A mailbox let go of these: the root view keeps those another mailbox still holds,
            // and each team view those another of its mailboxes holds.
            Kind::Mailbox(name) => {
                let mut remaining: Vec<(Uuid, Vec<MailboxName>)> = Vec::new();
                {
                    let mut holders = lock(&inner.holders);
                    for id in ids {
                        if let Some(held) = holders.get_mut(id) {
                            held.retain(|n| n != name);
                            remaining.push((*id, held.clone()));
                            if held.is_empty() {
                                holders.remove(id);
                            }
                        }
                    }
                }
                for view in inner.views_of(name) {
                    let gone: Vec<Uuid> = remaining
                        .iter()
                        .filter(|(_, held)| !held.iter().any(|n| view.names.contains(n)))
                        .map(|(id, _)| *id)
                        .collect();
                    view.store.delete_blocking(&gone);
                }
                let mut orphans = Vec::new();
                for (id, held) in remaining {
                    if held.is_empty() {
                        orphans.push(id);
                    } else {
                        inner.record(&id, &held);
                    }
                }
                inner.root.delete_blocking(&orphans);
            }
            // The root view deleted these: so does every mailbox that holds them, and every view.
            Kind::Root => {
                let mut by_box: HashMap<MailboxName, Vec<Uuid>> = HashMap::new();
                {
                    let mut holders = lock(&inner.holders);
                    for id in ids {
                        for name in holders.remove(id).unwrap_or_default() {
                            by_box.entry(name).or_default().push(*id);
                        }
                    }
                }
                for (name, ids) in by_box {
                    if let Some(mailbox) = inner.mailbox(&name) {
                        mailbox.store.delete_blocking(&ids);
                    }
                }
                for view in inner.all_views() {
                    view.store.delete_blocking(ids);
                }
            }
            // A team deleted these in its view: its mailboxes that hold them let go of them (and
            // the root view follows, when no other mailbox holds them).
            Kind::View(names) => {
                let mut by_box: HashMap<MailboxName, Vec<Uuid>> = HashMap::new();
                {
                    let holders = lock(&inner.holders);
                    for id in ids {
                        for name in holders.get(id).into_iter().flatten() {
                            if names.contains(name) {
                                by_box.entry(name.clone()).or_default().push(*id);
                            }
                        }
                    }
                }
                for (name, ids) in by_box {
                    if let Some(mailbox) = inner.mailbox(&name) {
                        mailbox.store.delete_blocking(&ids);
                    }
                }
            }
        }
    }

    fn cleared(&self, _store: &Store) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        // Delete-all in the root view clears every mailbox and every team view.
        lock(&inner.holders).clear();
        let boxes: Vec<Mailbox> = lock(&inner.boxes).values().cloned().collect();
        for mailbox in boxes {
            mailbox.store.clear_blocking();
        }
        for view in inner.all_views() {
            view.store.clear_blocking();
        }
    }
}

#[cfg(test)]
mod tests;
