//! The message store: arrival order, O(1) insert and lookup by id, bounded by message count and
//! total bytes (oldest evicted first), a broadcast of every change for live updates, and optional
//! persistence ([`maildir`]).
//!
//! The store owns its blocking policy: reads of the in-memory state are cheap and synchronous;
//! everything that may block (disk writes with `--storage`, parsing a large message, a scan over
//! every message) is an `async` method that runs that part on the blocking pool, so callers on the
//! async workers cannot get it wrong.

pub mod family;
pub mod maildir;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::message::{Envelope, StoredMessage};
use crate::mime::structure::Limits as MimeLimits;
use crate::tags::AutoTags;
use family::Family;
use maildir::{LoadReport, Maildir};

/// How many change events a slow subscriber may fall behind before it is told it lagged.
pub const EVENT_BUFFER: usize = 4096;
/// The same for a mailbox's store: the buffer is allocated whole with the store, and a thousand
/// mailboxes of 4096 slots would hold hundreds of megabytes for nothing (its one subscriber, the
/// mailbox's live hub, reads at once, and reloads what is shown if it ever lags).
pub const MAILBOX_EVENT_BUFFER: usize = 128;

/// Bounds on what the store keeps (enforced on every insert) and on how deep its messages' MIME
/// structure is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_messages: usize,
    pub max_bytes: u64,
    pub mime: MimeLimits,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_messages: crate::config::DEFAULT_MAX_MESSAGES as usize,
            max_bytes: crate::config::DEFAULT_MAX_BYTES,
            mime: MimeLimits::default(),
        }
    }
}

/// A change to the store, published in the order it happened.
#[derive(Debug, Clone)]
pub enum Event {
    New(Arc<StoredMessage>),
    /// Deleted by a client or evicted by a limit.
    Deleted(Uuid),
    /// Everything was deleted at once.
    Cleared,
    Read {
        id: Uuid,
        read: bool,
    },
    /// A message's tags changed (set, renamed or deleted); `tags` is the whole new set.
    Tags {
        id: Uuid,
        tags: Vec<String>,
    },
}

/// Why a tag change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    #[error("tag not found: {0}")]
    NotFound(String),
    #[error("invalid tag name: {0:?}")]
    Invalid(String),
    #[error("tag already exists: {0}")]
    Exists(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("message of {size} bytes exceeds the store's byte limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("could not write the message to disk: {0}")]
    Disk(String),
}

/// Counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub unread: usize,
    pub bytes: u64,
}

/// Runs `read` over a stored message off the async workers when that means parsing a large one,
/// inline when it is small: the one policy for every reader that parses (the full message JSON,
/// the HTML and text views, parts).
pub async fn read<T: Send + 'static>(
    message: Arc<StoredMessage>,
    read: impl FnOnce(&StoredMessage) -> T + Send + 'static,
) -> T {
    if message.size() <= INLINE_PARSE_LIMIT {
        return read(&message);
    }
    match tokio::task::spawn_blocking(move || read(&message)).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A cheap-to-clone handle to the shared store.
///
/// The state sits behind a `std::sync::Mutex`: every operation is short and never awaits, so a
/// blocking mutex is cheaper than an async one and is never held across `.await`.
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    /// A mailbox's may be changed while it runs ([`Store::set_limits`]).
    limits: std::sync::RwLock<StoreLimits>,
    counters: Counters,
    /// Persistence, when `--storage` is set: every change is applied to disk too.
    disk: Option<Maildir>,
    /// How arriving messages are tagged; set once at startup.
    auto_tags: std::sync::OnceLock<Arc<AutoTags>>,
    /// A mailbox's store: the store of the root view, which every message enters first (and
    /// which owns the disk), so the root shows every mailbox. `None` for the root itself.
    root: Option<Store>,
    /// Told of what this store removes, so the root view and the mailboxes stay in step.
    family: std::sync::OnceLock<Arc<dyn Family>>,
}

/// What the store did since startup, for `/api/v1/info` and `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    deleted: AtomicU64,
    evicted: AtomicU64,
}

/// A snapshot of the store's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Messages deleted by clients.
    pub deleted: u64,
    /// Messages evicted to stay within the limits.
    pub evicted: u64,
}

/// Messages larger than this are parsed on the blocking pool, so they never stall other sessions
/// (and several parse at once); smaller ones cost less to parse than to hand over.
pub const INLINE_PARSE_LIMIT: usize = 32 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Oldest first; `seq` strictly increases, so positions are found by binary search.
    order: VecDeque<Entry>,
    by_id: HashMap<Uuid, Entry>,
    next_seq: u64,
    bytes: u64,
    unread: usize,
    /// How many stored messages carry each tag.
    tags: std::collections::BTreeMap<String, usize>,
    /// Each tag in use by its lower-case form, to its spelling: a tag's spelling is found in one
    /// lookup, not a scan of every tag (plus-addressed mail to a thousand CI jobs makes a
    /// thousand tags).
    folded: HashMap<String, String>,
    /// Every message newest first, as scans read them: made on the first scan after a change
    /// and shared by the scans until the next one, so a search costs no copy of the store.
    snapshot: Option<Arc<Snapshot>>,
}

/// Every stored message, newest first, as it was at one moment. Searches read two things gathered
/// from every message on first need and kept with the snapshot: the search prefilters side by
/// side, so a scan reads them one after another instead of one message at a time from all over
/// the heap (at 100 000 messages nearly all of a no-match search was that wait); and the short
/// fields (subject, addresses, envelope) in one buffer, so a word found there (the usual case for
/// a negated word) is decided without reading the message.
#[derive(Debug, Default)]
pub struct Snapshot {
    messages: Vec<Arc<StoredMessage>>,
    grams: std::sync::OnceLock<Vec<crate::search::grams::Grams>>,
    heads: std::sync::OnceLock<Heads>,
}

/// The short fields of every message of a snapshot, one after another.
#[derive(Debug, Default)]
pub struct Heads {
    bytes: Vec<u8>,
    /// Where each message's fields end in `bytes`.
    ends: Vec<usize>,
}

impl Heads {
    fn of(messages: &[Arc<StoredMessage>]) -> Heads {
        let mut heads = Heads::default();
        for m in messages {
            crate::search::write_head(m, &mut heads.bytes);
            heads.ends.push(heads.bytes.len());
        }
        heads
    }

    /// Message `i`'s short fields, as [`crate::search::write_head`] wrote them.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).and_then(|p| self.ends.get(p)).copied();
        let end = self.ends.get(i).copied().unwrap_or_default();
        self.bytes.get(start.unwrap_or(0)..end).unwrap_or_default()
    }
}

/// `gather` over `messages`, in two halves on two threads when there are many (reading every
/// message is waiting on memory, which two cores do twice as fast).
fn in_halves<T: Send>(
    messages: &[Arc<StoredMessage>],
    gather: impl Fn(&[Arc<StoredMessage>]) -> T + Sync,
    join: impl FnOnce(T, T) -> T,
) -> T {
    if messages.len() < 4096 {
        return gather(messages);
    }
    let (newer, older) = messages.split_at(messages.len() / 2);
    std::thread::scope(|scope| {
        let rest = scope.spawn(|| gather(older));
        let first = gather(newer);
        match rest.join() {
            Ok(rest) => join(first, rest),
            // Cannot happen (gathering does not panic); gather it here instead.
            Err(_) => join(first, gather(older)),
        }
    })
}

impl Snapshot {
    /// A snapshot of `messages` (newest first).
    pub fn of(messages: Vec<Arc<StoredMessage>>) -> Snapshot {
        Snapshot {
            messages,
            grams: std::sync::OnceLock::new(),
            heads: std::sync::OnceLock::new(),
        }
    }

    /// The messages, newest first.
    pub fn messages(&self) -> &[Arc<StoredMessage>] {
        &self.messages
    }

    /// Each message's prefilter, at the same index; gathered on first use.
    pub fn grams(&self) -> &[crate::search::grams::Grams] {
        self.grams.get_or_init(|| {
            in_halves(
                &self.messages,
                |part| part.iter().map(|m| m.summary.grams.clone()).collect(),
                |mut first: Vec<_>, rest| {
                    first.extend(rest);
                    first
                },
            )
        })
    }

    /// Each message's short fields; gathered on first use.
    pub fn heads(&self) -> &Heads {
        self.heads.get_or_init(|| {
            in_halves(&self.messages, Heads::of, |mut first, rest| {
                let base = first.bytes.len();
                first.bytes.extend_from_slice(&rest.bytes);
                first.ends.extend(rest.ends.iter().map(|end| base + end));
                first
            })
        })
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    message: Arc<StoredMessage>,
}

impl State {
    fn position(&self, seq: u64) -> Option<usize> {
        self.order.binary_search_by_key(&seq, |e| e.seq).ok()
    }

    /// Counts `tags` as carried by one more message.
    fn count_tags(&mut self, tags: &[String]) {
        for tag in tags {
            let count = self.tags.entry(tag.clone()).or_default();
            if *count == 0 {
                self.folded.insert(tag.to_ascii_lowercase(), tag.clone());
            }
            *count += 1;
        }
    }

    /// Counts `tags` as carried by one message fewer; unused tags are gone.
    fn uncount_tags(&mut self, tags: &[String]) {
        for tag in tags {
            if let Some(n) = self.tags.get_mut(tag) {
                *n -= 1;
                if *n == 0 {
                    self.tags.remove(tag);
                    // A rename to another case has already pointed it at the new spelling.
                    let folded = tag.to_ascii_lowercase();
                    if self.folded.get(&folded) == Some(tag) {
                        self.folded.remove(&folded);
                    }
                }
            }
        }
    }

    /// The tag in use named `name`, in any case, as it is spelt.
    fn tag_named(&self, name: &str) -> Option<String> {
        self.folded.get(&name.to_ascii_lowercase()).cloned()
    }

    /// `tags` spelt as the tags already in use are (a tag's first spelling stays, as in
    /// Mailpit), normalized.
    fn spell_as_existing(&self, tags: Vec<String>) -> Vec<String> {
        let spelt = tags
            .into_iter()
            .map(|tag| self.tag_named(&tag).unwrap_or(tag));
        crate::tags::normalize(spelt)
    }

    /// Gives `message` the tags `tags` (already spelt), keeping the counts; the new set if it
    /// changed.
    fn retag(&mut self, message: &StoredMessage, tags: Vec<String>) -> Option<Vec<String>> {
        let old = message.replace_tags(tags.clone());
        if old == tags {
            return None;
        }
        self.uncount_tags(&old);
        self.count_tags(&tags);
        Some(tags)
    }

    /// Forgets `entry`'s accounting; the caller removes it from `order`.
    fn forget(&mut self, entry: &Entry) {
        let tags = entry.message.tags();
        self.uncount_tags(&tags);
        self.by_id.remove(&entry.message.id);
        self.bytes -= entry.message.size() as u64;
        if !entry.message.is_read() {
            self.unread -= 1;
        }
    }
}

impl Store {
    pub fn new(limits: StoreLimits) -> Store {
        Store::with_disk(limits, None)
    }

    fn with_disk(limits: StoreLimits, disk: Option<Maildir>) -> Store {
        Store::build(limits, disk, None)
    }

    fn build(limits: StoreLimits, disk: Option<Maildir>, root: Option<Store>) -> Store {
        let buffer = if root.is_some() {
            MAILBOX_EVENT_BUFFER
        } else {
            EVENT_BUFFER
        };
        let (events, _) = broadcast::channel(buffer);
        Store {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                events,
                limits: std::sync::RwLock::new(limits),
                counters: Counters::default(),
                disk,
                auto_tags: std::sync::OnceLock::new(),
                root,
                family: std::sync::OnceLock::new(),
            }),
        }
    }

    /// A mailbox's store within `limits`: what it receives enters `root` first (tagged, and on
    /// disk with `--storage`), and this store keeps its own copy (its own read flags and tags)
    /// sharing the bytes.
    pub fn mailbox(limits: StoreLimits, root: Store) -> Store {
        Store::build(limits, None, Some(root))
    }

    /// Tells `family` of every removal from now on (once; later calls are ignored).
    pub fn join(&self, family: Arc<dyn Family>) {
        let _ = self.shared.family.set(family);
    }

    /// True when `other` is a handle to this same store.
    pub fn same(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Records on disk (with `--storage`) which mailboxes hold message `id`.
    pub fn record_mailboxes(&self, id: &Uuid, names: &[&str]) {
        self.disk_op("record a message's mailboxes", |disk| {
            disk.write_mailboxes(id, names)
        });
    }

    /// The mailbox memberships recorded on disk (empty without `--storage`).
    pub fn recorded_mailboxes(&self) -> Vec<(Uuid, Vec<String>)> {
        let Some(disk) = &self.shared.disk else {
            return Vec::new();
        };
        disk.load_mailboxes().unwrap_or_else(|e| {
            tracing::warn!("storage: could not read the mailboxes: {e}");
            Vec::new()
        })
    }

    /// True when this is a mailbox's store (not the root view's).
    pub fn is_mailbox(&self) -> bool {
        self.shared.root.is_some()
    }

    fn removed(&self, ids: &[Uuid]) {
        if let Some(family) = self.shared.family.get()
            && !ids.is_empty()
        {
            family.removed(self, ids);
        }
    }

    /// A store kept on disk in `maildir`, filled with what is already there (the oldest beyond
    /// the limits are evicted, from disk too).
    pub fn persistent(
        limits: StoreLimits,
        maildir: Maildir,
        auto_tags: Arc<AutoTags>,
    ) -> std::io::Result<(Store, LoadReport)> {
        let (messages, report) = maildir.load(&limits.mime)?;
        let store = Store::with_disk(limits, Some(maildir));
        store.set_auto_tags(auto_tags);
        for message in messages {
            // Already on disk: only the in-memory side (and evictions) apply.
            store.insert_loaded(message);
        }
        Ok((store, report))
    }

    /// Sets how arriving messages are tagged (once, at startup; later calls are ignored).
    pub fn set_auto_tags(&self, auto_tags: Arc<AutoTags>) {
        if self.shared.auto_tags.set(auto_tags).is_err() {
            tracing::warn!("auto-tagging was already set up; keeping the first setting");
        }
    }

    fn auto_tags(&self) -> &AutoTags {
        self.shared.auto_tags.get_or_init(Arc::default)
    }

    /// True when changes are also written to disk (a mailbox's removals reach the root's disk).
    pub fn is_persistent(&self) -> bool {
        self.shared.disk.is_some() || self.shared.root.as_ref().is_some_and(Store::is_persistent)
    }

    /// Runs `work` on the blocking pool when the store is persistent (it touches the disk), or
    /// inline when it is memory only (it is then cheap).
    async fn off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(Store) -> T + Send + 'static,
    ) -> T {
        if !self.is_persistent() {
            return work(self.clone());
        }
        let store = self.clone();
        match tokio::task::spawn_blocking(move || work(store)).await {
            Ok(value) => value,
            // The work panicked: that is a bug, and the panic carries on where it would have.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    fn disk_op(&self, what: &str, op: impl FnOnce(&Maildir) -> std::io::Result<()>) {
        if let Some(disk) = &self.shared.disk
            && let Err(e) = op(disk)
        {
            tracing::warn!("storage: could not {what}: {e}");
        }
    }

    pub fn limits(&self) -> StoreLimits {
        *self.shared.limits.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes how many messages and bytes this store keeps, evicting its oldest at once to fit.
    pub fn set_limits(&self, max_messages: usize, max_bytes: u64) {
        let limits = {
            let mut limits = self
                .shared
                .limits
                .write()
                .unwrap_or_else(|p| p.into_inner());
            limits.max_messages = max_messages.max(1);
            limits.max_bytes = max_bytes;
            *limits
        };
        let mut state = self.lock();
        let stale = state.snapshot.take();
        // Fits with nothing more to come in.
        let evicted = self.evict_for(&mut state, limits, 0, 0);
        drop(state);
        let_go(stale);
        self.evicted(evicted);
    }

    /// Pops the oldest messages until `count` more messages of `size` bytes fit in `limits`.
    fn evict_for(
        &self,
        state: &mut State,
        limits: StoreLimits,
        count: usize,
        size: u64,
    ) -> Vec<Arc<StoredMessage>> {
        let mut evicted = Vec::new();
        while state.order.len() + count > limits.max_messages.max(1)
            || state.bytes + size > limits.max_bytes
        {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.forget(&oldest);
            self.shared.counters.evicted.fetch_add(1, Ordering::Relaxed);
            self.publish(Event::Deleted(oldest.message.id));
            evicted.push(oldest.message);
        }
        evicted
    }

    /// What follows an eviction, outside the lock: the files go, and the family is told.
    fn evicted(&self, evicted: Vec<Arc<StoredMessage>>) {
        if evicted.is_empty() {
            return;
        }
        let ids: Vec<Uuid> = evicted.iter().map(|m| m.id).collect();
        for old in evicted {
            self.disk_op("remove an evicted message", |disk| disk.remove(&old));
        }
        self.removed(&ids);
    }

    /// Deletions and evictions since startup.
    pub fn activity(&self) -> Activity {
        let c = &self.shared.counters;
        Activity {
            deleted: c.deleted.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that matters
        // more than losing the whole server, so a poisoned lock is used as is.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, event: Event) {
        // No subscribers is not an error.
        let _ = self.shared.events.send(event);
    }

    /// Subscribes to changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Summarises and stores a message that just arrived, off the async workers when it is large or
    /// goes to disk. When this returns `Ok` the message is durable (with `--storage`) and visible
    /// to every reader: only then may the sender be told so.
    pub async fn receive(
        &self,
        envelope: Envelope,
        data: Vec<u8>,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        self.receive_as(Uuid::now_v7(), envelope, data).await
    }

    /// [`Store::receive`] under an id chosen by the caller (SMTP names it in the `Received`
    /// header before storing). `id` must be new: a v7 UUID made just now.
    pub async fn receive_as(
        &self,
        id: Uuid,
        envelope: Envelope,
        data: Vec<u8>,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        if let Some(root) = &self.shared.root {
            let stored = root.receive_here(id, envelope, data).await?;
            return self.receive_copy(&stored).await;
        }
        self.receive_here(id, envelope, data).await
    }

    /// [`Store::receive_as`] into this store itself.
    async fn receive_here(
        &self,
        id: Uuid,
        envelope: Envelope,
        data: Vec<u8>,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        let limits = self.limits().mime;
        let build = move |envelope, data| {
            let now = time::OffsetDateTime::now_utc();
            StoredMessage::restore(id, now, envelope, data, false, &limits)
        };
        if data.len() <= INLINE_PARSE_LIMIT && !self.is_persistent() {
            return self.insert(build(envelope, data));
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.insert(build(envelope, data)))
            .await
            .map_err(|e| StoreError::Disk(format!("storing failed: {e}")))?
    }

    /// Stores a message, evicting the oldest ones as the limits require. Blocking: with
    /// `--storage` it writes and syncs the file; async callers use [`Store::receive`]. When this
    /// returns `Ok` the message is visible to every reader.
    pub fn insert(&self, message: StoredMessage) -> Result<Arc<StoredMessage>, StoreError> {
        let limits = self.limits();
        let size = message.size() as u64;
        if size > limits.max_bytes {
            return Err(StoreError::TooLarge {
                size,
                limit: limits.max_bytes,
            });
        }
        message.replace_tags(self.auto_tags().tags_for(&message));
        // Durable before it is visible, and before the caller acknowledges it.
        if let Some(disk) = &self.shared.disk {
            disk.write(&message)
                .map_err(|e| StoreError::Disk(e.to_string()))?;
        }
        Ok(self.insert_loaded(message))
    }

    /// [`Store::insert_copy`] off the async workers when an eviction may touch the disk.
    pub async fn receive_copy(
        &self,
        message: &Arc<StoredMessage>,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        let message = Arc::clone(message);
        self.off_runtime(move |store| store.insert_copy(&message))
            .await
    }

    /// Stores this store's own copy of a message another store holds (a mailbox's copy of what
    /// the root received, or a second mailbox's): the bytes are shared, the read flag and tags are
    /// this store's. In memory only; the root's copy is the one on disk.
    pub fn insert_copy(&self, message: &StoredMessage) -> Result<Arc<StoredMessage>, StoreError> {
        let size = message.size() as u64;
        let limit = self.limits().max_bytes;
        if size > limit {
            return Err(StoreError::TooLarge { size, limit });
        }
        let copy = message.copy();
        copy.replace_tags(message.tags());
        let stored = self.insert_loaded(copy);
        // Told even of a copy already held: the family ignores what it knows.
        if let Some(family) = self.shared.family.get() {
            family.inserted(self, &stored);
        }
        Ok(stored)
    }

    /// The in-memory half of an insert: evict to the limits, append, publish. A message already
    /// held (a copy offered twice) is left as it is.
    fn insert_loaded(&self, message: StoredMessage) -> Arc<StoredMessage> {
        let limits = self.limits();
        let size = message.size() as u64;
        let mut state = self.lock();
        if let Some(known) = state.by_id.get(&message.id) {
            return Arc::clone(&known.message);
        }
        let message = Arc::new(message);
        // Let go of outside the lock: the last holder of a big snapshot frees it.
        let stale = state.snapshot.take();
        let evicted = self.evict_for(&mut state, limits, 1, size);
        let entry = Entry {
            seq: state.next_seq,
            message: Arc::clone(&message),
        };
        state.next_seq += 1;
        state.bytes += size;
        let tags = state.spell_as_existing(message.tags());
        message.replace_tags(tags.clone());
        state.count_tags(&tags);
        if !message.is_read() {
            state.unread += 1;
        }
        state.by_id.insert(message.id, entry.clone());
        state.order.push_back(entry);
        // Published under the lock so subscribers see events in store order.
        self.publish(Event::New(Arc::clone(&message)));
        drop(state);
        let_go(stale);
        self.evicted(evicted);
        message
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<StoredMessage>> {
        self.lock().by_id.get(id).map(|e| Arc::clone(&e.message))
    }

    /// The newest message.
    pub fn latest(&self) -> Option<Arc<StoredMessage>> {
        self.lock().order.back().map(|e| Arc::clone(&e.message))
    }

    pub fn counts(&self) -> Counts {
        let state = self.lock();
        Counts {
            total: state.order.len(),
            unread: state.unread,
            bytes: state.bytes,
        }
    }

    /// Every tag in use, sorted.
    pub fn tags(&self) -> Vec<String> {
        self.lock().tags.keys().cloned().collect()
    }

    /// How many messages carry each tag in use.
    pub fn tag_counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.lock().tags.clone()
    }

    /// Up to `limit` messages, newest first, skipping the `start` newest; with the counts.
    pub fn page(&self, start: usize, limit: usize) -> (Vec<Arc<StoredMessage>>, Counts) {
        state_page(&self.lock(), start, limit)
    }

    /// The page that puts message `id` `before` rows from its top, and where it starts; `None`
    /// when `id` is not stored. Found and read under one lock, so the position is exact however
    /// fast mail arrives (a client that located it first and fetched after would miss it).
    pub fn page_around(
        &self,
        id: &Uuid,
        before: usize,
        limit: usize,
    ) -> Option<(Vec<Arc<StoredMessage>>, Counts, usize)> {
        let state = self.lock();
        let seq = state.by_id.get(id)?.seq;
        let newest_first = state.order.len() - 1 - state.position(seq)?;
        let start = newest_first.saturating_sub(before);
        let (page, counts) = state_page(&state, start, limit);
        Some((page, counts, start))
    }

    /// Every message, newest first: a snapshot, which a scan then reads without the lock. Scans
    /// between two changes share one.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let mut state = self.lock();
        if let Some(snapshot) = &state.snapshot {
            return Arc::clone(snapshot);
        }
        let snapshot = Arc::new(Snapshot::of(
            state
                .order
                .iter()
                .rev()
                .map(|e| Arc::clone(&e.message))
                .collect(),
        ));
        state.snapshot = Some(Arc::clone(&snapshot));
        snapshot
    }

    /// Runs `scan` over every message (newest first) on the blocking pool: the one way to look at
    /// all of them (searches, bulk rendering), never on the async workers, never under the lock.
    pub async fn scan<T: Send + 'static>(
        &self,
        scan: impl FnOnce(Arc<Snapshot>) -> T + Send + 'static,
    ) -> T {
        let all = self.snapshot();
        match tokio::task::spawn_blocking(move || scan(all)).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Deletes the given messages (from disk too, off the async workers); returns how many existed.
    pub async fn delete(&self, ids: Vec<Uuid>) -> usize {
        self.off_runtime(move |store| store.delete_blocking(&ids))
            .await
    }

    /// Deletes everything; returns how many messages there were.
    pub async fn clear(&self) -> usize {
        self.off_runtime(|store| store.clear_blocking()).await
    }

    /// Sets the read flag of the given messages; returns how many exist.
    pub async fn set_read(&self, ids: Vec<Uuid>, read: bool) -> usize {
        self.off_runtime(move |store| {
            ids.iter()
                .filter(|id| store.set_read_blocking(id, read))
                .count()
        })
        .await
    }

    /// [`Store::delete`] for callers already off the async workers.
    pub fn delete_blocking(&self, ids: &[Uuid]) -> usize {
        let mut removed = Vec::new();
        let mut state = self.lock();
        let stale = state.snapshot.take();
        let mut deleted = 0;
        for id in ids {
            let Some(entry) = state.by_id.get(id).cloned() else {
                continue;
            };
            if let Some(pos) = state.position(entry.seq) {
                state.order.remove(pos);
            }
            state.forget(&entry);
            deleted += 1;
            self.publish(Event::Deleted(*id));
            removed.push(entry.message);
        }
        self.shared
            .counters
            .deleted
            .fetch_add(deleted as u64, Ordering::Relaxed);
        drop(state);
        let_go(stale);
        let ids: Vec<Uuid> = removed.iter().map(|m| m.id).collect();
        for message in removed {
            self.disk_op("delete a message", |disk| disk.remove(&message));
        }
        self.removed(&ids);
        deleted
    }

    /// [`Store::clear`] for callers already off the async workers.
    pub fn clear_blocking(&self) -> usize {
        let mut state = self.lock();
        let count = state.order.len();
        // The family needs the ids: the root view loses what no other mailbox holds.
        let ids: Vec<Uuid> = match self.shared.family.get() {
            Some(_) if self.is_mailbox() => state.order.iter().map(|e| e.message.id).collect(),
            _ => Vec::new(),
        };
        let next_seq = state.next_seq;
        *state = State {
            next_seq,
            ..State::default()
        };
        self.shared
            .counters
            .deleted
            .fetch_add(count as u64, Ordering::Relaxed);
        self.publish(Event::Cleared);
        drop(state);
        self.disk_op("clear the storage directory", Maildir::clear);
        if let Some(family) = self.shared.family.get() {
            if self.is_mailbox() {
                family.removed(self, &ids);
            } else {
                family.cleared(self);
            }
        }
        count
    }

    /// Sets the read flag of one message; returns false when it does not exist. Blocking with
    /// `--storage` (the flag is in the file name); async callers use [`Store::set_read`].
    pub fn set_read_blocking(&self, id: &Uuid, read: bool) -> bool {
        let mut state = self.lock();
        let Some(message) = state.by_id.get(id).map(|e| Arc::clone(&e.message)) else {
            return false;
        };
        let was = message.set_read(read);
        if was != read {
            if read {
                state.unread -= 1;
            } else {
                state.unread += 1;
            }
            self.publish(Event::Read { id: *id, read });
            drop(state);
            self.disk_op("record the read flag", |disk| disk.set_read(&message, read));
        }
        true
    }

    /// Gives each listed message exactly the tags `tags` (cleaned and normalized; unknown ids are
    /// skipped, as Mailpit does); returns how many exist.
    pub async fn set_tags(&self, ids: Vec<Uuid>, tags: Vec<String>) -> usize {
        self.off_runtime(move |store| store.set_tags_blocking(&ids, &tags))
            .await
    }

    /// [`Store::set_tags`] for callers already off the async workers.
    pub fn set_tags_blocking(&self, ids: &[Uuid], tags: &[String]) -> usize {
        let wanted = crate::tags::normalize(tags);
        let mut changed = Vec::new();
        let mut found = 0;
        let mut state = self.lock();
        for id in ids {
            let Some(message) = state.by_id.get(id).map(|e| Arc::clone(&e.message)) else {
                continue;
            };
            found += 1;
            let spelt = state.spell_as_existing(wanted.clone());
            if let Some(tags) = state.retag(&message, spelt) {
                self.publish(Event::Tags { id: *id, tags });
                changed.push(message);
            }
        }
        drop(state);
        self.save_tags(&changed);
        found
    }

    /// Renames tag `from` (any case) to `to` on every message.
    pub async fn rename_tag(&self, from: String, to: String) -> Result<(), TagError> {
        self.off_runtime(move |store| store.rename_tag_blocking(&from, &to))
            .await
    }

    /// [`Store::rename_tag`] for callers already off the async workers.
    pub fn rename_tag_blocking(&self, from: &str, to: &str) -> Result<(), TagError> {
        let to = crate::tags::clean(to);
        if to.is_empty() {
            return Err(TagError::Invalid(to));
        }
        let mut state = self.lock();
        let Some(from) = state.tag_named(from) else {
            return Err(TagError::NotFound(from.to_string()));
        };
        if from == to {
            return Ok(());
        }
        if state.tag_named(&to).is_some_and(|t| t != from) {
            return Err(TagError::Exists(to));
        }
        let changed = self.retag_all(&mut state, |tags| {
            tags.iter()
                .map(|t| if *t == from { to.clone() } else { t.clone() })
                .collect()
        });
        drop(state);
        self.save_tags(&changed);
        Ok(())
    }

    /// Removes tag `tag` (any case) from every message.
    pub async fn delete_tag(&self, tag: String) -> Result<(), TagError> {
        self.off_runtime(move |store| store.delete_tag_blocking(&tag))
            .await
    }

    /// [`Store::delete_tag`] for callers already off the async workers.
    pub fn delete_tag_blocking(&self, tag: &str) -> Result<(), TagError> {
        let mut state = self.lock();
        let Some(tag) = state.tag_named(tag) else {
            return Err(TagError::NotFound(tag.to_string()));
        };
        let changed = self.retag_all(&mut state, |tags| {
            tags.iter().filter(|t| **t != tag).cloned().collect()
        });
        drop(state);
        self.save_tags(&changed);
        Ok(())
    }

    /// Applies `change` to the tags of every message, publishing each change; returns the
    /// messages that changed.
    fn retag_all(
        &self,
        state: &mut State,
        change: impl Fn(&[String]) -> Vec<String>,
    ) -> Vec<Arc<StoredMessage>> {
        let messages: Vec<Arc<StoredMessage>> =
            state.order.iter().map(|e| Arc::clone(&e.message)).collect();
        let mut changed = Vec::new();
        for message in messages {
            let tags = crate::tags::normalize(change(&message.tags()));
            if let Some(tags) = state.retag(&message, tags) {
                self.publish(Event::Tags {
                    id: message.id,
                    tags,
                });
                changed.push(message);
            }
        }
        changed
    }

    /// Writes the tags of `messages` to disk (with `--storage`).
    fn save_tags(&self, messages: &[Arc<StoredMessage>]) {
        for message in messages {
            self.disk_op("record the tags", |disk| disk.write_tags(message));
        }
    }
}

/// Drops a replaced snapshot. A big one is freed on a thread of its own: freeing 100 000 message
/// handles takes milliseconds, which the insert that replaced it (and the reply to its client)
/// should not wait for.
fn let_go(stale: Option<Arc<Snapshot>>) {
    let Some(stale) = stale else {
        return;
    };
    if stale.len() < 4096 {
        return;
    }
    let freeing = std::thread::Builder::new()
        .name("snapshot-free".into())
        .spawn(move || drop(stale));
    // No thread to be had: the caller frees it (dropping the error's closure drops it here).
    drop(freeing);
}

/// [`Store::page`] under a lock already held.
fn state_page(state: &State, start: usize, limit: usize) -> (Vec<Arc<StoredMessage>>, Counts) {
    let page = state
        .order
        .iter()
        .rev()
        .skip(start)
        .take(limit)
        .map(|e| Arc::clone(&e.message))
        .collect();
    let counts = Counts {
        total: state.order.len(),
        unread: state.unread,
        bytes: state.bytes,
    };
    (page, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> StoredMessage {
        StoredMessage::new(Envelope::default(), body.as_bytes().to_vec())
    }

    fn store(max_messages: usize, max_bytes: u64) -> Store {
        Store::new(StoreLimits {
            max_messages,
            max_bytes,
            ..StoreLimits::default()
        })
    }

    #[test]
    fn scans_share_a_snapshot_until_the_store_changes() {
        let s = store(3, 1000);
        let ids: Vec<Uuid> = (0..3)
            .map(|i| s.insert(msg(&format!("m{i}"))).expect("stored").id)
            .collect();
        let first = s.snapshot();
        assert!(
            Arc::ptr_eq(&first, &s.snapshot()),
            "no change: the same one"
        );
        let order: Vec<Uuid> = first.messages().iter().map(|m| m.id).collect();
        assert_eq!(order, [ids[2], ids[1], ids[0]]);
        // An insert that evicts the oldest, then a delete: each makes the next scan see it.
        let newest = s.insert(msg("m3")).expect("stored").id;
        let second = s.snapshot();
        assert!(!Arc::ptr_eq(&first, &second));
        let order: Vec<Uuid> = second.messages().iter().map(|m| m.id).collect();
        assert_eq!(order, [newest, ids[2], ids[1]]);
        s.delete_blocking(&[ids[2]]);
        let order: Vec<Uuid> = s.snapshot().messages().iter().map(|m| m.id).collect();
        assert_eq!(order, [newest, ids[1]]);
        s.clear_blocking();
        assert!(s.snapshot().is_empty());
        // The old snapshot still reads what it saw.
        assert_eq!(first.len(), 3);
    }

    #[test]
    fn insert_get_page_newest_first() {
        let s = store(10, 1000);
        let ids: Vec<Uuid> = (0..5)
            .map(|i| s.insert(msg(&format!("m{i}"))).expect("stored").id)
            .collect();
        assert_eq!(ids.len(), 5);
        assert_eq!(s.get(&ids[2]).map(|m| m.raw.to_vec()), Some(b"m2".to_vec()));
        let (page, counts) = s.page(1, 2);
        let bodies: Vec<_> = page.iter().map(|m| m.raw.to_vec()).collect();
        assert_eq!(bodies, [b"m3".to_vec(), b"m2".to_vec()]);
        assert_eq!(
            counts,
            Counts {
                total: 5,
                unread: 5,
                bytes: 10
            }
        );
        assert_eq!(s.latest().map(|m| m.id), Some(ids[4]));
        assert!(s.page(5, 10).0.is_empty());
    }

    #[test]
    fn evicts_oldest_by_count_and_by_bytes() {
        let s = store(3, 1000);
        let first = s.insert(msg("a")).expect("stored").id;
        for body in ["b", "c", "d"] {
            assert!(s.insert(msg(body)).is_ok());
        }
        assert_eq!(s.counts().total, 3);
        assert!(s.get(&first).is_none(), "oldest evicted");

        let s = store(100, 10);
        assert!(s.insert(msg("12345")).is_ok());
        assert!(s.insert(msg("67890")).is_ok());
        assert!(s.insert(msg("abc")).is_ok());
        let (page, counts) = s.page(0, 10);
        assert_eq!(counts.bytes, 8);
        assert_eq!(page.len(), 2);
        assert_eq!(
            s.insert(msg("this is more than ten bytes")).err(),
            Some(StoreError::TooLarge {
                size: 27,
                limit: 10
            })
        );
        assert_eq!(s.counts().total, 2, "a rejected message evicts nothing");
    }

    #[test]
    fn delete_clear_and_read_keep_counts_right() {
        let s = store(10, 1000);
        let ids: Vec<Uuid> = (0..4)
            .map(|i| s.insert(msg(&format!("m{i}"))).expect("stored").id)
            .collect();
        assert!(s.set_read_blocking(&ids[0], true));
        assert!(s.set_read_blocking(&ids[0], true), "idempotent");
        assert_eq!(s.counts().unread, 3);
        assert_eq!(s.delete_blocking(&[ids[0], ids[2], Uuid::nil()]), 2);
        assert_eq!(
            s.counts(),
            Counts {
                total: 2,
                unread: 2,
                bytes: 4
            }
        );
        let remaining: Vec<Uuid> = s.page(0, 10).0.iter().map(|m| m.id).collect();
        assert_eq!(remaining, [ids[3], ids[1]]);
        assert!(!s.set_read_blocking(&ids[0], false));
        assert_eq!(s.clear_blocking(), 2);
        assert_eq!(s.counts(), Counts::default());
        assert!(s.insert(msg("again")).is_ok());
    }

    #[test]
    fn events_follow_changes() {
        let s = store(1, 1000);
        let mut rx = s.subscribe();
        let a = s.insert(msg("a")).expect("stored").id;
        let b = s.insert(msg("b")).expect("stored").id;
        s.set_read_blocking(&b, true);
        s.clear_blocking();
        let mut seen = Vec::new();
        while let Ok(event) = rx.try_recv() {
            seen.push(match event {
                Event::New(m) => format!("new {}", m.id == a || m.id == b),
                Event::Deleted(id) => format!("deleted {}", id == a),
                Event::Read { read, .. } => format!("read {read}"),
                Event::Tags { tags, .. } => format!("tags {tags:?}"),
                Event::Cleared => "cleared".into(),
            });
        }
        assert_eq!(
            seen,
            [
                "new true",
                "deleted true",
                "new true",
                "read true",
                "cleared"
            ]
        );
    }

    fn tagged(s: &Store, raw: &str) -> Arc<StoredMessage> {
        s.insert(msg(raw)).expect("stored")
    }

    #[test]
    fn arrival_tags_are_counted_and_spelt_as_the_first_spelling() {
        let s = store(10, 10_000);
        let a = tagged(&s, "X-Tags: Invoice, b\r\n\r\nx\r\n");
        let b = tagged(&s, "X-Tags: invoice\r\n\r\ny\r\n");
        assert_eq!(a.tags(), ["Invoice", "b"]);
        assert_eq!(b.tags(), ["Invoice"], "the tag in use keeps its spelling");
        assert_eq!(s.tags(), ["Invoice", "b"]);
        assert_eq!(s.tag_counts()["Invoice"], 2);
        s.delete_blocking(&[a.id]);
        assert_eq!(s.tags(), ["Invoice"], "unused tags go");
    }

    #[test]
    fn a_rename_to_another_case_keeps_the_new_spelling_for_later_mail() {
        let s = store(10, 10_000);
        tagged(&s, "X-Tags: red\r\n\r\nx\r\n");
        tagged(&s, "X-Tags: red\r\n\r\ny\r\n");
        assert_eq!(s.rename_tag_blocking("red", "Red"), Ok(()));
        assert_eq!(s.tags(), ["Red"]);
        let later = tagged(&s, "X-Tags: RED\r\n\r\nz\r\n");
        assert_eq!(later.tags(), ["Red"], "spelt as the tag in use");
        assert_eq!(s.tag_counts()["Red"], 3);
        assert_eq!(
            s.rename_tag_blocking("rEd", "blue"),
            Ok(()),
            "found in any case"
        );
        assert_eq!(s.tags(), ["blue"]);
    }

    #[test]
    fn set_rename_and_delete_keep_counts_and_publish_updates() {
        let s = store(10, 10_000);
        let a = tagged(&s, "a\r\n").id;
        let b = tagged(&s, "b\r\n").id;
        let mut rx = s.subscribe();
        let bogus = Uuid::now_v7();
        let names = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            s.set_tags_blocking(&[a, b, bogus], &names(&[" red ", "Blue", "blue"])),
            2
        );
        assert_eq!(s.get(&a).unwrap().tags(), ["Blue", "red"]);
        assert_eq!(s.tag_counts()["Blue"], 2);
        // The same set again changes nothing and says nothing.
        s.set_tags_blocking(&[a], &names(&["red", "Blue"]));
        s.set_tags_blocking(&[b], &names(&["red"]));
        assert_eq!(s.tag_counts()["Blue"], 1);

        assert_eq!(s.rename_tag_blocking("RED", "green"), Ok(()));
        assert_eq!(s.tags(), ["Blue", "green"]);
        assert_eq!(
            s.rename_tag_blocking("green", "blue"),
            Err(TagError::Exists("blue".into()))
        );
        assert_eq!(
            s.rename_tag_blocking("nope", "x"),
            Err(TagError::NotFound("nope".into()))
        );
        assert_eq!(
            s.rename_tag_blocking("green", "!!"),
            Err(TagError::Invalid(String::new()))
        );
        assert_eq!(s.delete_tag_blocking("blue"), Ok(()));
        assert_eq!(s.tags(), ["green"]);
        assert_eq!(
            s.delete_tag_blocking("blue"),
            Err(TagError::NotFound("blue".into()))
        );
        assert_eq!(s.get(&a).unwrap().tags(), ["green"]);
        assert_eq!(s.get(&b).unwrap().tags(), ["green"]);

        let mut updates = Vec::new();
        while let Ok(Event::Tags { id, tags }) = rx.try_recv() {
            updates.push((id == a, tags.join(",")));
        }
        assert_eq!(
            updates,
            [
                (true, "Blue,red".to_string()),
                (false, "Blue,red".to_string()),
                (false, "red".to_string()),
                (true, "Blue,green".to_string()),
                (false, "green".to_string()),
                (true, "green".to_string()),
            ]
        );
    }
}
