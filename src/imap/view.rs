//! The selected folder as the client knows it: sequence numbers (positions) and UIDs, flags,
//! and the store's changes not told yet. The client's numbering may only change when we say so
//! (RFC 3501 7.4.1: EXPUNGE never during FETCH, STORE or SEARCH), so store events wait in
//! `pending` until the session flushes them into `* n EXISTS`, `* n EXPUNGE` and `* n FETCH
//! (FLAGS …)` lines. When the event channel lagged, or the queue grew past its bound, the folder
//! is compared with a fresh snapshot instead.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use uuid::Uuid;

use super::uids::{FlagChange, Uids};
use super::wire;
use crate::message::StoredMessage;
use crate::store::{Event, Store};

/// Store events kept before a flush; past this the folder resynchronises from a snapshot.
pub const MAX_PENDING: usize = 10_000;

/// One message of the folder.
#[derive(Debug, Clone)]
pub struct Entry {
    pub uid: u32,
    pub message: Arc<StoredMessage>,
    /// The store's read state as last told to the client.
    pub seen: bool,
    /// Every other flag (\Deleted, \Flagged, \Answered, \Draft, keywords); the store has no
    /// place for them, so the UID map keeps them for every session ([`Uids::flags_of`]).
    pub flags: BTreeSet<String>,
}

impl Entry {
    /// The parenthesised FLAGS list.
    pub fn flag_list(&self) -> String {
        let mut all: Vec<&str> = Vec::new();
        if self.seen {
            all.push("\\Seen");
        }
        all.extend(self.flags.iter().map(String::as_str));
        format!("({})", all.join(" "))
    }

    pub fn deleted(&self) -> bool {
        self.flags.contains("\\Deleted")
    }
}

/// The selected folder.
#[derive(Debug)]
pub struct Folder {
    pub store: Store,
    pub uids: Arc<Uids>,
    pub read_only: bool,
    /// The tag of a virtual folder: the messages carrying it. `None` for INBOX (all).
    pub tag: Option<String>,
    /// In sequence order, UIDs ascending.
    pub entries: Vec<Entry>,
    pending: Vec<Event>,
    /// Flag changes other sessions made, not told yet.
    flag_changes: Vec<FlagChange>,
    resync: bool,
}

impl Folder {
    /// Opens the folder from the store as it is now.
    pub fn open(store: Store, uids: Arc<Uids>, read_only: bool, tag: Option<String>) -> Folder {
        let mut folder = Folder {
            store,
            uids,
            read_only,
            tag,
            entries: Vec::new(),
            pending: Vec::new(),
            flag_changes: Vec::new(),
            resync: false,
        };
        folder.entries = folder.current();
        folder
    }

    /// The store's messages now, oldest first, with UIDs given to any new ones in that order.
    fn current(&self) -> Vec<Entry> {
        let snapshot = self.store.snapshot();
        let mut messages: Vec<Arc<StoredMessage>> = snapshot
            .messages()
            .iter()
            .filter(|m| self.holds(m))
            .cloned()
            .collect();
        messages.reverse();
        let uids = self.uids.assign_all(messages.iter().map(|m| m.id));
        let present: HashSet<Uuid> = messages.iter().map(|m| m.id).collect();
        self.uids.keep_flags_of(&present);
        let mut entries: Vec<Entry> = messages
            .into_iter()
            .zip(uids)
            .map(|(message, uid)| Entry {
                uid,
                seen: message.is_read(),
                flags: self.uids.flags_of(&message.id),
                message,
            })
            .collect();
        entries.sort_by_key(|e| e.uid);
        entries
    }

    /// True when the message belongs in this folder.
    fn holds(&self, message: &StoredMessage) -> bool {
        match &self.tag {
            None => true,
            Some(tag) => message.tags().iter().any(|t| t == tag),
        }
    }

    pub fn exists(&self) -> u32 {
        self.entries.len() as u32
    }

    pub fn unseen(&self) -> u32 {
        self.entries.iter().filter(|e| !e.seen).count() as u32
    }

    /// The position (0-based) of the message with this UID.
    pub fn position_of_uid(&self, uid: u32) -> Option<usize> {
        self.entries.binary_search_by_key(&uid, |e| e.uid).ok()
    }

    fn position_of_id(&self, id: &Uuid) -> Option<usize> {
        let by_uid = self
            .uids
            .get(id)
            .and_then(|uid| self.position_of_uid(uid))
            .filter(|&i| self.entries[i].message.id == *id);
        // Another session may have forgotten the UID already (the message left a tag folder).
        by_uid.or_else(|| self.entries.iter().position(|e| e.message.id == *id))
    }

    /// The highest UID in the folder, 0 when empty.
    pub fn last_uid(&self) -> u32 {
        self.entries.last().map_or(0, |e| e.uid)
    }

    /// Queues a store change for the next flush.
    pub fn event(&mut self, event: Event) {
        if self.resync {
            return;
        }
        // In a tag folder a tag change is an arrival or a removal.
        let event = match (&self.tag, event) {
            (None, Event::Tags { .. }) => return,
            (Some(_), Event::New(message)) if !self.holds(&message) => return,
            (Some(tag), Event::Tags { id, tags }) => {
                if tags.iter().any(|t| t == tag) {
                    match self.store.get(&id) {
                        Some(message) => Event::New(message),
                        None => return,
                    }
                } else {
                    Event::Deleted(id)
                }
            }
            (_, event) => event,
        };
        if self.pending.len() >= MAX_PENDING {
            self.lagged();
            return;
        }
        self.pending.push(event);
    }

    /// Queues another session's flag change for the next flush.
    pub fn flag_change(&mut self, change: FlagChange) {
        if change.map == self.uids.address() && self.flag_changes.len() < MAX_PENDING {
            self.flag_changes.push(change);
        }
    }

    /// Flag changes were lost: every message's flags are read again at the next flush.
    pub fn flags_lagged(&mut self) {
        self.flag_changes = self
            .entries
            .iter()
            .map(|e| FlagChange {
                map: self.uids.address(),
                id: e.message.id,
                flags: self.uids.flags_of(&e.message.id),
            })
            .collect();
    }

    /// Tells the flag changes of other sessions: FETCH (FLAGS …) for each message whose flags
    /// differ from what the client was told (its own changes do not).
    fn flush_flags(&mut self, told: &mut usize, out: &mut Vec<u8>) {
        for change in std::mem::take(&mut self.flag_changes) {
            if let Some(i) = self.position_of_id(&change.id)
                && self.entries[i].flags != change.flags
            {
                self.entries[i].flags = change.flags;
                self.announce(told, out);
                let line = format!("{} FETCH (FLAGS {})", i + 1, self.entries[i].flag_list());
                wire::untagged(out, &line);
            }
        }
    }

    /// Events were lost: the next flush compares with a snapshot.
    pub fn lagged(&mut self) {
        self.pending.clear();
        self.resync = true;
    }

    /// Tells the client what changed. Removals wait (stay queued) unless `expunge` is allowed.
    pub fn flush(&mut self, expunge: bool, out: &mut Vec<u8>) {
        let mut told = self.entries.len();
        if self.resync && expunge {
            self.resync = false;
            self.resync_from_snapshot(&mut told, out);
        } else if self.resync {
            // Without EXPUNGE only additions and flags may be told; the rest waits.
            self.add_new_from_snapshot(&mut told, out);
        } else {
            let pending = std::mem::take(&mut self.pending);
            let mut kept = Vec::new();
            for event in pending {
                match event {
                    Event::New(message) => {
                        if self.position_of_id(&message.id).is_none() {
                            let uid = self.uids.assign(message.id);
                            if uid > self.last_uid() {
                                self.entries.push(Entry {
                                    uid,
                                    seen: message.is_read(),
                                    flags: self.uids.flags_of(&message.id),
                                    message,
                                });
                            } else {
                                // Only if UIDs were given out of arrival order (they are given in
                                // store order everywhere): a lower UID cannot join the numbering
                                // without breaking it, so the message shows at the next SELECT.
                                tracing::warn!(
                                    uid,
                                    "IMAP: a new message's UID is below the folder's last"
                                );
                            }
                        }
                    }
                    Event::Read { id, read } => {
                        if let Some(i) = self.position_of_id(&id)
                            && self.entries[i].seen != read
                        {
                            self.entries[i].seen = read;
                            self.announce(&mut told, out);
                            let line =
                                format!("{} FETCH (FLAGS {})", i + 1, self.entries[i].flag_list());
                            wire::untagged(out, &line);
                        }
                    }
                    Event::Deleted(id) if expunge => {
                        if let Some(i) = self.position_of_id(&id) {
                            self.announce(&mut told, out);
                            self.entries.remove(i);
                            if self.tag.is_some() {
                                self.uids.forget(&id);
                            }
                            told -= 1;
                            wire::untagged(out, &format!("{} EXPUNGE", i + 1));
                        }
                    }
                    Event::Cleared if expunge => {
                        self.announce(&mut told, out);
                        for _ in 0..self.entries.len() {
                            wire::untagged(out, "1 EXPUNGE");
                        }
                        self.entries.clear();
                        told = 0;
                    }
                    event @ (Event::Deleted(_) | Event::Cleared) => kept.push(event),
                    Event::Tags { .. } => {}
                }
            }
            self.pending = kept;
        }
        self.flush_flags(&mut told, out);
        if told != self.entries.len() {
            wire::untagged(out, &format!("{} EXISTS", self.entries.len()));
        }
    }

    /// Says EXISTS before a line that may name a message the client was not told of yet.
    fn announce(&self, told: &mut usize, out: &mut Vec<u8>) {
        if *told != self.entries.len() {
            wire::untagged(out, &format!("{} EXISTS", self.entries.len()));
            *told = self.entries.len();
        }
    }

    fn resync_from_snapshot(&mut self, told: &mut usize, out: &mut Vec<u8>) {
        let now = self.current();
        let present: HashSet<Uuid> = now.iter().map(|e| e.message.id).collect();
        let mut i = 0;
        while i < self.entries.len() {
            if present.contains(&self.entries[i].message.id) {
                i += 1;
            } else {
                let gone = self.entries.remove(i);
                if self.tag.is_some() {
                    self.uids.forget(&gone.message.id);
                }
                *told -= 1;
                wire::untagged(out, &format!("{} EXPUNGE", i + 1));
            }
        }
        self.merge(now, told, out);
    }

    fn add_new_from_snapshot(&mut self, told: &mut usize, out: &mut Vec<u8>) {
        let now = self.current();
        self.merge(now, told, out);
    }

    /// Flag changes and additions from `now`.
    fn merge(&mut self, now: Vec<Entry>, told: &mut usize, out: &mut Vec<u8>) {
        let last = self.last_uid();
        for entry in now {
            if let Some(i) = self.position_of_uid(entry.uid) {
                if self.entries[i].seen != entry.seen {
                    self.entries[i].seen = entry.seen;
                    let line = format!("{} FETCH (FLAGS {})", i + 1, self.entries[i].flag_list());
                    wire::untagged(out, &line);
                }
            } else if entry.uid > last {
                self.entries.push(entry);
            }
        }
        let _ = told;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;

    fn text(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    #[tokio::test]
    async fn changes_are_told_in_order_and_removals_wait() {
        let store = Store::new(Default::default());
        let a = store
            .receive(Envelope::default(), b"Subject: a\r\n\r\na".to_vec())
            .await
            .unwrap();
        let mut folder = Folder::open(store.clone(), Arc::new(Uids::new(1)), false, None);
        let mut events = store.subscribe();
        let b = store
            .receive(Envelope::default(), b"Subject: b\r\n\r\nb".to_vec())
            .await
            .unwrap();
        store.set_read(vec![b.id], true).await;
        store.delete(vec![a.id]).await;
        while let Ok(event) = events.try_recv() {
            folder.event(event);
        }
        let mut out = Vec::new();
        folder.flush(false, &mut out);
        // b is new to the client and already read: EXISTS says it, its FLAGS will be \Seen.
        assert_eq!(text(&out), "* 2 EXISTS\r\n");
        assert!(folder.entries[1].seen);
        out.clear();
        folder.flush(true, &mut out);
        assert_eq!(text(&out), "* 1 EXPUNGE\r\n");
        assert_eq!(folder.entries.len(), 1);
        assert_eq!(folder.entries[0].uid, 2);
    }

    #[tokio::test]
    async fn a_lagged_folder_resyncs_from_a_snapshot() {
        let store = Store::new(Default::default());
        let a = store
            .receive(Envelope::default(), b"a".to_vec())
            .await
            .unwrap();
        let mut folder = Folder::open(store.clone(), Arc::new(Uids::new(1)), false, None);
        store.delete(vec![a.id]).await;
        store
            .receive(Envelope::default(), b"b".to_vec())
            .await
            .unwrap();
        folder.lagged();
        let mut out = Vec::new();
        folder.flush(true, &mut out);
        assert_eq!(text(&out), "* 1 EXPUNGE\r\n* 1 EXISTS\r\n");
        assert_eq!(folder.entries[0].uid, 2);
    }
}
