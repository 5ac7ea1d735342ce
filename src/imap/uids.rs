//! UIDs (RFC 3501 2.3.1.1): one map per store, shared by every session reading it, so two
//! clients agree. A message gets the next UID the first time any session sees it, in arrival
//! order, and a UID is never given twice while the UIDVALIDITY holds.
//!
//! With `--storage`, each named mailbox's map and the root's live in `DIR/imap/` as a small
//! text file: a header (`validity`, `next`) then one `uid uuid` line per assignment, appended by
//! one writer thread so that no async worker waits on the disk. A UID must be on disk before a
//! client sees it (or a restart could give that message another UID): the I/O loop awaits
//! [`Registry::durable`] before each write to the socket, which returns at once when nothing
//! is queued. At startup the files are read;
//! when a store is first opened its file is rewritten with only the messages that still exist
//! (deletions made while we were down simply drop out), keeping `next`, so a UID is never
//! reused and the UIDVALIDITY survives restarts. A team view (several mailboxes at once) is not
//! persisted: it gets a fresh UIDVALIDITY each run. Without storage every map's UIDVALIDITY is
//! the startup time.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

use crate::login::Account;
use crate::store::Store;

const MAGIC: &str = "mailsnare-imap-uids 1";

/// One store's UIDs.
#[derive(Debug)]
pub struct Uids {
    validity: u32,
    state: Mutex<State>,
    file: Option<PathBuf>,
    writer: Option<Writer>,
    /// Flag changes (other than \Seen), for the other sessions on the folder.
    changes: tokio::sync::broadcast::Sender<FlagChange>,
}

/// A message's flags other than \Seen, as one session just set them.
#[derive(Debug, Clone)]
pub struct FlagChange {
    /// The map (folder) it happened in: its address.
    pub map: usize,
    pub id: Uuid,
    pub flags: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct State {
    by_id: HashMap<Uuid, u32>,
    next: u32,
    /// Flags other than \Seen (which is the store's read state), kept for the life of the
    /// process: the store has no place for them. Not written to disk.
    flags: HashMap<Uuid, BTreeSet<String>>,
}

/// A change for the writer thread.
#[derive(Debug)]
enum Write {
    Append(PathBuf, String),
    Replace(PathBuf, String),
    /// Answered once everything queued before it is written.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// The writer thread's queue, and how many changes in it are not written yet.
#[derive(Debug, Clone)]
struct Writer {
    tx: mpsc::Sender<Write>,
    pending: Arc<AtomicUsize>,
}

impl Writer {
    fn send(&self, write: Write) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        // The writer thread outlives every session; if it died the map still works in memory.
        if self.tx.send(write).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Returns once every change queued so far is written.
    async fn durable(&self) {
        if self.pending.load(Ordering::SeqCst) == 0 {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Write::Barrier(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl Uids {
    /// A map that lives in memory only.
    pub fn new(validity: u32) -> Uids {
        Uids {
            validity: validity.max(1),
            state: Mutex::new(State {
                by_id: HashMap::new(),
                next: 1,
                flags: HashMap::new(),
            }),
            file: None,
            writer: None,
            changes: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Which map this is, to tell flag changes of one folder from another's.
    pub fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The flag changes sessions make from now on.
    pub fn flag_changes(&self) -> tokio::sync::broadcast::Receiver<FlagChange> {
        self.changes.subscribe()
    }

    pub fn validity(&self) -> u32 {
        self.validity
    }

    /// The UID the next new message will get.
    pub fn next(&self) -> u32 {
        self.lock().next
    }

    pub fn get(&self, id: &Uuid) -> Option<u32> {
        self.lock().by_id.get(id).copied()
    }

    /// The flags other than \Seen set on `id` by any session.
    pub fn flags_of(&self, id: &Uuid) -> BTreeSet<String> {
        self.lock().flags.get(id).cloned().unwrap_or_default()
    }

    /// Sets the flags other than \Seen of `id`, telling the other sessions on the folder when
    /// they changed.
    pub fn set_flags(&self, id: Uuid, flags: &BTreeSet<String>) {
        let changed = {
            let mut state = self.lock();
            let old = if flags.is_empty() {
                state.flags.remove(&id)
            } else {
                state.flags.insert(id, flags.clone())
            };
            old.unwrap_or_default() != *flags
        };
        if changed {
            // No receiver (no other session) is no error.
            let _ = self.changes.send(FlagChange {
                map: self.address(),
                id,
                flags: flags.clone(),
            });
        }
    }

    /// Forgets `id`: it left a tag folder, and should it come back it is a new message there
    /// with a new UID (RFC 3501 2.3.1.1). The UID itself is never given again.
    pub fn forget(&self, id: &Uuid) {
        let forgotten = {
            let mut state = self.lock();
            state.flags.remove(id);
            state.by_id.remove(id).is_some()
        };
        if forgotten && let (Some(file), Some(writer)) = (&self.file, &self.writer) {
            writer.send(Write::Append(file.clone(), format!("-{id}\n")));
        }
    }

    /// Forgets the flags of messages no longer in the store.
    pub fn keep_flags_of(&self, present: &HashSet<Uuid>) {
        self.lock().flags.retain(|id, _| present.contains(id));
    }

    /// `id`'s UID, given now if it has none.
    pub fn assign(&self, id: Uuid) -> u32 {
        self.assign_all(std::iter::once(id))[0]
    }

    /// The UIDs of `ids`, in order, giving the next ones to those that have none.
    pub fn assign_all(&self, ids: impl IntoIterator<Item = Uuid>) -> Vec<u32> {
        let mut lines = String::new();
        let uids = {
            let mut state = self.lock();
            ids.into_iter()
                .map(|id| {
                    if let Some(uid) = state.by_id.get(&id) {
                        return *uid;
                    }
                    let uid = state.next;
                    // UIDs are 32-bit; a store that used them all keeps giving the last one
                    // rather than wrapping (4 billion arrivals is not a test server's life).
                    state.next = state.next.saturating_add(1);
                    state.by_id.insert(id, uid);
                    lines.push_str(&format!("{uid} {id}\n"));
                    uid
                })
                .collect()
        };
        if !lines.is_empty()
            && let (Some(file), Some(writer)) = (&self.file, &self.writer)
        {
            writer.send(Write::Append(file.clone(), lines));
        }
        uids
    }

    /// Drops the entries of messages the folder no longer holds (gone from the store, or no
    /// longer carrying the folder's tag) and rewrites the file with the rest.
    fn compact(&self, store: &Store, tag: Option<&str>) {
        let snapshot = store.snapshot();
        let present: HashSet<Uuid> = snapshot
            .messages()
            .iter()
            .filter(|m| tag.is_none_or(|tag| m.tags().iter().any(|t| t == tag)))
            .map(|m| m.id)
            .collect();
        let contents = {
            let mut state = self.lock();
            state.by_id.retain(|id, _| present.contains(id));
            let mut entries: Vec<(u32, Uuid)> =
                state.by_id.iter().map(|(id, uid)| (*uid, *id)).collect();
            entries.sort_unstable();
            let mut out = format!("{MAGIC}\nvalidity {}\nnext {}\n", self.validity, state.next);
            for (uid, id) in entries {
                out.push_str(&format!("{uid} {id}\n"));
            }
            out
        };
        if let (Some(file), Some(writer)) = (&self.file, &self.writer) {
            writer.send(Write::Replace(file.clone(), contents));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A folder whose map is in use: its store, its tag (a virtual folder) or none (INBOX), its file
/// name when persisted, the map.
type Opened = (Store, Option<String>, Option<String>, Arc<Uids>);

/// Every store's map, found by store.
#[derive(Debug)]
pub struct Registry {
    /// Used for maps made this run.
    startup_validity: u32,
    dir: Option<PathBuf>,
    /// Maps read from disk at startup, by file name, not yet claimed by a store.
    loaded: Mutex<HashMap<String, Uids>>,
    maps: Mutex<Vec<Opened>>,
    writer: Option<Writer>,
}

impl Registry {
    /// A registry in memory only (no `--storage`).
    pub fn in_memory() -> Registry {
        Registry::in_memory_with_validity(now_validity())
    }

    /// [`Registry::in_memory`] with a UIDVALIDITY chosen by the caller (for tests that compare
    /// transcripts of several runs).
    pub fn in_memory_with_validity(validity: u32) -> Registry {
        Registry {
            startup_validity: validity.max(1),
            dir: None,
            loaded: Mutex::new(HashMap::new()),
            maps: Mutex::new(Vec::new()),
            writer: None,
        }
    }

    /// A registry persisted under `storage/imap/`: reads the maps there (blocking: call at
    /// startup) and starts the writer thread.
    pub fn persistent(storage: &Path) -> std::io::Result<Registry> {
        let dir = storage.join("imap");
        std::fs::create_dir_all(&dir)?;
        let mut loaded = HashMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".uids") {
                continue;
            }
            match std::fs::read_to_string(entry.path()) {
                Ok(text) => {
                    if let Some(uids) = parse(&text) {
                        loaded.insert(name, uids);
                    } else {
                        tracing::warn!("IMAP: ignoring unreadable UID map {name}");
                    }
                }
                Err(e) => tracing::warn!("IMAP: cannot read UID map {name}: {e}"),
            }
        }
        let (tx, rx) = mpsc::channel::<Write>();
        let pending = Arc::new(AtomicUsize::new(0));
        let done = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("imap-uids".into())
            .spawn(move || write_loop(rx, &done))?;
        Ok(Registry {
            startup_validity: now_validity(),
            dir: Some(dir),
            loaded: Mutex::new(loaded),
            maps: Mutex::new(Vec::new()),
            writer: Some(Writer { tx, pending }),
        })
    }

    /// Returns once every UID given so far is written to disk (at once without `--storage`, or
    /// when nothing is queued). Await it before showing a UID to a client, and at shutdown.
    pub async fn durable(&self) {
        if let Some(writer) = &self.writer {
            writer.durable().await;
        }
    }

    /// The map of INBOX (`tag` none) or of a tag's virtual folder, in the store `account` reads.
    pub fn of(&self, account: &Account, tag: Option<&str>) -> Arc<Uids> {
        let base = match (&account.mailbox, account.store.is_mailbox()) {
            (Some(name), _) => Some(format!("mailbox-{}", hex(name.as_str()))),
            (None, false) => Some("root".to_string()),
            // A team view: several mailboxes seen as one, made per login scope.
            (None, true) => None,
        };
        let file = base.map(|base| match tag {
            Some(tag) => format!("{base}-tag-{}.uids", hex(tag)),
            None => format!("{base}.uids"),
        });
        let tag = tag.map(str::to_string);
        let mut maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, _, uids)) = maps.iter().find(|(store, folder, name, _)| {
            *folder == tag && (store.same(&account.store) || (file.is_some() && *name == file))
        }) {
            return Arc::clone(uids);
        }
        let persisted = match (&file, &self.dir) {
            (Some(name), Some(dir)) => Some(dir.join(name)),
            _ => None,
        };
        let loaded = file.as_ref().and_then(|name| {
            self.loaded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(name)
        });
        let mut uids = loaded.unwrap_or_else(|| Uids::new(self.startup_validity));
        if persisted.is_some() {
            uids.file = persisted;
            uids.writer = self.writer.clone();
            uids.compact(&account.store, tag.as_deref());
        }
        let uids = Arc::new(uids);
        maps.push((account.store.clone(), tag, file, Arc::clone(&uids)));
        uids
    }
}

/// Seconds since the epoch: a new value each run, so clients drop caches made by another run.
fn now_validity() -> u32 {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp();
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn parse(text: &str) -> Option<Uids> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let validity = lines.next()?.strip_prefix("validity ")?.parse().ok()?;
    let mut next: u32 = lines.next()?.strip_prefix("next ")?.parse().ok()?;
    let uids = Uids::new(validity);
    {
        let mut state = uids.lock();
        for line in lines {
            if let Some(id) = line.strip_prefix('-') {
                if let Ok(id) = id.parse::<Uuid>() {
                    state.by_id.remove(&id);
                }
                continue;
            }
            // A torn last line (a crash mid-append) is skipped.
            let Some((uid, id)) = line.split_once(' ') else {
                continue;
            };
            let (Ok(uid), Ok(id)) = (uid.parse::<u32>(), id.parse::<Uuid>()) else {
                continue;
            };
            next = next.max(uid.saturating_add(1));
            state.by_id.insert(id, uid);
        }
        state.next = next.max(1);
    }
    Some(uids)
}

fn write_loop(rx: mpsc::Receiver<Write>, pending: &AtomicUsize) {
    for write in rx {
        let result = match &write {
            Write::Barrier(_) => Ok(()),
            Write::Append(path, lines) => std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .and_then(|mut f| f.write_all(lines.as_bytes())),
            Write::Replace(path, contents) => {
                let tmp = path.with_extension("uids.tmp");
                std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path))
            }
        };
        if let Err(e) = result {
            tracing::warn!("IMAP: cannot write the UID map: {e}");
        }
        match write {
            Write::Barrier(done) => {
                let _ = done.send(());
            }
            Write::Append(..) | Write::Replace(..) => {
                pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_ascend_and_are_stable() {
        let uids = Uids::new(7);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(uids.assign_all([a, b]), vec![1, 2]);
        assert_eq!(uids.assign(a), 1);
        assert_eq!(uids.next(), 3);
        assert_eq!(uids.validity(), 7);
    }

    #[tokio::test]
    async fn a_uid_is_on_disk_once_durable_returns() {
        let dir = std::env::temp_dir().join(format!("mailsnare-uids-{}", Uuid::now_v7()));
        let registry = Registry::persistent(&dir).unwrap();
        let account = Account {
            user: "u".into(),
            mailbox: None,
            store: Store::new(Default::default()),
        };
        let uids = registry.of(&account, None);
        let ids: Vec<Uuid> = (0..500).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            uids.assign(*id);
        }
        registry.durable().await;
        let text = std::fs::read_to_string(dir.join("imap").join("root.uids")).unwrap();
        let back = parse(&text).unwrap();
        assert_eq!(back.get(&ids[499]), Some(500));
        assert_eq!(back.next(), 501);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_is_read_back_with_its_next_and_torn_lines_skipped() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let text = format!("{MAGIC}\nvalidity 42\nnext 5\n3 {a}\n9 {b}\n10 zz");
        let uids = parse(&text).unwrap();
        assert_eq!(uids.validity(), 42);
        assert_eq!(uids.get(&a), Some(3));
        assert_eq!(uids.next(), 10);
        assert!(parse("something else").is_none());
    }
}
